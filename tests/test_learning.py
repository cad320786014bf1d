"""What chat learns (#13): the user's words are evidence, the assistant's only transcript; every stable fact
supersedes what it contradicts however it arrived; nothing of a turn is lost silently."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
from test_chat import MOCK, T0, Clock, FakeProvider

from persona import EmbedderError, InvalidInputError, LearningFailure, Persona
from persona.learning.learner import REPLY_LIMIT
from persona.store.migrations import MIGRATIONS
from persona.testing import FakeEmbedder


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    import litellm

    provider = FakeProvider()
    providers = [*litellm.custom_provider_map, {"provider": "fake", "custom_handler": provider}]
    monkeypatch.setattr(litellm, "custom_provider_map", providers)
    return provider


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def p(tmp_path: Path, clock: Clock) -> Iterator[Persona]:
    with Persona(tmp_path / "store", embedder=FakeEmbedder(), clock=clock) as persona:
        yield persona


def current_texts(p: Persona, user: str = "alice") -> list[str]:
    return sorted(m.text for kind in ("fact", "preference", "profile") for m in p.list(user, kind=kind))


# -- the assistant's words are transcript, not evidence ----------------------------------------------------------


def test_the_assistant_reply_is_transcript_never_searched_or_learned(p: Persona, clock: Clock) -> None:
    p.add("alice", "I live in Lisbon", kind="profile")
    p.chat("alice", "Where do I live?", model=MOCK, mock_response="You live in Paris. I love Paris too.")
    clock.advance(minutes=1)
    p.chat("alice", "Thanks", model=MOCK, mock_response="You live in Paris, I'm sure.")
    p.learning.wait()
    hits = p.search("alice", "where do I live", k=10)
    assert hits and all(h.memory.metadata.get("role") != "assistant" for h in hits)
    assert not any("Paris" in h.memory.text for h in hits)
    assert current_texts(p) == ["I live in Lisbon"]  # nothing learned from "I love Paris too"
    transcript = [m for m in p.list("alice", kind="episode") if m.metadata.get("role") == "assistant"]
    assert len(transcript) == 2  # kept as the conversation
    recent = p.prompt("alice", "hello", strategy="recent", model=MOCK).system
    assert "Assistant: You live in Paris. I love Paris too." in recent
    assert p.check().missing_embeddings == 0  # transcript rows need no vectors
    hybrid = p.prompt("alice", "Where do I live?", model=MOCK)
    retrieved = hybrid.system.split("Relevant to this message:")[-1].split("Recent conversation:")[0]
    assert "Paris" not in retrieved


def test_a_long_reply_is_cut_and_a_repeated_turn_is_stored_once(p: Persona, clock: Clock) -> None:
    looping = "I can help with that. " * 1000
    p.chat("alice", "What should I cook tonight?", model=MOCK, mock_response=looping)
    p.learning.wait()
    (kept,) = [m for m in p.list("alice", kind="episode") if m.metadata.get("role") == "assistant"]
    assert len(kept.text) <= REPLY_LIMIT and kept.text.endswith("…") and kept.metadata["truncated"] is True
    clock.advance(minutes=1)
    p.chat("alice", "What should I cook tonight?", model=MOCK, mock_response=looping)
    p.learning.wait()
    assert len(p.list("alice", kind="episode")) == 2  # one turn: the message and the reply
    p.chat("alice", "What should I cook tonight?", model=MOCK, mock_response="Pasta.")
    p.learning.wait()
    assert len(p.list("alice", kind="episode")) == 4  # another answer: another turn


def test_an_old_store_stops_searching_assistant_episodes(tmp_path: Path) -> None:
    store = tmp_path / "old"
    store.mkdir()
    with closing(sqlite3.connect(store / "persona.db", isolation_level=None)) as db:  # a store before 004
        db.execute("CREATE TABLE _migrations(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        for name, migrate in MIGRATIONS[:3]:
            migrate(db)
            db.execute("INSERT INTO _migrations VALUES (?, '2026-01-01T00:00:00+00:00')", (name,))
        db.execute("INSERT INTO meta(key, value) VALUES ('app', 'persona')")
    fake = FakeEmbedder()
    vector = fake.embed(["You live in Paris."])[0].astype("<f4").tobytes()
    with closing(sqlite3.connect(store / "persona.db")) as db:
        for i, (text, role) in enumerate([("Where do I live?", "user"), ("You live in Paris.", "assistant")]):
            db.execute(
                "INSERT INTO memories(id, user_id, text, kind, metadata, created_at, created_ts, updated_at, "
                "importance, source, content_hash, embedding, key_embeddings) "
                "VALUES (?, 'alice', ?, 'episode', ?, ?, ?, ?, 0.5, 'chat', ?, ?, x'')",
                (
                    f"m{i}",
                    text,
                    f'{{"role": "{role}"}}',
                    T0.isoformat(),
                    T0.timestamp() + i,
                    T0.isoformat(),
                    f"h{i}",
                    vector,
                ),
            )
        db.execute(
            "INSERT INTO meta VALUES ('embedder_id', ?), ('embedder_dim', ?)", (fake.id, str(fake.dim))
        )
        db.execute("INSERT INTO users VALUES ('alice', 2, 0)")
        db.commit()
    with Persona(store, embedder=FakeEmbedder()) as p:
        assert [h.memory.id for h in p.search("alice", "You live in Paris.", k=5)] == ["m0"]
        assert len(p.list("alice")) == 2 and p.check().missing_embeddings == 0


def test_an_episode_that_stops_being_transcript_is_embedded_and_found(p: Persona) -> None:
    said = p.add("alice", "the blue bicycle story", kind="episode", metadata={"role": "assistant"})
    assert p.search("alice", "blue bicycle", k=3) == []
    p.update(said.id, metadata={"role": "user"})
    assert [h.memory.id for h in p.search("alice", "blue bicycle", k=3)] == [said.id]


# -- supersession for every stable fact --------------------------------------------------------------------------


def test_a_chat_statement_supersedes_a_fact_stored_with_add(p: Persona, clock: Clock) -> None:
    lisbon = p.add("alice", "I live in Lisbon")
    clock.advance(days=1)
    p.chat("alice", "I live in Berlin now.", model=MOCK, mock_response="Noted, you moved!")
    p.learning.wait()
    old = p.get(lisbon.id)
    assert not old.current and old.valid_to == T0 + timedelta(days=1)
    assert current_texts(p) == ["I live in Berlin."]
    about = p.prompt("alice", "Where do I live?", model=MOCK).system.split("About the user:")[1]
    assert "Berlin" in about.split("\n\n")[0] and "Lisbon" not in about.split("\n\n")[0]


def test_add_and_add_many_supersede_in_time_order(p: Persona, clock: Clock) -> None:
    p.add_many("alice", ["I live in Lisbon", "I work as a nurse", "I live in Porto"])
    assert current_texts(p) == ["I live in Porto", "I work as a nurse"]
    older = p.add("alice", "I live in Faro", created_at=T0 - timedelta(days=30))  # a backfill: already past
    assert not older.current and older.superseded_by is not None
    assert current_texts(p) == ["I live in Porto", "I work as a nurse"]
    clock.advance(days=1)
    again = p.add("alice", "I live in Lisbon")  # restated: the old memory is current again
    assert again.current and current_texts(p) == ["I live in Lisbon", "I work as a nurse"]
    kept = p.add("alice", "I live in Rome", supersede=False)  # opted out: stored as it is
    assert kept.current and "key" not in kept.metadata and "I live in Lisbon" in current_texts(p)


def test_contradicting_preferences_supersede(p: Persona, clock: Clock) -> None:
    p.chat("alice", "I love spicy food", model=MOCK, mock_response="Great!")
    clock.advance(days=3)
    p.chat("alice", "I can't eat spicy food anymore", model=MOCK, mock_response="Sorry to hear.")
    p.learning.wait()
    assert current_texts(p) == ["I can't eat spicy food."]


def test_facts_stored_before_slots_existed_are_superseded(p: Persona, clock: Clock) -> None:
    legacy = p.add("alice", "I live in Lisbon", supersede=False)  # as every store before #13 holds it
    clock.advance(days=1)
    p.add("alice", "I moved to Berlin")
    assert not p.get(legacy.id).current and p.get(legacy.id).metadata["key"] == "location"


def test_import_of_an_old_export_lets_the_newest_statement_win(p: Persona, clock: Clock) -> None:
    p.add("alice", "I live in Lisbon", supersede=False)
    clock.advance(days=1)
    p.add("alice", "I live in Berlin", supersede=False)
    data = p.export_user("alice")
    p.forget_user("alice")
    p.import_user(data)
    assert current_texts(p) == ["I live in Berlin"]


# -- nothing lost silently ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("message", ["x" * 32_001, "I live in\x00 Paris"])
def test_a_turn_that_cannot_be_stored_fails_before_the_model_call(
    p: Persona, fake: FakeProvider, message: str
) -> None:
    with pytest.raises(InvalidInputError, match="message"):
        p.chat("alice", message, model="fake/m")
    assert fake.calls == [] and p.list("alice") == []


class SecondTimeFails(FakeEmbedder):
    """Embeds a text once (the query), and fails the second time it sees it (storing the turn)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def embed(self, texts: list[str]) -> object:  # type: ignore[override]
        if any(t in self.seen for t in texts):
            raise EmbedderError("the embedder went away")
        self.seen.update(texts)
        return super().embed(texts)


