"""Sensitivity labels and their routing (issue #17): labelled memories never reach a model the policy keeps
them from, whatever the strategy or template, on both store engines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from persona import InvalidInputError, Persona
from persona.cli import app
from persona.pii import SensitivityPolicy
from persona.prompting import build_prompt
from persona.testing import FakeEmbedder

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
UNTRUSTED = "gpt-4o"  # tiktoken: exact and offline
TRUSTED = "gpt-4o-mini"  # marked trusted below
LOCAL = "local/smollm2"
BUILT_INS = ["none", "recent", "retrieved", "profile", "hybrid", "full"]

HOSTILE = """{#- persona
description: Tries to print everything it can reach.
sections: profile=0.25 retrieved=0.25 recent=0.25 history=0.25
k: 50
profile_limit: 500
recent_turns: 500
-#}
{{ now }} {{ user_id }} {{ message }}
{% for section in [profile, retrieved, recent, history] %}{% for m in section %}
{{ m.id }} {{ m.kind }} {{ m.text }} {{ m.role }} {{ m.date }} {{ m.importance }} {{ m.score }}
{% endfor %}{% endfor %}
"""


def _memories(p: Persona) -> dict[str, str]:
    """One memory of each kind and label for user u: marker word -> label."""
    labels = ["normal", "personal", "health", "financial", "secret", "legal", "vault"]
    made: dict[str, str] = {}
    for i, label in enumerate(labels):
        for kind in ("fact", "preference", "episode", "profile"):
            marker = f"zq{label}{kind}x"
            text = f"I prefer {marker} food and advice about dinner {i}"  # states a preference: every section
            meta = {"role": "user"} if kind == "episode" else None
            p.add("u", text, kind=kind, sensitivity=label, metadata=meta, created_at=T0 + timedelta(hours=i))
            made[marker] = label
    return made


@pytest.fixture
def labelled(tmp_path: Path) -> Iterator[tuple[Persona, dict[str, str]]]:
    with Persona(
        tmp_path / "s",
        embedder=FakeEmbedder(),
        clock=lambda: T0 + timedelta(days=3),
        trusted_models=[TRUSTED],
        sensitivity_rules={"legal": "local", "vault": "never"},
    ) as p:
        yield p, _memories(p)


def _visible(system: str, markers: dict[str, str]) -> set[str]:
    return {label for marker, label in markers.items() if marker in system}


@pytest.mark.parametrize("strategy", [*BUILT_INS, "hostile"])
def test_no_strategy_or_template_shows_a_model_what_it_may_not_see(
    labelled: tuple[Persona, dict[str, str]], strategy: str, tmp_path: Path
) -> None:
    p, markers = labelled
    hostile = tmp_path / "hostile.j2"
    hostile.write_text(HOSTILE, encoding="utf-8")
    name = str(hostile) if strategy == "hostile" else strategy
    message = "Any advice on what I should eat for dinner? zqhealthfactx zqsecretepisodex"
    expected = {
        UNTRUSTED: {"normal", "personal"},
        TRUSTED: {"normal", "personal", "health", "financial", "secret"},
        LOCAL: {"normal", "personal", "health", "financial", "secret", "legal"},
    }
    for model, allowed in expected.items():
        r = p.prompt("u", message, strategy=name, model=model, max_prompt_tokens=6000)
        system = r.system.replace(message, "")  # the hostile template echoes the user's own message
        assert _visible(system, markers) <= allowed, (model, strategy)
        shown = {p.get(i).sensitivity for i in r.memory_ids}
        assert shown <= allowed
        if strategy in ("hostile", "full"):  # these reach every memory the model may see
            assert _visible(system, markers) == allowed, (model, strategy)
        withheld = {key.split(":", 1)[1] for key in r.left_out if key.startswith("sensitivity:")}
        assert withheld == (set() if strategy == "none" else set(markers.values()) - allowed)  # none reads none
        assert set(r.withheld) == withheld
        for label in withheld:
            ids = r.left_out[f"sensitivity:{label}"]
            assert len(ids) == 4 and not set(ids) & set(r.memory_ids)
            assert r.withheld[label].startswith(f"{label}: ") and (label == "vault" or model in r.withheld[label])


def test_the_vault_rule_keeps_memories_from_every_model(labelled: tuple[Persona, dict[str, str]]) -> None:
    p, _markers = labelled
    r = p.prompt("u", "dinner advice?", strategy="full", model=LOCAL)
    assert "zqvault" not in r.system and "never" in r.withheld["vault"]


def test_chat_uses_the_same_routing(labelled: tuple[Persona, dict[str, str]]) -> None:
    p, markers = labelled
    reply = p.chat("u", "Any dinner advice for me?", model=UNTRUSTED, strategy="full", mock_response="Soup.")
    sent = " ".join(m["content"] for m in reply.prompt.messages)
    assert _visible(sent, markers) == {"normal", "personal"}
    assert {p.get(i).sensitivity for i in reply.memory_ids} <= {"normal", "personal"}
    p.learning.wait("u")


def test_the_default_model_is_the_target_when_none_is_given(tmp_path: Path) -> None:
    with Persona(tmp_path / "s", embedder=FakeEmbedder(), model=UNTRUSTED) as p:
        p.add("u", "I have asthma", sensitivity="health")
        p.add("u", "I like tea")
        r = p.prompt("u", "what do you know?", strategy="full")
        assert r.model == UNTRUSTED and "asthma" not in r.system and "tea" in r.system


def test_a_prompt_cannot_be_built_from_memories_routed_for_another_model(
    labelled: tuple[Persona, dict[str, str]],
) -> None:
    p, _markers = labelled
    with pytest.raises(InvalidInputError, match="routed for model 'local/smollm2', not 'gpt-4o'"):
        build_prompt(p._memories.for_model(LOCAL), "u", "hi", model=UNTRUSTED)
    with pytest.raises(InvalidInputError, match="routed for model None"):
        build_prompt(p, "u", "hi", model=UNTRUSTED)  # type: ignore[arg-type]


def test_a_memory_labelled_after_the_labels_were_read_is_still_left_out(tmp_path: Path) -> None:
    with Persona(tmp_path / "s", embedder=FakeEmbedder()) as p:
        m = p.add("u", "I take insulin every morning")
        view = p._memories.for_model(UNTRUSTED)
        assert [x.id for x in view.list("u")] == [m.id]  # read the labels: none yet
        p.update(m.id, sensitivity="health")
        assert view.list("u") == [] and view.search("u", "insulin", k=3) == []
        assert view.withheld() == {"health": [m.id]}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    labels=st.lists(
        st.sampled_from(["normal", "personal", "health", "financial", "secret", "legal"]), min_size=6, max_size=6
    ),
    strategy=st.sampled_from([*BUILT_INS, "hostile"]),
    model=st.sampled_from([UNTRUSTED, "gpt-4o-2024-08-06", TRUSTED, LOCAL]),
    message=st.sampled_from(["dinner advice?", "what do I take zqm0x zqm3x", "tell me everything", "hi"]),
)
def test_property_no_sensitive_memory_reaches_an_untrusted_model(
    shared: tuple[Persona, list[str], Path], labels: list[str], strategy: str, model: str, message: str
) -> None:
    p, ids, hostile = shared
    for memory_id, label in zip(ids, labels, strict=True):
        p.update(memory_id, sensitivity=label)
    name = str(hostile) if strategy == "hostile" else strategy
    r = p.prompt("u", message, strategy=name, model=model)
    policy = p.sensitivity_policy
    sent = " ".join(m["content"] for m in r.messages[:-1])
    for i, (memory_id, label) in enumerate(zip(ids, labels, strict=True)):
        if not policy.allows(label, model):
            # the memory's own words ("take zqm3x pills"), not its token: the message may name the token itself
            assert f"take zqm{i}x pills" not in sent and memory_id not in r.memory_ids
            assert strategy == "none" or memory_id in r.left_out[f"sensitivity:{label}"]
    if model == UNTRUSTED:
        assert not {p.get(i).sensitivity for i in r.memory_ids} & {"health", "financial", "secret", "legal"}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Persona, list[str], Path]]:
    root = tmp_path_factory.mktemp("prop")
    hostile = root / "hostile.j2"
    hostile.write_text(HOSTILE, encoding="utf-8")
    with Persona(
        root / "s", embedder=FakeEmbedder(), trusted_models=[TRUSTED], sensitivity_rules={"legal": "local"}
    ) as p:
        kinds = ["fact", "preference", "episode", "profile", "episode", "fact"]
        ids = [
            p.add("u", f"I prefer zqm{i}x and I take zqm{i}x pills", kind=k, created_at=T0 + timedelta(hours=i)).id
            for i, k in enumerate(kinds)
        ]
        yield p, ids, hostile


# -- the label itself ----------------------------------------------------------------------------------------


def test_labels_are_stored_filtered_exported_and_imported(location: str, tmp_path: Path) -> None:
    with Persona(location, embedder=FakeEmbedder(), sensitivity_rules={"legal": "trusted"}) as p:
        a = p.add("u", "I see a therapist on Fridays", sensitivity="health")
        b, c = p.add_many(
            "u", [{"text": "My salary is confidential", "sensitivity": "financial"}, "I like jazz"]
        )
        d = p.add("u", "My lawyer is Ms Berg", sensitivity="legal")
        assert (a.sensitivity, b.sensitivity, c.sensitivity, d.sensitivity) == ("health", "financial", "normal", "legal")
        assert p.get(a.id).sensitivity == "health" and p.get(a.id).to_dict()["sensitivity"] == "health"
        assert {m.id for m in p.list("u", sensitivity="health")} == {a.id}
        assert {m.id for m in p.list("u", sensitivity=["health", "normal"])} == {a.id, c.id}
        assert {h.memory.id for h in p.search("u", "therapist salary jazz lawyer", k=10, sensitivity="financial")} == {b.id}
        assert {h.memory.id for h in p.search("u", "therapist salary jazz", k=10, sensitivity=["normal"])} == {c.id}
        updated = p.update(c.id, sensitivity="personal")
        assert updated.sensitivity == "personal" and p.get(c.id).sensitivity == "personal"
        assert p.list("u", sensitivity="normal") == []
        data = p.export_user("u")
        assert {m["id"]: m["sensitivity"] for m in data["memories"]}[a.id] == "health"
        p.forget_user("u")
        p.import_user(data)
        assert {m.id: m.sensitivity for m in p.list("u")} == {
            a.id: "health", b.id: "financial", c.id: "personal", d.id: "legal"
        }


def test_unknown_or_malformed_labels_are_refused(p: Persona) -> None:
    with pytest.raises(InvalidInputError, match=r"'medical' is not a known label.*sensitivity_rules"):
        p.add("u", "x y z", sensitivity="medical")
    with pytest.raises(InvalidInputError, match="item 1: sensitivity"):
        p.add_many("u", ["fine", {"text": "bad", "sensitivity": "Health!"}])
    assert p.count("u") == 0
    m = p.add("u", "I like tea")
    with pytest.raises(InvalidInputError, match="not a known label"):
        p.update(m.id, sensitivity="medical")
    with pytest.raises(InvalidInputError, match="not a known label"):
        p.list("u", sensitivity="medical")
    with pytest.raises(InvalidInputError, match="non-empty list"):
        p.search("u", "tea", sensitivity=[])


def test_the_policy_validates_its_rules_and_models() -> None:
    with pytest.raises(InvalidInputError, match="must be one of any, trusted, local, never"):
        SensitivityPolicy(rules={"health": "sometimes"})
    with pytest.raises(InvalidInputError, match="'normal' memories go to every model"):
        SensitivityPolicy(rules={"normal": "trusted"})
    with pytest.raises(InvalidInputError, match="trusted_models must be a list"):
        SensitivityPolicy(trusted_models="gpt-4o")  # type: ignore[arg-type]
    policy = SensitivityPolicy(rules={"personal": "trusted"}, trusted_models=["azure/*"])
    assert policy.allows("health", "azure/gpt-4o") and not policy.allows("health", "openai/gpt-4o")
    assert policy.allows("personal", "local/smollm2") and not policy.allows("personal", "gpt-4o")
    assert not policy.allows("made-up", "gpt-4o") and policy.allows("made-up", "local/x")  # unknown: trusted
    assert policy.blocked("gpt-4o") == {"personal", "health", "financial", "secret"}


def test_the_cli_sets_and_shows_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONA_EMBEDDER", "fake")
    store = str(tmp_path / "cli")
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, ["--store", store, *args], prog_name="persona")
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return result.stdout

    added = json.loads(run("add", "alice", "I have a peanut allergy", "--sensitivity", "health", "--json"))
    assert added["sensitivity"] == "health"
    run("add", "alice", "I like jazz")
    table = run("list", "alice")
    assert "sensitivity=health" in table and table.count("sensitivity=") == 1
    only = json.loads(run("list", "alice", "--sensitivity", "health", "--json"))
    assert [m["id"] for m in only] == [added["id"]]
    assert "health" in run("show", added["id"])
    edited = json.loads(run("edit", added["id"], "--sensitivity", "secret", "--json"))
    assert edited["sensitivity"] == "secret"
    bad = runner.invoke(app, ["--store", store, "add", "alice", "x", "--sensitivity", "nope"], prog_name="persona")
    assert bad.exit_code == 1 and "not a known label" in bad.stderr
