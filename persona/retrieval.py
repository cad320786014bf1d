"""Hybrid ranking over one user's index: dense cosine similarity fused with BM25.

Filters are applied before ranking (as a mask over the user's positions), so a search returns k
results whenever k memories pass the filters. The fusion is reciprocal-rank fusion of the dense and the
lexical rankings, each list weighted; every part of the score is reported in ``Hit.parts``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .backends.base import Mask
from .index import UserIndex

__all__ = ["Ranked", "RankingConfig", "rank"]


@dataclass(frozen=True)
class RankingConfig:
    """How dense and lexical evidence are combined (defaults measured in eval/retrieval.py)."""

    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    rrf_k: float = 60.0
    candidates: int = 100
    """How many candidates each ranker contributes before fusion (at least k)."""


@dataclass(frozen=True)
class Ranked:
    position: int
    score: float
    parts: dict[str, float]


def rank(
    index: UserIndex,
    query_vector: npt.NDArray[np.float32],
    query_text: str,
    k: int,
    mask: Mask | None,
    config: RankingConfig = RankingConfig(),
) -> list[Ranked]:
    if len(index) == 0:
        return []
    depth = max(config.candidates, k)
    dense_pos, dense_scores = index.dense.search(query_vector, depth, mask)
    lexical_all = index.bm25.scores(query_text)
    if mask is not None:
        lexical_all = np.where(mask[: len(lexical_all)], lexical_all, 0.0)
    nonzero = np.flatnonzero(lexical_all > 0)
    if len(nonzero) > depth:
        top = nonzero[np.argpartition(-lexical_all[nonzero], depth - 1)[:depth]]
    else:
        top = nonzero
    lexical_pos = top[np.argsort(-lexical_all[top], kind="stable")].tolist()

    fused: dict[int, dict[str, float]] = {}
    for rank_, (pos, score) in enumerate(zip(dense_pos, dense_scores, strict=True)):
        fused.setdefault(pos, {})["dense"] = float(score)
        fused[pos]["dense_rank"] = float(rank_ + 1)
    for rank_, pos in enumerate(lexical_pos):
        fused.setdefault(pos, {})["lexical"] = float(lexical_all[pos])
        fused[pos]["lexical_rank"] = float(rank_ + 1)

    out: list[Ranked] = []
    for pos, parts in fused.items():
        dense_rrf = (
            config.dense_weight / (config.rrf_k + parts["dense_rank"]) if "dense_rank" in parts else 0.0
        )
        lexical_rrf = (
            config.lexical_weight / (config.rrf_k + parts["lexical_rank"]) if "lexical_rank" in parts else 0.0
        )
        parts.setdefault("dense", 0.0)
        parts.setdefault("lexical", 0.0)
        parts["dense_rrf"] = dense_rrf
        parts["lexical_rrf"] = lexical_rrf
        out.append(Ranked(position=pos, score=dense_rrf + lexical_rrf, parts=parts))
    out.sort(key=lambda r: (-r.score, -r.parts["dense"]))
    return out[:k]
