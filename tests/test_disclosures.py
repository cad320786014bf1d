"""The disclosure log (issue #17, item 5): every prompt that carries memories records which memory ids went to
which model and provider, when, for which reply; listed, exported, imported, forgotten, on both engines."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from _governance import MOCK, T0, Clock
from typer.testing import CliRunner

from persona import Disclosure, InvalidInputError, Persona, StoreError
from persona.backends.providers import provider_of
from persona.cli import app
from persona.testing import FakeEmbedder


@pytest.fixture
def dp(location: str) -> Iterator[Persona]:
    with Persona(location, embedder=FakeEmbedder(), clock=Clock()) as p:
        p.add("alice", "I am allergic to peanuts")
        p.add("alice", "I prefer window seats", kind="preference")
        p.add("bob", "I collect typewriters")
        yield p


def test_a_prompt_records_what_it_carries(dp: Persona) -> None:
    r = dp.prompt("alice", "what snack?", model=MOCK)
    assert r.memory_ids
    assert dp.disclosures("alice") == [Disclosure("alice", T0, MOCK, "openai", r.memory_ids, None)]
    assert dp.disclosures("bob") == []  # only the user whose memories went
    assert dp.prompt("carol", "hi", model=MOCK).memory_ids == []
    assert dp.disclosures("carol") == []  # a prompt that carries no memory is not a disclosure
    other = dp.prompt("alice", "seats?", model="anthropic/claude-3-5-haiku-latest", strategy="profile")
    first = dp.disclosures("alice")[0]
    assert (first.model, first.provider, first.memory_ids) == (other.model, "anthropic", other.memory_ids)


def test_chat_records_the_reply_it_was_for(dp: Persona) -> None:
    clock = dp._memories._clock
    assert isinstance(clock, Clock)
    reply = dp.chat("alice", "what snack?", model=MOCK, mock_response="fruit")
    clock.advance(minutes=1)
    stream = dp.chat("alice", "what snack?", model=MOCK, mock_response="fruit", stream=True)
    clock.advance(minutes=1)
    unread = dp.chat("alice", "what snack?", model=MOCK, mock_response="x", stream=True)
    unread.close()  # never read: the prompt was sent all the same
    clock.advance(minutes=1)
    areply = asyncio.run(dp.achat("alice", "what snack?", model=MOCK, mock_response="fruit", learn=False))
    "".join(stream)
    assert stream.reply is not None
    found = dp.disclosures("alice")
    assert found[0].reply_id == areply.id
    assert [d.reply_id for d in found][2:] == [stream.reply.id, reply.id]
    assert found[1].reply_id is not None and found[1].reply_id not in (reply.id, stream.reply.id, areply.id)
    assert found[-1].memory_ids == reply.memory_ids and found[-1].at == T0
    dp.learning.wait("alice")


def test_since_until_and_limit(dp: Persona) -> None:
    clock = dp._memories._clock
    assert isinstance(clock, Clock)
    for _ in range(5):
        dp.prompt("alice", "peanuts?", model=MOCK)
        clock.advance(days=1)
    assert [d.at for d in dp.disclosures("alice")] == [T0 + timedelta(days=i) for i in range(4, -1, -1)]
    assert [d.at for d in dp.disclosures("alice", limit=2)] == [T0 + timedelta(days=4), T0 + timedelta(days=3)]
    window = dp.disclosures("alice", since=T0 + timedelta(days=1), until="2025-03-04T12:00:00+00:00")
    assert [d.at for d in window] == [T0 + timedelta(days=2), T0 + timedelta(days=1)]
    for bad in ({"limit": 0}, {"since": "yesterday"}):
        with pytest.raises(InvalidInputError):
            dp.disclosures("alice", **bad)  # type: ignore[arg-type]
    assert asyncio.run(dp.adisclosures("alice", limit=1)) == dp.disclosures("alice", limit=1)


def test_exported_imported_and_forgotten(dp: Persona) -> None:
    dp.prompt("alice", "peanuts?", model=MOCK)
    dp.chat("alice", "seats?", model=MOCK, mock_response="aisle", learn=False)
    data = dp.export_user("alice")
    assert [d["reply_id"] is None for d in data["disclosures"]] == [True, False]  # oldest first
    assert data["disclosures"] == [d.to_dict() for d in reversed(dp.disclosures("alice"))]
    json.dumps(data)
    dp.forget_user("alice")
    assert dp.disclosures("alice") == []
    dp.import_user(data)
    assert dp.export_user("alice")["disclosures"] == data["disclosures"]
    dp.forget_user("alice")
    bad = {**data, "disclosures": [{**data["disclosures"][0], "memory_ids": "m1"}]}
    with pytest.raises(InvalidInputError, match="memory_ids"):
        dp.import_user(bad)
    forged = {**data, "disclosures": [{**data["disclosures"][0], "user_id": "bob"}]}
    with pytest.raises(InvalidInputError, match="belongs to 'bob'"):
        dp.import_user(forged)
    assert dp.count("alice") == 0 and dp.disclosures("bob") == []


def test_a_store_that_cannot_record_fails_the_prompt(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with Persona(store, embedder=FakeEmbedder()) as p:
        p.add("alice", "I am allergic to peanuts")
        with sqlite3.connect(store / "persona.db") as db:  # another process breaks the log
            db.execute("DROP TABLE disclosures")
        with pytest.raises(StoreError):
            p.prompt("alice", "snack?", model=MOCK)
        with pytest.raises(StoreError):
            p.chat("alice", "snack?", model=MOCK, mock_response="never sent")
        assert p.prompt("carol", "hi", model=MOCK).memory_ids == []  # nothing to record: works as before


def test_providers() -> None:
    assert provider_of("local/smollm2") == "local"
    assert provider_of("gpt-4o-mini") == "openai" and provider_of("openai/my-upstream-model") == "openai"
    assert provider_of("anthropic/claude-3-5-haiku-latest") == "anthropic"
    assert provider_of("ollama/llama3") == "ollama"


def test_the_cli_lists_them(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    with Persona(store, embedder=FakeEmbedder()) as p:
        p.add("alice", "I am allergic to peanuts")
        r = p.prompt("alice", "snack?", model=MOCK)
    runner = CliRunner()
    out = runner.invoke(app, ["--store", store, "disclosures", "alice", "--json"])
    assert out.exit_code == 0, out.output
    [row] = json.loads(out.output)
    assert (row["model"], row["provider"], row["memory_ids"], row["reply_id"]) == (MOCK, "openai", r.memory_ids, None)
    table = runner.invoke(app, ["--store", store, "disclosures", "alice", "--since", "1d"])
    assert table.exit_code == 0 and "openai" in table.output
    none = runner.invoke(app, ["--store", store, "disclosures", "bob"])
    assert none.exit_code == 0 and "no disclosures" in none.output


def test_a_proxy_call_is_recorded(tmp_path: Path) -> None:
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
            raw = sdk.chat.completions.with_raw_response.create(
                model="fake-model", user="alice", messages=[{"role": "user", "content": "What snack?"}]
            )
            [d] = p.disclosures("alice")
            assert d.reply_id == raw.headers["x-persona-reply-id"]
            assert d.memory_ids == raw.headers["x-persona-memories"].split(",")
            assert (d.model, d.provider) == ("openai/fake-model", "openai")


def test_a_turn_records_its_reply_with_the_disclosure_in_one_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One commit before the model is called (the disclosure and the reply's record together), none after
    until learning writes the turn."""
    from persona._env import ensure_offline_env

    ensure_offline_env()  # before litellm is imported: litellm would otherwise fetch its model map
    import litellm
    from litellm.llms.custom_llm import CustomLLM

    events: list[str] = []

    class Model(CustomLLM):  # type: ignore[misc]
        def completion(self, *args: object, **kwargs: Any) -> Any:
            events.append("model called")
            response = kwargs["model_response"]
            response.choices[0].message.content = "fruit"
            return response

    monkeypatch.setattr(
        litellm, "custom_provider_map", [*litellm.custom_provider_map, {"provider": "spy", "custom_handler": Model()}]
    )
    with Persona(tmp_path / "s", embedder=FakeEmbedder(), clock=Clock()) as p:
        p.add("alice", "I am allergic to peanuts")
        p.chat("alice", "warm up", model="spy/m")  # the first turn's lazy setup
        p.learning.wait()
        events.clear()
        db = p._memories.store.db  # type: ignore[attr-defined]
        db.set_trace_callback(lambda sql: events.append(" ".join(sql.split()[:3]).upper()))
        reply = p.chat("alice", "what snack?", model="spy/m", learn=True)
        p.learning.wait()
        db.set_trace_callback(None)
        before = events[: events.index("model called")]
        assert before.count("COMMIT") == 1  # one commit before the model answered, holding both rows
        assert "INSERT INTO DISCLOSURES(USER_ID," in before and "INSERT INTO REPLIES(REPLY_ID," in before
        assert not any(e.startswith("INSERT INTO REPLIES") for e in events[len(before) :])
        assert p.disclosures("alice")[0].reply_id == reply.id
        info = p._memories.get_reply(reply.id)
        assert info is not None and info.memory_ids == reply.memory_ids and info.model == "spy/m"
        assert p.feedback(reply.id, 1.0).reply_id == reply.id