def test_a_failed_learning_job_is_visible(tmp_path: Path, fake: FakeProvider) -> None:
    with Persona(tmp_path / "s", embedder=SecondTimeFails()) as p:
        p.add("alice", "hello there", kind="episode")  # so that the prompt embeds the message as a query
        reply = p.chat("alice", "I live in Oslo", model="fake/m")
        p.learning.wait()
        (failure,) = p.learning_errors()
        assert [m.text for m in p.list("alice")] == ["hello there"]
    assert isinstance(failure, LearningFailure) and failure.reply_id == reply.id
    assert failure.message == "I live in Oslo" and failure.user_id == "alice"
    assert "the embedder went away" in failure.error


def test_forget_user_wins_over_a_turn_in_flight(p: Persona, fake: FakeProvider) -> None:
    """A chat whose model answer arrives after forget_user stores nothing: the user stays forgotten."""
    started, release = threading.Event(), threading.Event()

    class Slow(FakeProvider):
        def _next(self, kwargs: dict[str, object]) -> str:
            started.set()
            release.wait(10)
            return "ok"

    import litellm

    slow = Slow()
    litellm.custom_provider_map = [*litellm.custom_provider_map, {"provider": "slow", "custom_handler": slow}]
    try:
        p.add("alice", "I live in Oslo")
        replies: list[object] = []
        turn = threading.Thread(
            target=lambda: replies.append(p.chat("alice", "I live in Rome", model="slow/m"))
        )
        turn.start()
        assert started.wait(10)
        p.forget_user("alice")
        release.set()
        turn.join(10)
        p.learning.wait()
        assert p.list("alice") == [] and p.users() == []
        (reply,) = replies
        assert reply.learned is False  # type: ignore[attr-defined]
    finally:
        litellm.custom_provider_map = [m for m in litellm.custom_provider_map if m["provider"] != "slow"]


