"""The ranking's mechanisms: conversational links, metadata mentions, score-aware fusion (fake embedder)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from persona import Persona, RankingConfig
from persona.retrieval.conversations import MentionIndex, link_previous
from persona.testing import FakeEmbedder

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def p(tmp_path: Path) -> Iterator[Persona]:
    with Persona(tmp_path / "store", embedder=FakeEmbedder()) as persona:
        yield persona


def _turns(session: int, speaker_texts: list[tuple[str, str]], at: datetime) -> list[dict[str, object]]:
    return [
        {
            "text": f"{speaker}: {text}",
            "kind": "episode",
            "created_at": at,
            "metadata": {"session": session, "speaker": speaker, "turn": f"{session}:{i}"},
        }
        for i, (speaker, text) in enumerate(speaker_texts)
    ]


def test_links_follow_session_then_time_and_only_episodes() -> None:
    ts = np.array([0.0, 10.0, 20.0, 20.0, 9000.0, 9010.0])
    kinds = ["episode", "episode", "episode", "fact", "episode", "episode"]
    meta: list[dict[str, object]] = [{"session": 1}, {"session": 1}, {"session": 2}, {}, {}, {}]
    assert link_previous(kinds, meta, ts).tolist() == [-1, 0, -1, -1, -1, 4]
    assert link_previous(kinds, meta, ts, start=4).tolist() == [-1, 4]


def test_memories_dated_together_are_not_a_dialogue() -> None:
    kinds = ["episode"] * 4
    meta: list[dict[str, object]] = [{}, {}, {}, {}]
    assert link_previous(kinds, meta, np.array([5.0, 5.0, 5.0, 60.0])).tolist() == [-1, -1, -1, 2]
    assert link_previous(kinds, meta, np.array([0.0, 10.0, 5000.0, 4990.0])).tolist() == [-1, 0, -1, -1]


def test_mentions_single_out_values_the_query_names() -> None:
    mentions = MentionIndex()
    mentions.add(0, [{"speaker": "Ann Lee"}, {"speaker": "Bob"}, {"speaker": "Ann Lee", "n": 3}])
    named = mentions.mentioned("What did Ann Lee say?", 3)
    assert named is not None and named.tolist() == [True, False, True]
    assert mentions.mentioned("What did Ann say?", 3) is None  # the whole value must be named
    assert mentions.mentioned("Did Ann Lee meet Bob?", 3) is None  # names everyone: no preference


def test_an_answer_is_found_through_its_question(p: Persona) -> None:
    p.add_many(
        "u",
        _turns(
            1,
            [
                ("Ann", "How was the pottery workshop last weekend?"),
                ("Bob", "Wonderful, I made a bowl and a vase."),
                ("Ann", "I spent the weekend hiking with my dog."),
            ],
            T0,
        )
        + _turns(2, [("Bob", "Let me tell you about my new job at the bakery.")], T0 + timedelta(days=3)),
    )
    query = "how was the pottery workshop?"
    off = Persona(p.path, embedder=FakeEmbedder(), ranking=RankingConfig(context_mix=0, neighbour_lexical=0))
    try:
        without = [h.memory.metadata["turn"] for h in off.search("u", query, k=4)]
    finally:
        off.close()
    with_links = [h.memory.metadata["turn"] for h in p.search("u", query, k=4)]
    assert with_links.index("1:1") < without.index("1:1")
    assert with_links[:2] == ["1:0", "1:1"]
    answer = p.search("u", query, k=2)[1]
    assert answer.parts["lexical_context"] > answer.parts["lexical"] == 0.0


def test_neighbour_evidence_is_not_borrowed_across_sessions(p: Persona) -> None:
    p.add_many("u", _turns(1, [("Ann", "I adopted a kitten named Miso.")], T0))
    p.add_many("u", _turns(2, [("Bob", "The weather is awful today.")], T0 + timedelta(days=1)))
    hits = p.search("u", "kitten Miso", k=2)
    assert hits[0].memory.metadata["turn"] == "1:0"
    assert hits[1].parts["lexical_context"] == 0.0


def test_a_named_speaker_is_preferred(p: Persona) -> None:
    p.add_many(
        "u",
        _turns(1, [("Ann", "I love painting landscapes."), ("Bob", "I love painting portraits.")], T0),
    )
    for name in ("Ann", "Bob"):
        hits = p.search("u", f"What does {name} love painting?", k=2)
        assert hits[0].memory.metadata["speaker"] == name
        assert hits[0].parts["mentioned"] == 1.0


def test_weak_lexical_overlap_does_not_override_dense(p: Persona) -> None:
    # one shared common word must not beat a memory that matches the rest of the query
    p.add_many(
        "u",
        [
            {"text": "vegetarian food only please, no meat dishes", "kind": "preference"},
            *({"text": f"can you recommend a movie number {i}", "kind": "episode"} for i in range(20)),
        ],
    )
    hits = p.search("u", "vegetarian meat dishes food recommend", k=1)
    assert hits[0].memory.kind == "preference"


def test_ranking_is_rebuilt_identically_from_the_store(p: Persona, tmp_path: Path) -> None:
    p.add_many("u", _turns(1, [("Ann", f"turn {i} about topic {i % 3}") for i in range(30)], T0))
    before = [(h.memory.id, round(h.score, 6)) for h in p.search("u", "Ann topic 2", k=10)]
    p.close()
    shutil.rmtree(p.path / "index", ignore_errors=True)
    with Persona(p.path, embedder=FakeEmbedder()) as again:
        after = [(h.memory.id, round(h.score, 6)) for h in again.search("u", "Ann topic 2", k=10)]
    assert before == after