def test_a_failed_model_call_keeps_the_disclosure_but_no_reply(dp: Persona) -> None:
    from persona._env import ensure_offline_env

    ensure_offline_env()
    import litellm

    from persona.backends import llm

    error = litellm.RateLimitError("slow down", llm_provider="openai", model=MOCK)
    with pytest.raises(llm.RateLimitError):
        dp.chat("alice", "what snack?", model=MOCK, mock_response=error, retry_backoff=0, num_retries=0)
    with pytest.raises(llm.RateLimitError):
        asyncio.run(dp.achat("alice", "what snack?", model=MOCK, mock_response=error, retry_backoff=0, num_retries=0))
    sent = dp.disclosures("alice")
    assert len(sent) == 2 and all(d.reply_id for d in sent)  # the prompts may have reached the provider
    assert all(dp._memories.get_reply(str(d.reply_id)) is None for d in sent)  # no reply anyone can rate


def test_a_turn_of_a_user_forgotten_meanwhile_records_no_reply(dp: Persona) -> None:
    from persona.store.base import ReplyRecord

    ticket = dp.learning.ticket("alice")
    dp.forget_user("alice")
    dp.learning.record_turn(ticket, None, ReplyRecord("r-late", "alice", MOCK, [], T0))
    assert dp._memories.get_reply("r-late") is None
    fresh = dp.learning.ticket("alice")
    dp.learning.record_turn(fresh, None, ReplyRecord("r-now", "alice", MOCK, [], T0))
    assert dp._memories.get_reply("r-now") is not None
