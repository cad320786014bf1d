"""Sentence segments as extra search keys, question share and length (persona.segments), and how ranking
uses them (fake embedder: no model)."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from persona import Persona, RankingConfig
from persona.backends.base import SegmentSpans, Vectors, pool_segments
from persona.evaluation.retrieval import CachingEmbedder
from persona.retrieval.sentences import (
    MAX_SEGMENTS,
    log_lengths,
    question_shares,
    segment_spans,
    segment_text,
)
from persona.testing import FakeEmbedder

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def segments(text: str) -> list[str]:
    """The extra keys of a text as strings (label kept on each sentence)."""
    return [segment_text(text, parts) for parts in segment_spans(text)]


@pytest.fixture
def p(tmp_path: Path) -> Iterator[Persona]:
    with Persona(tmp_path / "store", embedder=FakeEmbedder()) as persona:
        yield persona


def test_a_text_of_several_sentences_has_one_segment_per_sentence_with_its_label() -> None:
    text = "Nate: I love fantasy movies, they are great. Playing games is fun for me! [image: a black cat]"
    assert segments(text) == [
        "Nate: I love fantasy movies, they are great.",
        "Nate: Playing games is fun for me!",
        "Nate: [image: a black cat]",
    ]
    label, first = segment_spans(text)[0]
    assert text[label[0] : label[1]] == "Nate:" and text[first[0] : first[1]].startswith("I love")


@pytest.mark.parametrize(
    "text",
    [
        "Jon: Wow!",  # one sentence
        "Tim: Harry Potter is my favourite book.",  # one sentence
        "Ann: Great. Thanks a lot!",  # two, but too short to say anything alone
        "",
        "   ",
    ],
)
def test_short_texts_have_no_segments(text: str) -> None:
    assert segments(text) == [] and segment_spans(text) == []


def test_texts_without_a_label_keep_their_sentences_as_they_are() -> None:
    assert segments("  I prefer window seats.  Also I am vegan and never eat meat. ") == [
        "I prefer window seats.",
        "Also I am vegan and never eat meat.",
    ]
    # a colon late in a sentence is not a label
    assert segments("The plan for today is simple: rest and read. Then we cook dinner together.") == [
        "The plan for today is simple: rest and read.",
        "Then we cook dinner together.",
    ]


def test_segments_are_capped() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(40))
    assert len(segments(text)) == MAX_SEGMENTS


def test_question_share_and_length() -> None:
    texts = ["Caroline: Hey Mel! How are you? I went to a parade. It was great.", "What is it?", "", "Ok."]
    assert question_shares(texts).tolist() == [0.25, 1.0, 0.0, 0.0]
    assert np.allclose(log_lengths(texts), np.log1p([14, 3, 0, 1]))


def test_pool_segments_averages_the_tokens_of_each_segment() -> None:
    tokens = np.array([[9, 9], [1, 0], [0, 1], [0, 3], [9, 9]], dtype=np.float32)  # CLS, a, b, c, SEP
    offsets = [(0, 0), (0, 4), (5, 8), (9, 12), (0, 0)]
    out = pool_segments(tokens, offsets, [((0, 4),), ((5, 8), (9, 12)), ((20, 30),)])
    assert out.shape == (2, 2)  # the third segment has no tokens (truncated): left out
    assert np.allclose(out[0], [1, 0]) and np.allclose(out[1], [0, 1])


class LateFake(FakeEmbedder):
    """A fake that pools segments itself (as late chunking would), counting its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.segment_calls = 0

    def embed_segments(
        self, texts: Sequence[str], spans: Sequence[SegmentSpans]
    ) -> tuple[Vectors, list[Vectors]]:
        self.segment_calls += 1
        keys = [
            self.embed([" ".join(t[a:b] for a, b in parts) for parts in s])
            for t, s in zip(texts, spans, strict=True)
        ]
        return self.embed(texts), keys


def _stored_keys(path: Path) -> dict[str, bytes | None]:
    db = sqlite3.connect(path / "persona.db")
    try:
        return dict(db.execute("SELECT text, key_embeddings FROM memories"))
    finally:
        db.close()


