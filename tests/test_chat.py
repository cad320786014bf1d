"""Chat, learning from turns, feedback and LLM errors, with deterministic fake models (no network)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from persona import InvalidInputError, MissingDependencyError, NotFoundError, Persona
from persona._env import ensure_offline_env

ensure_offline_env()  # before litellm is imported: litellm would otherwise fetch its model map

import litellm  # noqa: E402
from litellm.llms.custom_llm import CustomLLM  # noqa: E402

from persona import Reply, ReplyStream  # noqa: E402
from persona.backends import llm  # noqa: E402
from persona.testing import FakeEmbedder  # noqa: E402

T0 = datetime(2026, 2, 1, 12, 0, tzinfo=timezone.utc)
MOCK = "gpt-4o-mini"  # with mock_response= litellm answers without a network call


class FakeProvider(CustomLLM):  # type: ignore[misc]
    """A litellm provider ("fake/...") that answers from a queue (strings or exceptions) and records prompts."""

    def __init__(self) -> None:
        super().__init__()
        self.queue: list[str | Exception] = []
        self.calls: list[list[dict[str, Any]]] = []

    def _next(self, kwargs: dict[str, Any]) -> str:
        self.calls.append(kwargs["messages"])
        item = self.queue.pop(0) if self.queue else "ok"
        if isinstance(item, Exception):
            raise item
        return item

    def completion(self, *args: Any, **kwargs: Any) -> Any:
        response = kwargs["model_response"]
        response.choices[0].message.content = self._next(kwargs)
        return response

    def streaming(self, *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        words = self._next(kwargs).split(" ")
        for i, word in enumerate(words):
            last = i == len(words) - 1
            text = word if last else word + " "
            yield {
                "text": text,
                "is_finished": last,
                "finish_reason": "stop" if last else "",
                "usage": None,
                "index": 0,
            }

    async def acompletion(self, *args: Any, **kwargs: Any) -> Any:
        return self.completion(*args, **kwargs)

    async def astreaming(self, *args: Any, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:  # type: ignore[override]
        for chunk in self.streaming(*args, **kwargs):
            yield chunk


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    provider = FakeProvider()
    monkeypatch.setattr(
        litellm,
        "custom_provider_map",
        [*litellm.custom_provider_map, {"provider": "fake", "custom_handler": provider}],
    )
    return provider


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def p(tmp_path: Path, clock: Clock) -> Iterator[Persona]:
    with Persona(tmp_path / "store", embedder=FakeEmbedder(), clock=clock) as persona:
        yield persona


def settle(p: Persona) -> None:
    p.learning.wait()


def test_chat_returns_a_reply_and_learns_the_turn(p: Persona) -> None:
    reply = p.chat("ana", "Hi, I'm allergic to peanuts.", model=MOCK, mock_response="Noted!")
    assert isinstance(reply, Reply)
    assert reply.text == "Noted!" and reply.model == MOCK and reply.learned
    assert reply.prompt.messages[-1] == {"role": "user", "content": "Hi, I'm allergic to peanuts."}
    assert reply.latency >= 0 and reply.usage["total_tokens"] > 0 and reply.created_at == T0
    settle(p)
    episodes = p.list("ana", kind="episode")
    assert sorted((m.metadata["role"], m.text) for m in episodes) == [
        ("assistant", "Noted!"),
        ("user", "Hi, I'm allergic to peanuts."),
    ]
    assert all(m.metadata["reply_id"] == reply.id for m in episodes)
    assert [m.text for m in p.list("ana", kind="fact")] == ["I'm allergic to peanuts."]
    nxt = p.chat("ana", "What can I snack on?", model=MOCK, mock_response="Fruit.")
    assert "I'm allergic to peanuts." in nxt.prompt.system
    assert p.get(nxt.memory_ids[0]).user_id == "ana"


def test_learn_false_stores_nothing(p: Persona) -> None:
    p.chat("ana", "I live in Paris", model=MOCK, mock_response="ok")
    settle(p)
    before = p.list("ana")
    private = p.chat("ana", "I live in Tokyo, keep it secret", model=MOCK, mock_response="ok", learn=False)
    settle(p)
    assert p.list("ana") == before and not private.learned
    with pytest.raises(NotFoundError):
        p.feedback(private.id, 1)


def test_close_waits_for_background_learning(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "store"
    with Persona(path, embedder=FakeEmbedder(), clock=clock) as p:
        for i in range(5):
            p.chat("ana", f"I like topic number {i}", model=MOCK, mock_response=f"answer {i}")
            clock.advance(minutes=1)
    with Persona(path, embedder=FakeEmbedder(), clock=clock) as p:
        users = [m for m in p.list("ana", kind="episode") if m.metadata["role"] == "user"]
        assert [m.text for m in reversed(users)] == [f"I like topic number {i}" for i in range(5)]  # in order
        assert len(p.list("ana", kind="preference")) == 5


def test_paris_then_berlin_leaves_berlin_current_and_paris_in_history(p: Persona, clock: Clock) -> None:
    p.chat("u", "I live in Paris.", model=MOCK, mock_response="Bonjour!")
    t2 = clock.advance(days=30)
    p.chat("u", "I live in Berlin now.", model=MOCK, mock_response="Hallo!")
    clock.advance(days=1)
    reply = p.chat("u", "Which city do I live in?", model=MOCK, mock_response="Berlin.")
    settle(p)
    profile = {m.text: m for m in p.list("u", kind="profile", include_superseded=True)}
    paris, berlin = profile["I live in Paris."], profile["I live in Berlin."]
    assert berlin.current and not paris.current
    assert paris.created_at == T0 and paris.valid_to == t2 and paris.superseded_by == berlin.id
    about = reply.prompt.system.split("About the user:")[1].split("\n\n")[0]
    assert "I live in Berlin." in about and "Paris" not in about
    assert paris.id not in [h.memory.id for h in p.search("u", "lives in Paris", k=10)]
    assert paris.id in [h.memory.id for h in p.search("u", "lives in Paris", k=10, include_superseded=True)]


def test_a_failed_llm_call_stores_nothing(p: Persona) -> None:
    error = litellm.RateLimitError("slow down", llm_provider="openai", model=MOCK)
    with pytest.raises(llm.RateLimitError, match="rate limited"):
        p.chat("ana", "I live in Paris", model=MOCK, mock_response=error, retry_backoff=0)
    settle(p)
    assert p.list("ana") == []


def test_rate_limits_are_retried_with_backoff(p: Persona, fake: FakeProvider) -> None:
    limit = litellm.RateLimitError("429", llm_provider="fake", model="fake/m")
    fake.queue = [limit, limit, "finally"]
    assert p.chat("ana", "hi", model="fake/m", retry_backoff=0).text == "finally"
    assert len(fake.calls) == 3
    fake.queue = [limit, limit, "never"]
    with pytest.raises(llm.RateLimitError):
        p.chat("ana", "hi", model="fake/m", num_retries=1, retry_backoff=0)
    assert len(fake.calls) == 5  # 1 + 1 retry


def test_llm_errors_say_what_to_do(p: Persona, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(llm.MissingAPIKeyError, match=r"OPENAI_API_KEY|api_key"):
        p.chat("ana", "hi", model="openai/gpt-4o-mini", num_retries=0)
    with pytest.raises(llm.UnknownModelError, match="provider"):
        p.chat("ana", "hi", model="no-such-model-anywhere")
    with pytest.raises(llm.BackendUnreachableError, match="api_base"):
        p.chat("ana", "hi", model="ollama/llama3", api_base="http://127.0.0.1:9", num_retries=0)
    fake.queue = [litellm.Timeout("took too long", model="fake/m", llm_provider="fake")]
    with pytest.raises(llm.LLMTimeoutError, match="timeout"):
        p.chat("ana", "hi", model="fake/m")
    fake.queue = [litellm.ContextWindowExceededError("too long", model="fake/m", llm_provider="fake")]
    with pytest.raises(llm.ContextWindowExceededError, match="max_prompt_tokens"):
        p.chat("ana", "hi", model="fake/m")
    settle(p)
    assert p.list("ana") == []


def test_missing_local_extra_names_the_install_command(p: Persona, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "llama_cpp", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'persona\[local\]'"):
        llm.complete("local/smollm2", [{"role": "user", "content": "hi"}])


def test_extra_kwargs_reach_litellm_for_the_chat_call_only(p: Persona, fake: FakeProvider) -> None:
    fake.queue = ["the answer"]
    reply = p.chat("ana", "hello there", model="fake/m", temperature=0.1, max_tokens=7)
    assert isinstance(reply, Reply) and reply.text == "the answer"
    assert fake.calls[0] == reply.prompt.messages


def test_streaming_yields_chunks_and_learns_once_exhausted(p: Persona, fake: FakeProvider) -> None:
    fake.queue = ["one two three"]
    stream = p.chat("ana", "I prefer tea", model="fake/m", stream=True)
    assert isinstance(stream, ReplyStream) and stream.reply is None
    chunks = list(stream)
    assert "".join(chunks) == "one two three" and len(chunks) == 3
    assert stream.reply is not None and stream.reply.text == "one two three"
    assert stream.reply.usage["completion_tokens"] > 0
    settle(p)
    assert [m.text for m in p.list("ana", kind="preference")] == ["I prefer tea."]
    fake.queue = ["never read to the end"]
    abandoned = p.chat("bob", "I prefer coffee", model="fake/m", stream=True)
    next(iter(abandoned))
    abandoned.close()
    settle(p)
    assert p.list("bob") == []


def test_async_chat_and_async_streaming(p: Persona, fake: FakeProvider) -> None:
    async def main() -> tuple[Reply, list[str], Reply | None]:
        fake.queue = ["async answer", "streamed async answer"]
        reply = await p.achat("ana", "I live in Oslo", model="fake/m")
        stream = await p.achat("ana", "and then?", model="fake/m", stream=True)
        chunks = [c async for c in stream]
        return reply, chunks, stream.reply

    reply, chunks, streamed = asyncio.run(main())
    assert reply.text == "async answer" and "".join(chunks) == "streamed async answer"
    assert streamed is not None and streamed.text == "streamed async answer"
    settle(p)
    assert [m.text for m in p.list("ana", kind="profile")] == ["I live in Oslo."]


def test_feedback_moves_importance_and_learns_a_stated_preference(p: Persona) -> None:
    fact = p.add("ana", "I'm allergic to peanuts.", kind="fact", importance=0.5)
    reply = p.chat("ana", "What snack is safe for me with my allergy?", model=MOCK, mock_response="Apples.")
    assert fact.id in reply.memory_ids
    up = p.feedback(reply.id, 1)
    assert up.importance[fact.id] == pytest.approx(0.6) and p.get(fact.id).importance == pytest.approx(0.6)
    down = p.feedback(reply.id, -0.5, comment="I prefer shorter answers")
    assert p.get(fact.id).importance == pytest.approx(0.55)
    assert [m.text for m in down.learned] == ["I prefer shorter answers."]
    assert down.learned[0].source == "feedback"
    for _ in range(20):
        p.feedback(reply.id, 1)
    assert p.get(fact.id).importance == 1.0  # clamped
    with closing(sqlite3.connect(p.path / "persona.db")) as db:
        assert db.execute("SELECT COUNT(*) FROM feedback WHERE user_id = 'ana'").fetchone()[0] == 22
    for bad in (2, -1.5, float("nan"), True, "good"):
        with pytest.raises(ValueError):
            p.feedback(reply.id, bad)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        p.feedback("no-such-reply", 1)


def test_extract_model_runs_through_the_llm_and_falls_back_to_rules(
    tmp_path: Path, fake: FakeProvider
) -> None:
    answer = json.dumps({"facts": [{"text": "The user owns a red bicycle.", "kind": "fact", "key": None}]})
    with Persona(tmp_path / "s", embedder=FakeEmbedder(), extract_model="fake/extractor") as p:
        fake.queue = ["Nice bike!", answer]  # the chat reply, then the extraction
        p.chat("ana", "My bicycle is red, by the way", model="fake/m")
        settle(p)
        assert [m.text for m in p.list("ana", kind="fact")] == ["The user owns a red bicycle."]
        fake.queue = ["ok", "garbage", "more garbage", "still garbage"]
        p.chat("ana", "I live in Rome", model="fake/m")
        settle(p)
        assert [m.text for m in p.list("ana", kind="profile")] == ["I live in Rome."]  # the rules


def test_the_turn_is_stored_even_when_extraction_fails(tmp_path: Path, fake: FakeProvider) -> None:
    with Persona(tmp_path / "s", embedder=FakeEmbedder(), extract_model="fake/extractor") as p:
        fake.queue = ["reply", RuntimeError("extractor exploded")]
        p.chat("ana", "I live in Rome", model="fake/m", num_retries=0)
        settle(p)
        assert len(p.list("ana", kind="episode")) == 2


def test_concurrent_chats_of_different_users(p: Persona, fake: FakeProvider) -> None:
    import threading

    errors: list[BaseException] = []

    def talk(user: str) -> None:
        try:
            for i in range(5):
                p.chat(user, f"I like hobby {i} of {user}", model="fake/m")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=talk, args=(u,)) for u in ("ana", "bob", "cy")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    settle(p)
    assert not errors and not p.learning_errors()
    for user in ("ana", "bob", "cy"):
        assert len(p.list(user, kind="episode")) == 10 and len(p.list(user, kind="preference")) == 5


def test_reply_user_names_the_user_of_a_recorded_reply(p: Persona) -> None:
    reply = p.chat("ana", "Hi there", model=MOCK, mock_response="Hello!")
    assert p.reply_user(reply.id) == "ana"
    with pytest.raises(NotFoundError):
        p.reply_user("no-such-reply")
    with pytest.raises(InvalidInputError):
        p.reply_user("")
    unlearned = p.chat("ana", "Off the record", model=MOCK, mock_response="Ok.", learn=False)
    with pytest.raises(NotFoundError):
        p.reply_user(unlearned.id)


def test_a_stream_knows_its_prompt_before_the_first_chunk(p: Persona) -> None:
    p.add("ana", "I am allergic to peanuts")
    stream = p.chat("ana", "Snack ideas with peanuts?", model=MOCK, mock_response="Try fruit.", stream=True)
    assert stream.prompt is not None and stream.prompt.memory_ids == [p.list("ana")[0].id]
    assert "".join(stream) == "Try fruit."
    assert stream.reply is not None and stream.reply.memory_ids == stream.prompt.memory_ids
