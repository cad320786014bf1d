"""A user not yet in this process's index cache, ranked by the store while the cache fills (issue #11).

On PostgreSQL the vectors of a large user are most of a cold index's cost (52 MB for 10,000 memories and
their sentence keys). When the store can score a query against a snapshot's vectors itself
(`persona.store.base.SnapshotScoring`: pgvector's inner product over the rows' ``embedding`` and the
snapshot's sentence keys), a cold search restores the index from the snapshot without its vectors, takes
the query's inner products from the store (per row and per key: numbers, not vectors) and ranks with
`persona.retrieval.ranking.rank` as a warm index would. What ranking derives from the vectors beyond those
inner products comes from the snapshot's geometry (`persona.retrieval.snapshot`): a context key's norm
|v + m v_prev| from |v|^2, |v_prev|^2 and v . v_prev; a conversation centroid's score from the sum of its
memories' inner products over the length of their vector sum. Only rounding differs from the warm ranking.

Meanwhile a background thread builds the full index as usual (`IndexCache.build`) and keeps it
(`IndexCache.install`) unless the user's rows changed in a way it cannot follow (a delete, an update, a
forget); the next search of the user waits for it. Rows added since the snapshot come with their vectors
(as the usual path reads them) and are scored here; the snapshot's last row's vector and its last
conversation's vector sum are all they can pair with. Anything else (no snapshot, one without geometry or
made stale by a delete or update, a ranking term that needs the vectors themselves, a store that cannot
score) takes the usual path.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt

from ..backends.base import Vectors
from ..backends.faiss_index import FlatIndex
from ..errors import PersonaError
from ..store.base import Snapshot, SnapshotScoring
from . import snapshot
from .cache import IndexCache
from .config import RankingConfig
from .index import UserIndex, decode_vectors
from .ranking import VectorScores

__all__ = ["ColdStart"]


class ColdStart:
    """Hands the searcher a user's index, or for a cold user an index without vectors and the query's
    vector scores, then fills the cache in the background (`fill`)."""

    def __init__(self, cache: IndexCache) -> None:
        self.cache = cache
        self._guard = threading.Lock()
        self._pending: dict[str, tuple[int, str, tuple[int, int]]] = {}
        self._loaders: dict[str, threading.Thread] = {}

    @contextmanager
    def using(
        self,
        user_id: str,
        vector: Vectors,
        embedder_id: str,
        state: tuple[int, int] | None,
        config: RankingConfig,
    ) -> Iterator[tuple[UserIndex, VectorScores | None]]:
        """``(index, None)`` as `IndexCache.using` gives it, or ``(index without vectors, scores)`` for a cold
        user whose snapshot the store can score; then call `fill` with the user."""
        dim = int(vector.shape[0])
        self._wait(user_id)
        store = self.cache.store
        cold = None
        if config.hop_weight == 0 and isinstance(store, SnapshotScoring) and not self.cache.cached(user_id, dim):
            state = store.user_state(user_id) if state is None else state
            cold = _cold(store, user_id, dim, state, np.asarray(vector, dtype=np.float32), config)
        if cold is None:
            with self.cache.using(user_id, dim, embedder_id, state=state) as index:
                yield index, None
            return
        assert state is not None
        with self._guard:
            self._pending[user_id] = (dim, embedder_id, state)
        yield cold

    def fill(self, user_id: str) -> None:
        """Start building the user's index in the background, if a cold search of theirs just ran."""
        with self._guard:
            job = self._pending.pop(user_id, None)
            if job is None or user_id in self._loaders:
                return
            loader = threading.Thread(
                target=self._load, args=(user_id, *job), name="persona-index-fill", daemon=True
            )
            self._loaders[user_id] = loader
            loader.start()

    def wait(self) -> None:
        """Let every background build finish (before the store closes)."""
        with self._guard:
            loaders = list(self._loaders.values())
        for loader in loaders:
            loader.join()

    def _wait(self, user_id: str) -> None:
        with self._guard:
            loader = self._loaders.get(user_id)
        if loader is not None:
            loader.join()

    def _load(self, user_id: str, dim: int, embedder_id: str, state: tuple[int, int]) -> None:
        try:
            self.cache.install(self.cache.build(user_id, dim, embedder_id, state))
        except Exception:  # a cache fill: on any failure the next search builds the index itself
            pass
        finally:
            with self._guard:
                self._loaders.pop(user_id, None)