def test_keys_are_stored_with_the_memory_and_follow_its_text(tmp_path: Path) -> None:
    fake = FakeEmbedder(dim=8)
    long_text = "I adopted a kitten named Miso. She sleeps on my keyboard all day."
    with Persona(tmp_path / "s", embedder=fake) as p:
        m = p.add("u", long_text, kind="episode")
        p.add("u", "I like tea.", kind="episode")
        stored = _stored_keys(p.path)
        assert stored["I like tea."] == b""  # computed: none
        keys = np.frombuffer(stored[long_text] or b"", dtype="<f4").reshape(-1, 8)
        assert np.allclose(keys, fake.embed(segments(long_text)))
        p.update(m.id, text="Just one sentence now.")
        assert _stored_keys(p.path)["Just one sentence now."] == b""
        p.update(m.id, text=long_text)
        assert len(_stored_keys(p.path)[long_text] or b"") == 2 * 8 * 4
        p.reembed()
        assert len(_stored_keys(p.path)[long_text] or b"") == 2 * 8 * 4


def test_an_embedder_with_embed_segments_is_asked_once_per_batch(tmp_path: Path) -> None:
    late = LateFake()
    with Persona(tmp_path / "s", embedder=late) as p:
        p.add_many("u", ["I adopted a kitten named Miso. She sleeps on my keyboard all day.", "Short one."])
        assert late.segment_calls == 1
        assert all(len(batch) == 2 for batch in late.calls[-2:])  # own texts, then the segment texts
        assert p.search("u", "kitten keyboard", k=1)[0].memory.text.startswith("I adopted")


def test_caching_embedder_offers_embed_segments_only_when_its_inner_one_does() -> None:
    assert not hasattr(CachingEmbedder(FakeEmbedder()), "embed_segments")
    wrapped = CachingEmbedder(LateFake())
    text = "I adopted a kitten named Miso. She sleeps on my keyboard all day."
    own, keys = wrapped.embed_segments([text], [segment_spans(text)])  # type: ignore[attr-defined]
    again = wrapped.embed_segments([text], [segment_spans(text)])  # type: ignore[attr-defined]
    assert own.shape == (1, 64) and keys[0].shape == (2, 64)
    assert np.array_equal(again[0], own) and wrapped.inner.segment_calls == 1  # type: ignore[attr-defined]


def test_one_sentence_of_a_long_memory_is_found_by_its_key(tmp_path: Path) -> None:
    long_text = (
        "We spent the whole weekend at the lake with the kids and the dog. "
        "The weather was perfect and everyone swam a lot. "
        "My sister finally told us she is moving to Lisbon in March."
    )
    distractors = [f"My sister and I talked about moving furniture on day {i}." for i in range(6)]
    query = "When is my sister moving to Lisbon?"
    results = {}
    for segment_keys in (False, True):
        with Persona(
            tmp_path / f"s{segment_keys}",
            embedder=FakeEmbedder(),
            ranking=RankingConfig(segment_keys=segment_keys, length_prior=0.0),
        ) as p:
            p.add_many("u", [long_text, *distractors])
            hits = p.search("u", query, k=len(distractors) + 1)
            results[segment_keys] = [h.memory.text for h in hits].index(long_text)
            top = hits[0]
    assert results[True] == 0 and results[True] <= results[False]
    assert top.parts["dense_context"] > top.parts["dense"]  # the key, not the whole text, matched


def test_a_question_does_not_outrank_its_answer(p: Persona) -> None:
    p.add_many(
        "u",
        [
            {
                "text": "Ann: What is your favourite board game?",
                "kind": "episode",
                "metadata": {"session": 1},
            },
            {"text": "Bob: My favourite board game is chess.", "kind": "episode", "metadata": {"session": 1}},
        ],
    )
    hits = p.search("u", "What is Bob's favourite board game?", k=2)
    assert hits[0].memory.text.startswith("Bob:")
    assert hits[1].parts["question"] == 1.0 and hits[0].parts["question"] == 0.0


