"""Retention (issue #17, item 3): times to live per kind, applied by `Persona.sweep`, on open and in the service,
erasing as `delete` erases, on both engines."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from _governance import MOCK, T0, Clock, text_anywhere
from typer.testing import CliRunner

from persona import InvalidInputError, NotFoundError, Persona, RetentionPolicy, StoreError, SweepResult
from persona.cli import app
from persona.governance import format_duration, parse_duration
from persona.testing import FakeEmbedder


def _open(location: str, clock: Clock, **options: object) -> Persona:
    return Persona(location, embedder=FakeEmbedder(), clock=clock, **options)  # type: ignore[arg-type]


def test_policies_are_parsed_and_checked() -> None:
    policy = RetentionPolicy.of("episode=365d, reply=30d,disclosure=2w")
    assert policy.ttl == {"episode": timedelta(days=365), "reply": timedelta(days=30), "disclosure": timedelta(weeks=2)}
    assert policy.to_dict() == {"episode": "365d", "reply": "30d", "disclosure": "2w"}
    assert RetentionPolicy.of({"fact": timedelta(hours=12)}).to_dict() == {"fact": "12h"}
    assert not RetentionPolicy.of(None) and RetentionPolicy.of(policy) is policy
    assert parse_duration("90m") == timedelta(minutes=90) and parse_duration("forever", allow_forever=True) is None
    assert format_duration(timedelta(seconds=90)) == "90s" and format_duration(None) == "forever"
    for bad, why in (
        ({"memo": timedelta(days=1)}, "unknown kind"),
        ({"episode": timedelta(0)}, "longer than zero"),
        ({"episode": 30}, "timedelta or a duration"),
        ({"episode": None}, "timedelta or a duration"),  # the store's policy has no "forever": leave it out
        ("episode", "KIND=DURATION"),
        ("episode=soon", "a number and a unit"),
        ("episode=0d", "longer than zero"),
        (["episode"], "dict of kind"),
    ):
        with pytest.raises(InvalidInputError, match=why):
            RetentionPolicy.of(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="longer than zero"):
        Persona(retention={"reply": timedelta(days=-1)})
    with pytest.raises(InvalidInputError, match="sweep_on_open"):
        Persona(sweep_on_open="no")  # type: ignore[arg-type]


def test_a_sweep_erases_what_expired_and_keeps_the_rest(location: str) -> None:
    clock = Clock()
    policy = {"episode": timedelta(days=30), "fact": timedelta(days=365)}
    with _open(location, clock, retention=policy) as p:
        old = p.add("alice", "an old episode about the harbour", kind="episode", created_at=T0 - timedelta(days=31))
        young = p.add("alice", "a young episode about the market", kind="episode", created_at=T0 - timedelta(days=29))
        fact = p.add("alice", "I live in Lisbon", kind="fact", created_at=T0 - timedelta(days=200))
        pref = p.add("bob", "I prefer tea", kind="preference", created_at=T0 - timedelta(days=5000))
        other = p.add("bob", "a long gone episode", kind="episode", created_at=T0 - timedelta(days=400))
        dry = p.sweep(dry_run=True)
        assert isinstance(dry, SweepResult) and dry.dry_run
        assert dry.erased == {"alice": {"episode": 1}, "bob": {"episode": 1}} and dry.total == 2
        assert p.count() == 5  # a dry run erases nothing
        done = p.sweep()
        assert not done.dry_run and done.erased == dry.erased and done.by_kind() == {"episode": 2}
        assert done.at == T0 and done.seconds >= 0
        assert {m.id for m in p.list("alice")} == {young.id, fact.id}
        assert {m.id for m in p.list("bob")} == {pref.id}  # preferences have no time to live here
        for gone in (old, other):
            with pytest.raises(NotFoundError):
                p.get(gone.id)
            assert [e.event for e in p.history(gone.id)] == ["ADD", "EXPIRE"]
            assert all(e.text is None for e in p.history(gone.id))
        assert p.sweep().total == 0  # nothing left to erase
        clock.advance(days=2)
        assert p.sweep().erased == {"alice": {"episode": 1}}
        assert json.loads(json.dumps(done.to_dict()))["by_kind"] == {"episode": 2}


def test_a_swept_memory_leaves_no_trace(location: str) -> None:
    """As `delete`: not in the rows, the history, the index files, the snapshot or an in-memory index."""
    marker = "zanzibar-heron-4417"
    clock = Clock()
    with _open(location, clock, retention={"episode": timedelta(days=10)}) as p:
        p.add_many(
            "u",
            [{"text": f"ordinary note {i} about gardening", "kind": "episode", "created_at": T0} for i in range(300)],
        )
        secret = p.add("u", f"{marker} my secret diary line", kind="episode", created_at=T0 - timedelta(days=11))
        p.update(secret.id, text=f"{marker} my secret diary line, edited")
        assert p.search("u", marker, k=3)[0].memory.id == secret.id  # builds the index, its file and snapshot
        assert text_anywhere(location, marker)
        assert p.sweep().erased == {"u": {"episode": 1}}
        assert secret.id not in {h.memory.id for h in p.search("u", marker, k=300)}
        assert not text_anywhere(location, marker)
        assert p.check().stale_indexes == []
    with _open(location, clock) as p:  # another process's cold index: built without it
        assert secret.id not in {h.memory.id for h in p.search("u", marker, k=300)}
        assert len(p.search("u", "gardening", k=300)) == 300
    assert not text_anywhere(location, marker)


def test_the_sweep_runs_on_open(location: str) -> None:
    clock = Clock()
    with _open(location, clock) as p:
        p.add("u", "an episode from long ago", kind="episode", created_at=T0 - timedelta(days=100))
        p.add("u", "a fact from long ago", kind="fact", created_at=T0 - timedelta(days=100))
    with _open(location, clock, retention={"episode": timedelta(days=90)}, sweep_on_open=False) as p:
        assert p.count("u") == 2
        assert p.retention.ttl == {"episode": timedelta(days=90)}
    with _open(location, clock, retention="episode=90d") as p:
        assert [m.kind for m in p.list("u")] == ["fact"]


def test_replies_feedback_and_disclosures_expire(location: str) -> None:
    clock = Clock()
    with _open(location, clock, retention={"reply": timedelta(days=30), "disclosure": timedelta(days=7)}) as p:
        p.add("u", "I am allergic to peanuts")
        reply = p.chat("u", "what snack?", model=MOCK, mock_response="fruit")
        p.learning.wait("u")
        p.feedback(reply.id, 1.0, comment="a comment about walnuts")
        assert len(p.disclosures("u")) == 1
        clock.advance(days=8)
        assert p.sweep().erased == {"u": {"disclosure": 1}}
        assert p.disclosures("u") == [] and p.reply_user(reply.id) == "u"
        clock.advance(days=23)
        assert p.sweep().erased == {"u": {"reply": 1, "feedback": 1}}
        with pytest.raises(NotFoundError):
            p.reply_user(reply.id)
        assert p.count("u") == 3  # the memory and the turn's episodes have no time to live here
    assert not text_anywhere(location, "walnuts")


def test_a_users_own_retention_overrides_the_policy(location: str) -> None:
    clock = Clock()
    with _open(location, clock, retention={"episode": timedelta(days=365)}) as p:
        for user in ("short", "forever", "default"):
            p.add(user, f"an episode of {user} from 40 days ago", kind="episode", created_at=T0 - timedelta(days=40))
            p.add(user, f"a fact of {user} from 40 days ago", kind="fact", created_at=T0 - timedelta(days=40))
            p.add(user, f"an episode of {user} from 400 days ago", kind="episode", created_at=T0 - timedelta(days=400))
        p.set_consent("short", retention={"episode": timedelta(days=30), "fact": "30d"})
        p.set_consent("forever", retention={"episode": None})
        assert p.sweep(dry_run=True).erased == {"short": {"episode": 2, "fact": 1}, "default": {"episode": 1}}
        p.sweep()
        assert p.count("short") == 0 and p.count("forever") == 3 and p.count("default") == 2
    with _open(location, clock) as p:  # no store policy: the users' own still apply on open
        p.add("short", "a new fact", kind="fact", created_at=T0 - timedelta(days=31))
    with _open(location, clock) as p:
        assert p.count("short") == 0


def test_a_sweep_that_cannot_remove_index_files_erases_nothing(tmp_path: Path) -> None:
    clock = Clock()
    store = tmp_path / "store"
    with _open(str(store), clock) as p:
        p.add_many("u", [{"text": f"episode {i}", "kind": "episode", "created_at": T0 - timedelta(days=9)} for i in range(5)])
        p.search("u", "episode", k=2)
    index = store / "index"
    for f in index.iterdir():
        f.unlink()
    index.rmdir()
    index.write_text("not a directory")
    with _open(str(store), clock, retention={"episode": timedelta(days=1)}, sweep_on_open=False) as p:
        with pytest.raises(StoreError, match="not a directory"):
            p.sweep()
        assert p.count("u") == 5
    with pytest.raises(StoreError, match="not a directory"):
        _open(str(store), clock, retention={"episode": timedelta(days=1)})


def test_the_cli_shows_and_applies_the_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = str(tmp_path / "store")
    with Persona(store, embedder=FakeEmbedder()) as p:
        p.add("alice", "an episode from 2020", kind="episode", created_at="2020-01-01T00:00:00+00:00")
        p.add("alice", "a recent fact", kind="fact")
    runner = CliRunner()
    shown = runner.invoke(app, ["--store", store, "retention", "--keep", "episode=365d", "--json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.output)
    assert data["policy"] == {"episode": "365d"}
    assert data["sweep"]["dry_run"] and data["sweep"]["erased"] == {"alice": {"episode": 1}}
    table = runner.invoke(app, ["--store", store, "retention", "--keep", "episode=365d"])
    assert table.exit_code == 0 and "would erase" in table.output and "--apply" in table.output
    monkeypatch.setenv("PERSONA_RETENTION", "episode=365d")
    applied = runner.invoke(app, ["--store", store, "retention", "--apply", "--json"])
    assert json.loads(applied.output)["sweep"]["erased"] == {"alice": {"episode": 1}}
    with Persona(store) as p:
        assert [m.text for m in p.list("alice")] == ["a recent fact"]
    bad = runner.invoke(app, ["--store", store, "retention", "--keep", "episode"])
    assert bad.exit_code == 1 and "KIND=DURATION" in bad.output


def test_the_service_sweeps_on_a_schedule(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from _serving import running

    from persona.server import ServerConfig, create_app

    config = ServerConfig(store=str(tmp_path / "store"), retention="episode=1d", sweep_minutes=0.002)
    with pytest.raises(InvalidInputError, match="sweep_minutes"):
        ServerConfig(sweep_minutes=0).check()
    with pytest.raises(InvalidInputError, match="unknown kind"):
        ServerConfig(retention="memo=1d").check()
    app_ = create_app(config, embedder=FakeEmbedder())
    with running(app_):
        p = app_.state.persona_server.persona
        assert p.retention.to_dict() == {"episode": "1d"}
        p.add("u", "an old episode", kind="episode", created_at="2020-01-01T00:00:00+00:00")
        p.add("u", "a fact", kind="fact", created_at="2020-01-01T00:00:00+00:00")
        for _ in range(200):
            if p.count("u") == 1:
                break
            time.sleep(0.05)
        assert [m.kind for m in p.list("u")] == ["fact"]
    assert p._closed  # shutdown stopped the schedule and closed the store


def test_async_sweep(location: str) -> None:
    clock = Clock()
    with _open(location, clock, retention={"fact": timedelta(days=1)}, sweep_on_open=False) as p:
        p.add("u", "an old fact", created_at=T0 - timedelta(days=2))
        assert asyncio.run(p.asweep(dry_run=True)).total == 1
        assert asyncio.run(p.asweep()).erased == {"u": {"fact": 1}}


def test_a_users_own_retention_of_replies_and_disclosures(location: str) -> None:
    clock = Clock()
    with _open(location, clock) as p:
        for user in ("brief", "other"):
            p.add(user, "I am allergic to peanuts")
            p.chat(user, "what snack?", model=MOCK, mock_response="fruit")
            p.learning.wait(user)
        p.set_consent("brief", retention={"reply": "1d", "disclosure": "2d"})
        clock.advance(days=1, seconds=1)
        assert p.sweep().erased == {"brief": {"reply": 1}}
        clock.advance(days=1)
        assert p.sweep().erased == {"brief": {"disclosure": 1}}
        assert len(p.disclosures("other")) == 1 and p.disclosures("brief") == []
