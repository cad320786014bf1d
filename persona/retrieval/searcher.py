"""Search one user's memories: embed the query, rank the user's index, fetch the hits, rerank them.

`Searcher` is what the layers above retrieval call; it takes its collaborators as arguments (a store that
can be indexed and read by sequence number, the index cache, a function returning the embedder), so it
never needs the `Persona` that owns it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

import numpy as np

from ..backends.base import Embedder, Reranker, Vectors
from ..store.base import IndexSource
from ..types import Hit, Memory
from .cache import IndexCache
from .coldstart import ColdStart
from .embedding import embed_checked
from .index import Filters
from .ranking import RankingConfig, rank, rerank

__all__ = ["SearchSource", "Searcher"]


class SearchSource(IndexSource, Protocol):
    """What search reads from a store: the index rows, and memories by sequence number."""

    def get_by_seqs(self, seqs: Sequence[int]) -> dict[int, Memory]: ...


class Searcher:
    """Hybrid search over the users of one store (see `persona.retrieval.ranking`)."""

    def __init__(
        self,
        store: SearchSource,
        cache: IndexCache,
        embedder: Callable[[], Embedder],
        *,
        ranking: RankingConfig,
        reranker: Reranker | None = None,
        rerank_depth: int = 30,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.cache = cache
        self.embedder = embedder
        self.ranking = ranking
        self.reranker = reranker
        self.rerank_depth = rerank_depth
        self.clock = clock
        """What relative time phrases in a query ("last month") count from; None: the current time."""
        self.cold = ColdStart(cache)
        """Ranks a cold user by the store, when it can, while the cache fills (`persona.retrieval.coldstart`)."""

    def search(self, user_id: str, query: str, k: int, filters: Filters | None = None) -> list[Hit]:
        """The user's k memories most relevant to ``query``, best first (arguments already validated)."""
        state = self.store.user_state(user_id)
        if state == (0, 0):
            return []
        return self._search(user_id, embed_checked(self.embedder(), [query])[0], query, k, filters, state)

    def search_vector(
        self, user_id: str, vector: Vectors, query: str, k: int, filters: Filters | None = None
    ) -> list[Hit]:
        """Search with an already embedded query (benchmarks time retrieval without the embedding)."""
        return self._search(user_id, vector, query, k, filters, None)

    def _search(
        self,
        user_id: str,
        vector: Vectors,
        query: str,
        k: int,
        filters: Filters | None,
        state: tuple[int, int] | None,
    ) -> list[Hit]:
        """``state``: the user's counters when just read (read before the index's rows, as the cache needs)."""
        embedder_id = self.embedder().id
        reranker = self.reranker
        depth = k if reranker is None else max(k, self.rerank_depth)
        try:
            with self.cold.using(user_id, vector, embedder_id, state, self.ranking) as (index, scores):
                now = self.clock() if self.clock is not None else None
                mask = index.mask(filters or Filters())
                ranked = rank(index, vector, query, depth, mask, self.ranking, now, scores)
                seqs = [index.seqs[r.position] for r in ranked]
            memories = self.store.get_by_seqs(seqs)
        finally:
            self.cold.fill(user_id)  # a cold user's index, built in the background once the search is done
        hits = [
            Hit(memory=memories[seq], score=r.score, parts=r.parts)
            for seq, r in zip(seqs, ranked, strict=True)
            if seq in memories
        ]
        return hits if reranker is None else rerank(reranker, query, hits, k)

    def close(self) -> None:
        """Wait for the indexes being built in the background (before the store closes)."""
        self.cold.wait()

    def stated_preferences(self, user_id: str, limit: int) -> list[Memory]:
        """Current episodes in which the user (not the assistant) states a preference, newest first
        (`persona.retrieval.preferences`)."""
        if self.store.user_state(user_id) == (0, 0):
            return []
        embedder = self.embedder()
        with self.cache.using(user_id, embedder.dim, embedder.id) as index:
            episodes = np.fromiter((k == "episode" for k in index.kinds), dtype=bool, count=len(index))
            positions = np.flatnonzero(index.preferences & index.alive & index.current & episodes)
            seqs = [index.seqs[i] for i in positions[::-1]]
        found: list[Memory] = []
        for start in range(0, len(seqs), limit):
            memories = self.store.get_by_seqs(seqs[start : start + limit])
            found += [
                memories[q]
                for q in seqs[start : start + limit]
                if q in memories and memories[q].metadata.get("role") != "assistant"
            ]
            if len(found) >= limit:
                break
        found.sort(key=lambda m: m.created_at, reverse=True)
        return found[:limit]