def test_feedback_is_one_transaction(p: Persona) -> None:
    p.add("alice", "I am allergic to peanuts", importance=0.5)
    reply = p.chat("alice", "What can I snack on?", model=MOCK, mock_response="Fruit.")
    p.learning.wait()
    before = {m: p.get(m).importance for m in reply.memory_ids}
    with pytest.raises(InvalidInputError, match="NUL"):
        p.feedback(reply.id, +1, comment="great\x00")
    assert {m: p.get(m).importance for m in reply.memory_ids} == before  # nothing applied
    done = p.feedback(reply.id, +1, comment="great")
    assert all(done.importance[m] == pytest.approx(before[m] + 0.1) for m in before)


# -- the learning benchmark ------------------------------------------------------------------------------------


def test_the_scorer_counts_what_it_claims() -> None:
    from types import SimpleNamespace

    from persona.evaluation.learning import Expected, ScriptedUser, score_user

    user = ScriptedUser(
        id="u",
        split="dev",
        turns=(
            {
                "user": "I live in Berlin and I hate cilantro",
                "assistant": "Since you live in Paris, try tapas.",
            },
        ),
        current=(Expected("Berlin", "location"), Expected("cilantro", "dislikes", negated=True)),
        stale=(Expected("Lisbon", "location"),),
    )
    memories = [
        SimpleNamespace(text=t) for t in ("I live in Berlin.", "I like cilantro.", "I live in Lisbon.")
    ]
    score = score_user(user, memories, searched_assistant=0)
    assert (score.correct, score.memories, score.found, score.expected) == (1, 3, 1, 2)
    assert score.stale_current == 1 and score.leaked == 0
    leaky = score_user(
        user, [SimpleNamespace(text="Since you live in Paris, try tapas.")], searched_assistant=2
    )
    assert leaky.leaked == 3  # one stable memory of the assistant's words, two assistant episodes searched


def test_the_learning_benchmark_runs_offline_and_leaks_nothing(tmp_path: Path) -> None:
    from persona.evaluation.learning import load_learning, run_learning

    users = load_learning()
    assert len(users) >= 30 and sum(1 for u in users for t in u.turns if "user" in t) >= 300
    assert {u.split for u in users} == {"dev", "heldout", "fresh", "fresh2", "fresh3"}
    report = run_learning(users[:4], embedder=FakeEmbedder())
    totals = report.totals["all"]
    assert report.turns == sum(1 for u in users[:4] for t in u.turns if "user" in t)
    assert totals["leaked"] == 0 and totals["memories"] > 0
    assert 0 < totals["recall"] <= 1 and 0 < totals["precision"] <= 1
