"""Retrieval metrics as pure functions over a ranked list of ids and a set of relevant ids, and their means.

``ranked`` is best first and may hold fewer than k ids; ``relevant`` must not be empty (a question
without evidence cannot be scored: filter it out before calling).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "GroupScores",
    "QuestionResult",
    "dia_session",
    "mean",
    "ndcg_at_k",
    "percentile",
    "recall_at_k",
    "reciprocal_rank",
    "score_groups",
    "session_recall_at_k",
]


def _check(relevant: Collection[str], k: int | None = None) -> None:
    if not relevant:
        raise ValueError("relevant is empty: an item without evidence cannot be scored")
    if k is not None and k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """The share of ``relevant`` ids found among the first ``k`` of ``ranked``."""
    _check(relevant, k)
    top = set(ranked[:k])
    return sum(1 for r in set(relevant) if r in top) / len(set(relevant))


def reciprocal_rank(ranked: Sequence[str], relevant: Collection[str]) -> float:
    """1 / the rank of the first relevant id in ``ranked`` (1-based); 0 when none is there."""
    _check(relevant)
    wanted = set(relevant)
    for rank, item in enumerate(ranked, start=1):
        if item in wanted:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Normalised discounted cumulative gain at ``k`` with binary gains (each relevant id counts once)."""
    _check(relevant, k)
    wanted = set(relevant)
    seen: set[str] = set()
    dcg = 0.0
    for rank, item in enumerate(ranked[:k], start=1):
        if item in wanted and item not in seen:
            seen.add(item)
            dcg += 1.0 / math.log2(rank + 1)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(wanted), k) + 1))
    return dcg / ideal


def dia_session(dia_id: str) -> str:
    """The session part of a LoCoMo turn id: ``"D3:12"`` -> ``"D3"``."""
    return dia_id.split(":", 1)[0]


def session_recall_at_k(
    ranked: Sequence[str],
    relevant: Collection[str],
    k: int,
    session_of: Callable[[str], str] = dia_session,
) -> float:
    """The share of the sessions holding ``relevant`` ids that hold at least one of the first ``k`` hits."""
    _check(relevant, k)
    return recall_at_k([session_of(r) for r in ranked], {session_of(r) for r in relevant}, k)


def mean(values: Iterable[float]) -> float:
    """The arithmetic mean; NaN for no values."""
    vals = list(values)
    return sum(vals) / len(vals) if vals else math.nan


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks; NaN for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"q must be within 0..100, got {q}")
    vals = sorted(values)
    if not vals:
        return math.nan
    pos = (len(vals) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


# ------------------------------------------------------------------------------- aggregating


@dataclass(frozen=True)
class QuestionResult:
    """One question: its group (a LoCoMo category, a PrefEval topic), relevant keys and what came back."""

    user_id: str
    question: str
    group: str
    relevant: tuple[str, ...]
    ranked: dict[int, tuple[str, ...]]
    """The keys returned for each k asked."""

    def recall(self, k: int) -> float:
        return recall_at_k(self.ranked[k], self.relevant, k)

    @property
    def deepest(self) -> tuple[str, ...]:
        return self.ranked[max(self.ranked)]


@dataclass(frozen=True)
class GroupScores:
    """Mean scores over a group of questions (``name`` is a category, a topic, or ``overall``)."""

    name: str
    count: int
    recall: dict[int, float]
    mrr: float
    ndcg_at_10: float
    session_recall: dict[int, float] = field(default_factory=dict)


def _score(results: Sequence[QuestionResult], name: str, ks: tuple[int, ...], sessions: bool) -> GroupScores:
    return GroupScores(
        name=name,
        count=len(results),
        recall={k: mean(r.recall(k) for r in results) for k in ks},
        mrr=mean(reciprocal_rank(r.deepest, r.relevant) for r in results),
        ndcg_at_10=mean(ndcg_at_k(r.ranked.get(10, r.deepest), r.relevant, 10) for r in results),
        session_recall=(
            {k: mean(session_recall_at_k(r.ranked[k], r.relevant, k) for r in results) for k in ks}
            if sessions
            else {}
        ),
    )


def score_groups(
    results: Sequence[QuestionResult], order: Sequence[str], ks: tuple[int, ...], sessions: bool
) -> tuple[GroupScores, ...]:
    """Mean scores per group (in ``order``, empty groups left out), then ``overall``."""
    groups = [_score([r for r in results if r.group == g], g, ks, sessions) for g in order]
    return (*(g for g in groups if g.count), _score(results, "overall", ks, sessions))