def _cold(
    store: Any,
    user_id: str,
    dim: int,
    state: tuple[int, int],
    query: npt.NDArray[np.float32],
    config: RankingConfig,
) -> tuple[UserIndex, VectorScores] | None:
    """The user's index from their snapshot without vectors (and the rows added since), and the query's
    vector scores from the store (``store``: an `IndexSource` that is `SnapshotScoring`);
    None when the snapshot is missing, stale, unreadable or without geometry, or the store cannot score it."""
    if store.snapshot_mutations(user_id) != state[1]:  # none saved, or a delete/update since: the usual build
        return None
    with ThreadPoolExecutor(max_workers=1) as worker:  # the server scores while this thread restores
        later = worker.submit(store.snapshot_scores, user_id, query)
        restored = _restore(store, user_id, dim, state)
        tail = None if restored is None else store.user_rows(user_id, after_seq=restored[0].max_seq)
        try:
            scored = later.result()
        except (PersonaError, ValueError):  # not scored (a vector of another dimension): the usual build
            scored = None
    if restored is None or tail is None or scored is None or not scored.of(restored[0]):
        return None
    index, arrays = restored[1:]
    if len(scored.keys) != len(index.key_owner):
        return None
    count = len(index)
    norms = _context_norms(index, arrays, config.context_mix) if config.context_mix > 0 else None
    own, keys = scored.own, scored.keys
    vectors = np.zeros((0, dim), dtype=np.float32)
    if tail.seqs:  # rows added since the snapshot: their vectors came with them, scored here
        vectors = decode_vectors(tail.embeddings, dim)
        index.append(tail, vectors)  # the dense and key indexes hold the tail's vectors only
        links = index.links[count:]
        if bool((links[links >= 0] < count - 1).any()):
            return None  # a link reaches past the last snapshot row: not the layout assumed below
        own = np.concatenate([own, index.dense.scores(query).astype(np.float64)])
        if index.keys is not None and len(index.keys):
            keys = np.concatenate([keys, index.keys.scores(query).astype(np.float64)])
        if len(keys) != len(index.key_owner):
            return None
    if norms is not None:
        index.context_norms = np.concatenate([norms, _tail_context_norms(index, arrays, vectors, config.context_mix)])
        index.context_mix = config.context_mix
    conversation = _conversation(index, arrays, vectors, own, count)
    return index, VectorScores(own=own, keys=keys, conversation=conversation)


def _restore(
    store: SnapshotScoring, user_id: str, dim: int, state: tuple[int, int]
) -> tuple[Snapshot, UserIndex, dict[str, npt.NDArray[Any]]] | None:
    """The snapshot, the index restored from it without vectors, and the snapshot's arrays."""
    saved = store.load_snapshot_data(user_id)
    if saved is None or saved.mutations != state[1] or saved.count < 1:
        return None
    arrays = snapshot.decode(saved.data, saved.count)
    if arrays is None or int(arrays["seqs"][-1]) != saved.max_seq or not snapshot.has_geometry(arrays):
        return None
    index = snapshot.restore(
        arrays,
        user_id=user_id,
        dense=FlatIndex(dim),
        keys=FlatIndex(dim),
        version=state[0],
        mutations=state[1],
        vectors=False,
    )
    groups = arrays["geo_group_norms"]
    if index is None or len(groups) not in (0, int(index.group[-1]) + 1):
        return None
    return saved, index, arrays


def _tail_context_norms(
    index: UserIndex, arrays: dict[str, npt.NDArray[Any]], vectors: npt.NDArray[np.float32], mix: float
) -> npt.NDArray[np.float32]:
    """`_context_norms` for the rows after the snapshot (``vectors``): a link points to the position before,
    the snapshot's last row's vector is in the snapshot (``geo_last``)."""
    count = len(index) - len(vectors)
    links = index.links[count:]
    norms = np.ones(len(vectors), dtype=np.float32)
    linked = np.flatnonzero(links >= 0)
    if len(linked):
        before = np.vstack([np.asarray(arrays["geo_last"], dtype=np.float32)[None, :], vectors])
        pairs = vectors[linked] + mix * before[links[linked] - (count - 1)]
        norms[linked] = np.maximum(np.linalg.norm(pairs, axis=1).astype(np.float32), 1e-6)
    return norms


def _conversation(
    index: UserIndex,
    arrays: dict[str, npt.NDArray[Any]],
    vectors: npt.NDArray[np.float32],
    own: npt.NDArray[np.float64],
    count: int,
) -> npt.NDArray[np.float64]:
    """Per memory, q . (its conversation's vector sum) / |that sum| from the inner products and the
    snapshot's lengths (``geo_group_norms``), the sums of the conversation the rows after it continue
    (``geo_last_sum``) and of the ones they start; ``own`` when every memory is alone in its conversation."""
    n = len(index)
    total = int(index.group[n - 1]) + 1
    if total == n:
        return own
    saved = int(index.group[count - 1]) + 1  # conversations in the snapshot
    norms = np.empty(total)
    lengths = arrays["geo_group_norms"]
    norms[:saved] = lengths if len(lengths) else np.maximum(np.sqrt(arrays["geo_sq"]), 1e-9)
    if len(vectors):
        sums = np.zeros((total - saved + 1, index.dim))  # row 0: the snapshot's last conversation
        np.add.at(sums, index.group[count:] - (saved - 1), vectors.astype(np.float64))
        if bool((index.group[count:] == saved - 1).any()):
            sums[0] += arrays["geo_last_sum"]
            norms[saved - 1] = max(float(np.linalg.norm(sums[0])), 1e-9)
        norms[saved:] = np.maximum(np.linalg.norm(sums[1:], axis=1), 1e-9)
    return (np.bincount(index.group, weights=own, minlength=total) / norms)[index.group]


def _context_norms(index: UserIndex, arrays: dict[str, npt.NDArray[Any]], mix: float) -> npt.NDArray[np.float32]:
    """|v_i + mix * v_link(i)| per position (1 where unlinked), as `UserIndex.context_norms_for` has them."""
    sq, pair = arrays["geo_sq"], arrays["geo_pair"]
    linked = np.flatnonzero(index.links >= 0)
    norms = np.ones(len(index), dtype=np.float32)
    squared = sq[linked] + 2 * mix * pair[linked] + mix * mix * sq[index.links[linked]]
    norms[linked] = np.maximum(np.sqrt(np.maximum(squared, 0.0)).astype(np.float32), 1e-6)
    return norms