def test_a_question_borrows_the_words_of_its_answer(p: Persona) -> None:
    p.add_many(
        "u",
        [
            {
                "text": "Ann: Where did you go?",
                "kind": "episode",
                "metadata": {"session": 1},
                "created_at": T0,
            },
            {
                "text": "Bob: Kyoto, for the temples.",
                "kind": "episode",
                "metadata": {"session": 1},
                "created_at": T0,
            },
            {
                "text": "Ann: Nice weather.",
                "kind": "episode",
                "metadata": {"session": 2},
                "created_at": T0 + timedelta(1),
            },
        ],
    )
    asked = next(h for h in p.search("u", "Kyoto temples", k=3) if h.memory.text.startswith("Ann: Where"))
    assert asked.parts["lexical_context"] > asked.parts["lexical"] == 0.0


def test_the_conversation_a_memory_belongs_to_counts(p: Persona) -> None:
    p.add_many(
        "u",
        _session(1, ["We talked about the garden.", "Tomatoes need sun.", "And water daily.", "Yes indeed."])
        + _session(2, ["We talked about taxes.", "Forms are due soon.", "Yes indeed."]),
    )
    hits = p.search("u", "garden tomatoes water yes indeed", k=7)
    yes = [h for h in hits if h.memory.text == "Yes indeed."]
    assert yes[0].memory.metadata["session"] == 1
    assert yes[0].parts["conversation"] > yes[1].parts["conversation"]


def _session(session: int, texts: list[str]) -> list[dict[str, object]]:
    return [
        {
            "text": t,
            "kind": "episode",
            "metadata": {"session": session},
            "created_at": T0 + timedelta(days=session),
        }
        for t in texts
    ]


def test_memories_written_before_keys_existed_still_rank_and_reembed_adds_keys(tmp_path: Path) -> None:
    text = "I adopted a kitten named Miso. She sleeps on my keyboard all day."
    with Persona(tmp_path / "s", embedder=FakeEmbedder()) as p:
        p.add("u", text, kind="episode")
    db = sqlite3.connect(tmp_path / "s" / "persona.db")
    with db:
        db.execute("UPDATE memories SET key_embeddings = NULL")  # as a store from before migration 003
    db.close()
    shutil.rmtree(tmp_path / "s" / "index", ignore_errors=True)
    with Persona(tmp_path / "s", embedder=FakeEmbedder()) as p:
        assert p.search("u", "kitten", k=1)[0].memory.text == text
        assert p.check().missing_keys == 1
        p.reembed()
        assert p.check().missing_keys == 0
        assert _stored_keys(p.path)[text]


def test_keys_and_conversations_are_rebuilt_identically_from_the_store(tmp_path: Path) -> None:
    texts = [
        f"Speaker {i % 2}: I went to place {i} with friend {i % 5}. We ate dish {i % 7} there. Fun {i}?"
        for i in range(120)
    ]
    items = [{"text": t, "kind": "episode", "metadata": {"session": i // 10}} for i, t in enumerate(texts)]
    path = tmp_path / "s"

    def ranking(p: Persona) -> list[tuple[str, float]]:
        return [(h.memory.id, round(h.score, 6)) for h in p.search("u", "place 42 dish 3 friend", k=15)]

    with Persona(path, embedder=FakeEmbedder()) as p:
        for start in range(0, 120, 30):  # appended in batches: groups and keys grow incrementally
            p.add_many("u", items[start : start + 30])
            p.search("u", "warm the index", k=1)
        incremental = ranking(p)
    with Persona(path, embedder=FakeEmbedder()) as p:  # dense part from the index file, keys from SQLite
        from_file = ranking(p)
    shutil.rmtree(path / "index")
    with Persona(path, embedder=FakeEmbedder()) as p:  # everything from SQLite
        rebuilt = ranking(p)
    assert incremental == from_file == rebuilt


class BadLateFake(LateFake):
    def embed_segments(
        self, texts: Sequence[str], spans: Sequence[SegmentSpans]
    ) -> tuple[Vectors, list[Vectors]]:
        own, keys = super().embed_segments(texts, spans)
        return own, [k[:, :10] for k in keys]  # wrong dimension


def test_segment_vectors_of_the_wrong_shape_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    from persona.errors import EmbedderMismatchError

    with Persona(tmp_path / "s", embedder=BadLateFake()) as p:
        with pytest.raises(EmbedderMismatchError, match="segment vectors"):
            p.add("u", "I adopted a kitten named Miso. She sleeps on my keyboard all day.")
        assert p.count("u") == 0
