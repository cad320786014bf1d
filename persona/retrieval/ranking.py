"""Hybrid ranking over one user's index: score-aware fusion of dense similarity and BM25.

Filters are applied before ranking (as a mask over the user's positions), so a search returns k
results whenever k memories pass the filters. Every memory gets

    score = dense_weight * dense + lexical_weight * lexical

* ``dense``: cosine similarity, min-max scaled over the memories that pass the filters. A memory that
  follows another in its conversation (see `persona.retrieval.conversations`) is also matched as the pair: the cosine
  with ``v + context_mix * v_previous`` (computed from the stored vectors, no extra embedding); a memory
  of several sentences is also matched by each of them (``segment_keys``, `persona.retrieval.sentences`); it keeps
  the best of these. ``conversation_dense`` times the cosine with its conversation's centroid is added
  before scaling.
* ``lexical``: BM25, plus ``neighbour_lexical`` times the previous memory's BM25 (an answer borrows its
  question's words) and ``next_lexical`` times the next one's (a question borrows its answer's), times
  ``1 + mention_boost`` for memories whose metadata values the query names, then divided by the summed
  IDF of the query's terms (so a query whose words barely match anything gets a small lexical part rather
  than a top score of 1) and capped at ``lexical_cap``.

Bounded priors are then added: ``length_prior`` per log(1 + words) for memories in a conversation,
minus ``question_penalty`` times the share of a memory's sentences that are questions,
``preference_boost`` to memories that state a preference when the query asks for advice
(`persona.retrieval.preferences`), and ``date_boost`` to memories dated within a calendar date the query names
(`persona.retrieval.dates`), and ``span_boost`` in proportion to how surely a memory's event lies in a span
the query names (`persona.retrieval.spans`). Three terms drawn from this ranking itself (a second hop from
the best hits, credit from neighbouring turns, a penalty for crowding one conversation;
`persona.retrieval.secondpass`) were measured for multi-hop questions and are off by default.

The defaults were chosen on the LoCoMo and PrefEval development data (eval/retrieval.py; the ablation table
is in docs/retrieval.md). ``Hit.parts`` reports the evidence each term is built from (docs/retrieval.md,
"What `Hit.parts` holds"); the length prior and the scaling bounds are not reported.

An optional second stage, `rerank`, re-orders the first stage's top hits by a `Reranker` (e.g. a
cross-encoder) when the user configures one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

import numpy as np
import numpy.typing as npt

from ..backends.base import Mask, Reranker
from ..backends.faiss_index import inner_products
from ..errors import InvalidInputError
from ..types import Hit
from .config import RankingConfig
from .dates import dated_near, query_dates
from .index import UserIndex
from .preferences import seeks_advice
from .queryspans import query_spans
from .secondpass import neighbour_credit, second_hop, session_rank
from .spans import overlap_scores

__all__ = ["Ranked", "RankingConfig", "VectorScores", "rank", "rerank"]

_DEFAULT = RankingConfig()


@dataclass(frozen=True)
class VectorScores:
    """What ranking takes from the vectors, when the index holds none (`persona.retrieval.coldstart`): the
    query's inner product with each memory's vector (``own``) and sentence key (``keys``, owner order), and
    with each memory's conversation centroid (``conversation``); the context keys' norms are in the index."""

    own: npt.NDArray[np.float64]
    keys: npt.NDArray[np.float64]
    conversation: npt.NDArray[np.float64]


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
    config: RankingConfig = _DEFAULT,
    now: datetime | None = None,
    vectors: VectorScores | None = None,
) -> list[Ranked]:
    """The k best positions for the query (``now``: what relative time phrases in the query count from;
    default the current time; ``vectors``: the query's vector scores when the index holds no vectors)."""
    n = len(index)
    if n == 0 or k < 1:
        return []
    allowed = np.ones(n, dtype=bool) if mask is None else np.asarray(mask[:n], dtype=bool)
    candidates = np.flatnonzero(allowed)
    if len(candidates) == 0:
        return []
    links = np.where(index.links >= 0, index.links, 0)
    linked = (index.links >= 0) & index.alive[links]

    own = index.dense.scores(query_vector).astype(np.float64) if vectors is None else vectors.own
    dense = own
    if config.context_mix > 0:
        norms = index.context_norms_for(config.context_mix).astype(np.float64)
        paired = np.where(linked, (own + config.context_mix * own[links]) / norms, own)
        dense = np.maximum(own, paired)
    if config.segment_keys and index.keys is not None:
        keys = index.keys.scores(query_vector) if vectors is None else vectors.keys
        dense = _best_key(index, keys, dense)
    conversation = None
    if config.conversation_dense > 0:
        conversation = _conversation_scores(index, query_vector, own) if vectors is None else vectors.conversation
    if conversation is not None:
        dense = dense + config.conversation_dense * conversation
    lo, hi = float(dense[candidates].min()), float(dense[candidates].max())
    dense_scaled = (dense - lo) / max(hi - lo, 1e-9)

    bm25 = index.bm25.scores(query_text)
    lexical = bm25.copy()
    if config.neighbour_lexical > 0:
        lexical += np.where(linked, config.neighbour_lexical * bm25[links], 0.0)
    follower = index.followers()
    if config.next_lexical > 0:
        has_next = (follower >= 0) & index.alive[np.where(follower >= 0, follower, 0)]
        lexical += np.where(has_next, config.next_lexical * bm25[np.where(has_next, follower, 0)], 0.0)
    mentioned = index.mentions.mentioned(query_text, n) if config.mention_boost > 0 else None
    if mentioned is not None:
        lexical *= 1.0 + config.mention_boost * mentioned
    lexical_scaled = np.minimum(lexical / max(index.bm25.idf_total(query_text), 1e-9), config.lexical_cap)

    fused = config.dense_weight * dense_scaled + config.lexical_weight * lexical_scaled
    if config.length_prior > 0:
        in_dialogue = linked | (follower >= 0)
        fused = fused + config.length_prior * in_dialogue * index.log_length
    if config.question_penalty > 0:
        fused = fused - config.question_penalty * index.question_share
    advice = config.preference_boost > 0 and seeks_advice(query_text)
    if advice:
        fused = fused + config.preference_boost * index.preferences
    dated = _dated(index, query_text, config) if config.date_boost > 0 else None
    if dated is not None:
        fused = fused + config.date_boost * dated
    span = _span(index, query_text, config, now) if config.span_boost > 0 else None
    if span is not None:
        fused = fused + config.span_boost * span
    if config.neighbour_credit > 0:
        fused = fused + config.neighbour_credit * neighbour_credit(index, fused, linked, follower)
    if config.hop_weight > 0:
        fused = fused + config.hop_weight * second_hop(index, fused, candidates)
    if config.session_penalty > 0:
        fused = fused - config.session_penalty * session_rank(index, fused, candidates)
    scores = fused[candidates]
    top = np.argpartition(-scores, k - 1)[:k] if len(candidates) > k else np.arange(len(candidates))
    top = top[np.lexsort((-own[candidates[top]], -scores[top]))]
    out: list[Ranked] = []
    for i in top.tolist():
        pos = int(candidates[i])
        parts = {
            "dense": float(own[pos]),
            "dense_context": float(dense[pos]),
            "lexical": float(bm25[pos]),
            "lexical_context": float(lexical[pos]),
            "mentioned": float(mentioned[pos]) if mentioned is not None else 0.0,
            "preference": float(advice and index.preferences[pos]),
            "dated": float(dated[pos]) if dated is not None else 0.0,
            "span": float(span[pos]) if span is not None else 0.0,
            "conversation": float(conversation[pos]) if conversation is not None else 0.0,
            "question": float(index.question_share[pos]),
        }
        out.append(Ranked(position=pos, score=float(fused[pos]), parts=parts))
    return out


def rerank(reranker: Reranker, query: str, hits: Sequence[Hit], k: int) -> list[Hit]:
    """The k best of ``hits`` by the reranker's score of their texts, ties broken by the first-stage score.

    Each returned hit's ``score`` is the reranker's; ``parts`` gains ``rerank`` (the same) and ``fused``
    (the first-stage score). A NaN score ranks last.
    """
    if not hits or k < 1:
        return []
    scores = [float(s) for s in reranker.score(query, [hit.memory.text for hit in hits])]
    if len(scores) != len(hits):
        raise InvalidInputError(
            f"reranker {reranker.id!r} returned {len(scores)} scores for {len(hits)} texts; "
            "score(query, texts) must return one score per text."
        )
    keyed = [
        (-math.inf if math.isnan(s) else s, hit.score, i)
        for i, (s, hit) in enumerate(zip(scores, hits, strict=True))
    ]
    keyed.sort(key=lambda t: (-t[0], -t[1], t[2]))
    return [
        replace(
            hits[i], score=scores[i], parts={**hits[i].parts, "rerank": scores[i], "fused": hits[i].score}
        )
        for _, _, i in keyed[:k]
    ]


def _dated(index: UserIndex, query: str, config: RankingConfig) -> npt.NDArray[np.bool_] | None:
    """The memories dated within a date the query names, or None when it names none (or all are)."""
    windows = query_dates(query)
    if not windows:
        return None
    before, after = config.date_slack_days
    near = dated_near(windows, index.created_ts, before_days=before, after_days=after)
    return near if near.any() and not near.all() else None


def _span(
    index: UserIndex, query: str, config: RankingConfig, now: datetime | None
) -> npt.NDArray[np.float64] | None:
    """How surely each memory's event lies in a span the query names, or None when it names none."""
    if not len(index.created_ts):
        return None
    when = now or datetime.now(timezone.utc)
    first = datetime.fromtimestamp(float(index.created_ts.min()), tz=timezone.utc).year
    last = datetime.fromtimestamp(float(index.created_ts.max()), tz=timezone.utc).year
    spans = query_spans(query, when, range(first, max(last, when.year) + 1))
    if not spans:
        return None
    return overlap_scores(index.events, index.created_ts, spans, told_days=config.span_told_days)


def _best_key(
    index: UserIndex, scores: npt.NDArray[np.floating[Any]], dense: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """``dense`` raised to the query's best match among each memory's extra keys (``scores``: the query's
    inner products with them)."""
    starts = index.key_starts
    best = np.maximum.reduceat(scores, starts).astype(np.float64)
    out = dense.copy()
    owners = index.key_owner[starts]
    out[owners] = np.maximum(out[owners], best)
    return out


def _conversation_scores(
    index: UserIndex, query_vector: npt.NDArray[np.float32], own: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Per memory, the cosine of the query with its conversation's centroid; a memory alone in its
    conversation is its own centroid (``own``)."""
    centroids = index.conversation_centroids()
    if centroids is None:
        return own
    return inner_products(centroids, query_vector)[index.group].astype(np.float64)
