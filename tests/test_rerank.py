"""The optional rerank stage: order, depth, filters, parts, isolation; resolve_reranker; the cross-encoder's errors.

A deterministic FakeReranker decides the order; no model is loaded except in the test marked slow.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from persona import Hit, InvalidInputError, MissingDependencyError, Persona, PersonaError
from persona.backends.base import Reranker
from persona.backends.rerankers import CrossEncoderReranker, resolve_reranker
from persona.retrieval.ranking import rerank
from persona.testing import FakeEmbedder, FakeReranker

GARDEN = [
    "garden notes: the tomato seedlings tomato plants tomato vines went in",  # 3 x tomato
    "garden notes: watered the garden beds",  # 0
    "garden notes: one tomato in the garden",  # 1
    "garden notes: tomato and tomato again in the garden",  # 2
    "garden notes: garden gnome garden gnome",  # 0
]


@pytest.fixture
def p(tmp_path: Path) -> Iterator[Persona]:
    with Persona(tmp_path / "store", embedder=FakeEmbedder()) as persona:
        persona.add_many("u", GARDEN)
        yield persona


def _texts(hits: Sequence[Hit]) -> list[str]:
    return [h.memory.text for h in hits]


def test_the_reranker_decides_the_order(p: Persona) -> None:
    fake = FakeReranker("tomato")
    p.reranker = fake
    hits = p.search("u", "garden", k=3)
    assert _texts(hits) == [GARDEN[0], GARDEN[3], GARDEN[2]]
    assert [h.score for h in hits] == [3.0, 2.0, 1.0]
    for hit in hits:
        assert hit.parts["rerank"] == hit.score
        assert "fused" in hit.parts and "dense" in hit.parts
    assert len(fake.calls) == 1 and fake.calls[0][0] == "garden"


def test_first_stage_score_is_kept_as_fused(p: Persona) -> None:
    first = {h.memory.id: h.score for h in p.search("u", "garden", k=5)}
    p.reranker = FakeReranker("tomato")
    for hit in p.search("u", "garden", k=5):
        assert hit.parts["fused"] == pytest.approx(first[hit.memory.id])


def test_without_a_reranker_results_are_unchanged(p: Persona) -> None:
    assert p.reranker is None
    before = p.search("u", "garden gnome", k=3)
    assert all("rerank" not in h.parts and "fused" not in h.parts for h in before)
    p.reranker = FakeReranker("nothing-matches-this")
    after = p.search("u", "garden gnome", k=3)  # every rerank score ties: the fused order decides
    assert _texts(after) == _texts(before)
    assert [h.parts["fused"] for h in after] == pytest.approx([h.score for h in before])


def test_depth_bounds_what_the_reranker_sees(tmp_path: Path) -> None:
    fake = FakeReranker("tomato")
    with Persona(tmp_path / "s", embedder=FakeEmbedder(), reranker=fake, rerank_depth=2) as p:
        assert p.reranker is fake and p.rerank_depth == 2
        p.add_many("u", GARDEN)
        hits = p.search("u", "garden", k=3)
        assert len(hits) == 3
        assert len(fake.calls[-1][1]) == 3  # max(k, rerank_depth)
        p.rerank_depth = 30
        assert len(p.search("u", "garden", k=1)) == 1
        assert len(fake.calls[-1][1]) == len(GARDEN)  # every memory, when there are fewer than the depth


def test_filters_apply_before_reranking(tmp_path: Path) -> None:
    fake = FakeReranker("tomato")
    with Persona(tmp_path / "s", embedder=FakeEmbedder(), reranker=fake) as p:
        p.add("u", "tomato tomato tomato tomato garden", kind="fact")
        p.add("u", "tomato garden", kind="episode", metadata={"bed": "north"})
        p.add("u", "garden tomato tomato", kind="episode", metadata={"bed": "south"})
        p.add("u", "the garden", kind="episode", metadata={"bed": "north"})
        hits = p.search("u", "garden", k=5, kind="episode")
        assert _texts(hits) == ["garden tomato tomato", "tomato garden", "the garden"]
        assert all(h.memory.kind == "episode" for h in hits)
        hits = p.search("u", "garden", k=5, filters={"bed": "north"})
        assert _texts(hits) == ["tomato garden", "the garden"]
        assert set(fake.calls[-1][1]) == {"tomato garden", "the garden"}


def test_users_stay_isolated(tmp_path: Path) -> None:
    with Persona(tmp_path / "s", embedder=FakeEmbedder(), reranker=FakeReranker("tomato")) as p:
        p.add_many("u", GARDEN[1:2])
        p.add("other", "tomato tomato tomato garden")
        hits = p.search("u", "garden", k=5)
        assert _texts(hits) == [GARDEN[1]]


@pytest.mark.parametrize("depth", [0, -1, True, 2.5, "3"])
def test_rerank_depth_is_validated(tmp_path: Path, depth: object) -> None:
    with pytest.raises(InvalidInputError, match="rerank_depth"):
        Persona(tmp_path / "s", embedder=FakeEmbedder(), rerank_depth=depth)  # type: ignore[arg-type]
    assert not (tmp_path / "s").exists()


def test_a_reranker_returning_the_wrong_number_of_scores_is_refused(p: Persona) -> None:
    class Short:
        id = "short"

        def score(self, query: str, texts: Sequence[str]) -> list[float]:
            return [1.0]

    p.reranker = Short()
    with pytest.raises(InvalidInputError, match="one score per text"):
        p.search("u", "garden", k=3)


def test_rerank_ranks_nan_last_and_breaks_ties_by_fused_score(p: Persona) -> None:
    hits = p.search("u", "garden", k=5)

    class Scores:
        id = "scores"

        def score(self, query: str, texts: Sequence[str]) -> list[float]:
            return [math.nan, 1.0, 1.0, 0.0, 0.0][: len(texts)]

    out = rerank(Scores(), "garden", hits, 5)
    assert out[-1].memory.id == hits[0].memory.id
    assert [h.memory.id for h in out[:4]] == [
        hits[1].memory.id,
        hits[2].memory.id,
        hits[3].memory.id,
        hits[4].memory.id,
    ]
    assert rerank(Scores(), "garden", [], 3) == []


# --------------------------------------------------------------------------- resolve_reranker (no model load)


def test_resolve_reranker() -> None:
    assert resolve_reranker(None) is None
    fake = FakeReranker()
    assert resolve_reranker(fake) is fake
    assert isinstance(fake, Reranker)
    named = resolve_reranker("cross-encoder/ms-marco-MiniLM-L6-v2")
    assert isinstance(named, CrossEncoderReranker) and isinstance(named, Reranker)
    assert named.id == "cross-encoder/ms-marco-MiniLM-L6-v2"
    assert named._model is None  # nothing loaded yet
    local = resolve_reranker(Path("/nowhere/my-reranker"))
    assert isinstance(local, CrossEncoderReranker) and local.id == "my-reranker"
    for bad in ("", "  ", object(), 3):
        with pytest.raises(InvalidInputError, match="reranker"):
            resolve_reranker(bad)  # type: ignore[arg-type]


def test_persona_refuses_a_bad_reranker(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="reranker"):
        Persona(tmp_path / "s", embedder=FakeEmbedder(), reranker=object())  # type: ignore[arg-type]


def test_cross_encoder_arguments_are_validated() -> None:
    with pytest.raises(InvalidInputError, match="batch_size"):
        CrossEncoderReranker("some/model", batch_size=0)
    with pytest.raises(InvalidInputError, match="model name or path"):
        CrossEncoderReranker("")
    with pytest.raises(InvalidInputError, match="list of texts"):
        CrossEncoderReranker("some/model").score("q", "one text")  # type: ignore[arg-type]
    assert CrossEncoderReranker("some/model").score("q", []) == []  # nothing to score: no model load


def test_a_missing_local_cross_encoder_says_what_to_do(tmp_path: Path) -> None:
    missing = CrossEncoderReranker(tmp_path / "no-such-cross-encoder")
    with pytest.raises(MissingDependencyError, match="no such directory") as info:
        missing.score("q", ["a text"])
    assert isinstance(info.value, PersonaError)
    assert "reranker=None" in str(info.value)
    with Persona(tmp_path / "s", embedder=FakeEmbedder(), reranker=str(tmp_path / "nope")) as p:
        p.add("u", "a memory")
        with pytest.raises(MissingDependencyError, match="nope"):
            p.search("u", "memory")


@pytest.mark.slow
def test_an_uncached_hub_cross_encoder_fails_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    missing = CrossEncoderReranker("no-such-org/no-such-cross-encoder")
    with pytest.raises(MissingDependencyError, match="offline"):
        missing.score("q", ["a text"])
