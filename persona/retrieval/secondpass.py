"""Evidence drawn from the first stage's own ranking: a second hop from the best hits, credit shared with
neighbouring turns, and a penalty for crowding one conversation. Round 4 measured all three for the
multi-hop and open-domain questions (docs/retrieval.md, "Multi-hop and open-domain"); none raised recall,
so each is off by default (`RankingConfig` ``hop_weight``, ``neighbour_credit``, ``session_penalty``).

Each takes the fused first-stage scores of every position and returns a term to add, computed from the
stored vectors and links only (no extra embedding, no text), so switching one on costs one pass over at
most `HOP_POOL` vectors or the index's links.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .index import UserIndex

__all__ = ["HOP_POOL", "HOP_SEEDS", "neighbour_credit", "second_hop", "session_rank"]

HOP_SEEDS = 3
"""How many of the first stage's best hits seed the second hop."""

HOP_POOL = 100
"""The second hop re-scores only the first stage's best this many candidates."""


def second_hop(
    index: UserIndex, fused: npt.NDArray[np.float64], candidates: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Per position, the cosine of its vector with the centroid of the `HOP_SEEDS` best candidates,
    min-max scaled over the `HOP_POOL` best candidates (0 outside them): pseudo-relevance feedback, a
    second retrieval hop seeded by what the first found."""
    out = np.zeros(len(fused))
    if len(candidates) == 0:
        return out
    scores = fused[candidates]
    if len(candidates) > HOP_POOL:
        pool = candidates[np.argpartition(-scores, HOP_POOL - 1)[:HOP_POOL]]
    else:
        pool = candidates
    seeds = pool[np.argsort(-fused[pool], kind="stable")[:HOP_SEEDS]]
    vectors = index.dense.vectors()
    seed = vectors[seeds].astype(np.float64).sum(axis=0)
    seed /= max(float(np.linalg.norm(seed)), 1e-9)
    sim = vectors[pool].astype(np.float64) @ seed
    lo, hi = float(sim.min()), float(sim.max())
    out[pool] = (sim - lo) / max(hi - lo, 1e-9)
    return out


def neighbour_credit(
    index: UserIndex,
    fused: npt.NDArray[np.float64],
    linked: npt.NDArray[np.bool_],
    follower: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """Per position, how far the better of the turns before and after it (``links`` / ``follower``) scores
    above it (0 when neither does, or it has no neighbour)."""
    prev = np.where(linked, fused[np.where(linked, index.links, 0)], -np.inf)
    has_next = follower >= 0
    nxt = np.where(has_next, fused[np.where(has_next, follower, 0)], -np.inf)
    best = np.maximum(prev, nxt)
    return np.where(np.isfinite(best), best - fused, 0.0).clip(min=0.0)


def session_rank(
    index: UserIndex, fused: npt.NDArray[np.float64], candidates: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Per position, 1 when a candidate of its conversation (``group``) scores higher, else 0: the best
    turn of each conversation is kept, the others can be pushed below other conversations' best."""
    out = np.zeros(len(fused))
    if len(candidates) == 0:
        return out
    groups = index.group[candidates]
    order = np.lexsort((-fused[candidates], groups))
    g = groups[order]
    first = np.concatenate([[True], g[1:] != g[:-1]])
    out[candidates[order]] = (~first).astype(np.float64)
    return out
