"""Consent (issue #17, item 4): per-user learning and personalization flags and their own retention, stored,
exported, forgotten, shown in the CLI and honoured by prompt, chat, achat, streams and the service's proxy."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from _governance import MOCK, Clock
from typer.testing import CliRunner

from persona import Consent, InvalidInputError, NotFoundError, Persona, list_strategies
from persona.cli import app
from persona.testing import FakeEmbedder

HOSTILE = (
    "{#- persona\ndescription: Tries to print everything it can reach.\n"
    "sections: history=0.25 profile=0.25 retrieved=0.25 recent=0.25\n-#}\n"
    "ALL: {% for m in history %}{{ m.text }}|{% endfor %}{% for m in profile %}{{ m.text }}|{% endfor %}"
    "{% for m in retrieved %}{{ m.text }}|{% endfor %}{% for m in recent %}{{ m.text }}|{% endfor %}"
)


@pytest.fixture
def cp(location: str) -> Iterator[Persona]:
    with Persona(location, embedder=FakeEmbedder(), clock=Clock()) as p:
        p.add("alice", "I am allergic to peanuts")
        p.add("alice", "I prefer window seats", kind="preference")
        p.add("alice", "we talked about the peanut festival", kind="episode")
        yield p


def test_defaults_updates_and_validation(cp: Persona) -> None:
    assert cp.consent("alice") == Consent("alice") == Consent("alice", True, True, {}, None)
    c = cp.set_consent("alice", learning=False)
    assert (c.learning, c.personalization, c.retention) == (False, True, {}) and c.updated_at == cp.now()
    c = cp.set_consent("alice", personalization=False, retention={"episode": "30d", "fact": None})
    assert (c.learning, c.personalization) == (False, False)  # what was not passed stays
    assert c.retention == {"episode": timedelta(days=30), "fact": None}
    assert cp.consent("alice") == c
    assert cp.set_consent("alice", learning=True, retention={}).retention == {}
    assert cp.consent("nobody") == Consent("nobody")  # a user with nothing stored has the defaults
    for bad, why in (
        ({"learning": "no"}, "learning must be True, False or None"),
        ({"personalization": 1}, "personalization must be"),
        ({"retention": {"memo": "1d"}}, "unknown kind"),
        ({"retention": {"episode": "0d"}}, "longer than zero"),
        ({"retention": ["episode"]}, "dict of kind"),
    ):
        with pytest.raises(InvalidInputError, match=why):
            cp.set_consent("alice", **bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="user_id"):
        cp.consent("")


def test_learning_off_stores_nothing_from_chat(cp: Persona) -> None:
    cp.set_consent("alice", learning=False)
    before = cp.export_user("alice")["memories"]
    reply = cp.chat("alice", "I moved to Lisbon last month", model=MOCK, mock_response="nice")
    assert reply.learned is False and reply.memory_ids  # still personalized
    stream = cp.chat("alice", "I now live in Porto", model=MOCK, mock_response="ok", stream=True)
    assert "".join(stream) == "ok" and stream.reply is not None and stream.reply.learned is False
    areply = asyncio.run(cp.achat("alice", "I bought a cat", model=MOCK, mock_response="meow"))
    assert areply.learned is False
    cp.learning.wait("alice")
    assert cp.export_user("alice")["memories"] == before
    with pytest.raises(NotFoundError):
        cp.feedback(reply.id, 1.0)
    cp.set_consent("alice", learning=True)
    assert cp.chat("alice", "I moved to Lisbon last month", model=MOCK, mock_response="nice").learned
    cp.learning.wait("alice")
    assert "I moved to Lisbon last month" in [m.text for m in cp.list("alice")]


def test_personalization_off_keeps_every_memory_out_of_every_prompt(cp: Persona, tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "hostile.j2").write_text(HOSTILE, "utf-8")
    hostile = str(folder / "hostile.j2")
    on = cp.prompt("alice", "what about peanuts?", strategy=hostile, model=MOCK)
    assert "allergic to peanuts" in on.system and "window seats" in on.system  # the template does reach them
    cp.set_consent("alice", personalization=False)
    for strategy in [*list_strategies(), hostile]:
        r = cp.prompt("alice", "what about peanuts? window?", strategy=strategy, model=MOCK)
        assert r.memory_ids == [] and not any(r.left_out.values()), strategy
        for text in ("allergic to peanuts", "window seats", "peanut festival"):
            assert text not in " ".join(m["content"] for m in r.messages), (strategy, text)
    reply = cp.chat("alice", "what about peanuts?", model=MOCK, mock_response="ok")
    assert reply.memory_ids == [] and "allergic" not in reply.prompt.system
    stream = cp.chat("alice", "peanuts?", model=MOCK, mock_response="ok", stream=True)
    assert stream.prompt is not None and stream.prompt.memory_ids == []
    "".join(stream)
    areply = asyncio.run(cp.achat("alice", "peanuts?", model=MOCK, mock_response="ok"))
    assert areply.memory_ids == []
    assert asyncio.run(cp.aprompt("alice", "peanuts?", model=MOCK)).memory_ids == []
    assert [d.reply_id for d in cp.disclosures("alice")] == [None]  # only the prompt made before turning it off
    cp.learning.wait("alice")
    assert cp.search("alice", "peanuts", k=3)  # the memories are kept, only kept out of prompts
    assert cp.prompt("bob", "hi", model=MOCK).memory_ids == []  # other users: their own consent (none yet)


def test_consent_is_exported_imported_and_forgotten(cp: Persona, location: str) -> None:
    cp.set_consent("alice", learning=False, retention={"episode": timedelta(days=30)})
    data = cp.export_user("alice")
    assert data["consent"]["learning"] is False and data["consent"]["retention"] == {"episode": "30d"}
    json.dumps(data)
    assert cp.forget_user("alice") == 3
    assert cp.consent("alice") == Consent("alice")
    cp.import_user(data)
    assert cp.consent("alice") == Consent.from_dict(data["consent"], "alice")
    assert cp.consent("alice").learning is False and cp.export_user("alice") == data
    forged = {**data, "consent": {**data["consent"], "user_id": "mallory"}}
    with pytest.raises(InvalidInputError, match="belongs to 'mallory'"):
        cp.import_user(forged)
    with pytest.raises(InvalidInputError, match="learning"):
        cp.import_user({**data, "consent": {"learning": "off"}})
    old = {k: v for k, v in data.items() if k not in ("consent", "disclosures")}  # an export from before #17
    cp.forget_user("alice")
    assert len(cp.import_user(old)) == 3 and cp.consent("alice") == Consent("alice")


def test_the_cli_shows_and_sets_consent(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    runner = CliRunner()
    base = ["--store", store]
    shown = runner.invoke(app, [*base, "consent", "alice", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output) == Consent("alice").to_dict()
    set_ = runner.invoke(app, [*base, "consent", "alice", "--learning", "off", "--keep", "episode=30d", "--json"])
    data = json.loads(set_.output)
    assert data["learning"] is False and data["personalization"] is True and data["retention"] == {"episode": "30d"}
    table = runner.invoke(app, [*base, "consent", "alice", "--personalization", "off"])
    assert table.exit_code == 0 and "off" in table.output and "episode 30d" in table.output
    with Persona(store) as p:
        assert p.consent("alice").personalization is False and p.consent("alice").learning is False
    bad = runner.invoke(app, [*base, "consent", "alice", "--learning", "maybe"])
    assert bad.exit_code != 0 and "on or off" in bad.output


def test_async_twins(cp: Persona) -> None:
    async def main() -> None:
        c = await cp.aset_consent("alice", personalization=False)
        assert c.personalization is False and await cp.aconsent("alice") == c

    asyncio.run(main())


def test_the_proxy_honours_consent(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    openai = pytest.importorskip("openai")
    from _serving import running, upstream

    from persona.server import ServerConfig, create_app

    with upstream() as up:
        config = ServerConfig(store=str(tmp_path / "store"), model="fake-model", api_base=up.url)
        app_ = create_app(config, embedder=FakeEmbedder())
        with running(app_) as url:
            p = app_.state.persona_server.persona
            p.add("alice", "I am allergic to peanuts")
            sdk = openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0, timeout=30)
            ask = [{"role": "user", "content": "What snack should I buy? I moved to Lisbon"}]
            sdk.chat.completions.create(model="fake-model", user="alice", messages=ask)
            assert "peanuts" in up.requests[-1]["messages"][0]["content"]
            p.learning.wait("alice")
            count = p.count("alice")
            p.set_consent("alice", personalization=False, learning=False)
            sdk.chat.completions.create(model="fake-model", user="alice", messages=ask)
            assert "peanuts" not in json.dumps(up.requests[-1]["messages"])
            p.learning.wait("alice")
            assert p.count("alice") == count
