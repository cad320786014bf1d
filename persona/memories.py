"""`Memories`: the store, its index cache, the searcher and the embedder working together.

Every read and write of memories goes through here: writes embed the text, commit to the store and apply
the store's `Change` to the index cache; reads search or list. `persona.client.Persona` validates what
callers pass and delegates here; learning (`persona.learning`) and prompting (`persona.prompting`) receive
this object through their narrow protocols (`MemoryWriter`, `MemorySource`), never the `Persona`.
Arguments are expected validated, except memory items, which `add_many` validates itself
(`persona.store.records.prepare_item`) because learning writes them too.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .backends.base import Embedder, Reranker
from .errors import InvalidInputError, StoreError
from .retrieval.cache import IndexCache
from .retrieval.embedding import embed_with_keys
from .retrieval.index import Filters
from .retrieval.ranking import RankingConfig
from .retrieval.searcher import Searcher
from .store.base import NewMemory, ReplyRecord, Store
from .store.records import content_hash, is_transcript, prepare_item
from .types import CheckReport, EmbedderInfo, HistoryEntry, Hit, Memory, StoreStats

__all__ = ["Memories", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Memories:
    """Reads and writes one store's memories, keeping the in-memory indexes in step with every write.

    ``embedder`` is an `Embedder`, a model name or path (loaded on first use), or None for the store's
    recorded embedder (else the default one).
    """

    def __init__(
        self,
        store: Store,
        *,
        embedder: Embedder | str | Path | None,
        clock: Callable[[], datetime] | None = None,
        ranking: RankingConfig | None = None,
        reranker: Reranker | None = None,
        rerank_depth: int = 30,
        cache_users: int = 64,
    ) -> None:
        self.store = store
        self.cache = IndexCache(store, store.cache_dir, capacity=cache_users)
        self._clock = clock or utcnow
        self._embedder_spec: str | Path | None = None
        self._embedder: Embedder | None = None
        if embedder is None or isinstance(embedder, (str, Path)):
            self._embedder_spec = embedder
        else:
            self._embedder = embedder
        self._embedder_lock = threading.Lock()
        self.searcher = Searcher(
            store,
            self.cache,
            lambda: self.embedder,
            ranking=ranking or RankingConfig(),
            reranker=reranker,
            rerank_depth=rerank_depth,
            clock=self.now,
        )

    # -- time and embedder ------------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The current time from the injected clock, timezone-aware."""
        value = self._clock()
        return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)

    @property
    def embedder(self) -> Embedder:
        """The embedder, loaded on first use (the store's recorded one when none was given)."""
        if self._embedder is None:
            with self._embedder_lock:
                if self._embedder is None:
                    from .backends.embedders import resolve_embedder

                    spec = self._embedder_spec
                    if spec is None:
                        recorded = self.store.recorded_embedder()
                        spec = recorded[0] if recorded else None
                    self._embedder = resolve_embedder(spec)
        return self._embedder

    # -- writes -----------------------------------------------------------------------------------------------

    def insert(
        self,
        user_id: str,
        items: builtins.list[NewMemory],
        *,
        progress: bool = False,
        imported_history: Sequence[HistoryEntry] | None = None,
    ) -> builtins.list[Memory]:
        """Embed and write validated items, all or none, in order."""
        embedder = self.embedder
        searchable = [i for i in items if not i.transcript]  # transcript-only memories get no vectors
        recorded: tuple[str, int] | None = None
        if searchable:
            vectors, keys = embed_with_keys(embedder, [i.text for i in searchable], progress=progress)
            for item, vector, item_keys in zip(searchable, vectors, keys, strict=True):
                item.embedding = vector
                item.key_embeddings = item_keys
            recorded = (embedder.id, int(vectors.shape[1]))
        result = self.store.insert_many(
            user_id, items, now=self.now(), embedder=recorded, imported_history=imported_history
        )
        self.cache.apply(result.change)
        return result.memories

    def add_many(
        self, user_id: str, items: Iterable[str | Mapping[str, Any]], *, progress: bool = False
    ) -> builtins.list[Memory]:
        """Validate, embed and write items (strings or dicts of `persona.store.records.ITEM_FIELDS`)."""
        now = self.now()
        prepared = [prepare_item(item, now, i) for i, item in enumerate(items)]
        return self.insert(user_id, prepared, progress=progress) if prepared else []

    def add(self, user_id: str, item: Mapping[str, Any]) -> Memory:
        """Validate, embed and write one item."""
        return self.insert(user_id, [prepare_item(item, self.now())])[0]

    def update(self, memory_id: str, changes: dict[str, Any], *, event: str = "UPDATE") -> Memory:
        """Apply validated ``changes`` (text is re-embedded); the history keeps the earlier version."""
        embedding = key_embeddings = None
        text: str | None = None
        if "text" in changes:
            old = self.store.get(memory_id)  # NotFoundError before any embedding work
            changes = {**changes, "content_hash": content_hash(changes["text"])}
            text = changes["text"]
        elif {"kind", "metadata"} & changes.keys():
            old = self.store.get(memory_id)
            if is_transcript(old.kind, old.metadata):  # may become searchable: it needs vectors then
                text = old.text
        if text is not None:
            kind, metadata = changes.get("kind", old.kind), changes.get("metadata", old.metadata)
            if not is_transcript(kind, metadata):
                own, keys = embed_with_keys(self.embedder, [text])
                embedding, key_embeddings = own[0], keys[0]
        memory, change = self.store.update(
            memory_id,
            changes,
            now=self.now(),
            embedding=embedding,
            key_embeddings=key_embeddings,
            event=event,
        )
        self.cache.apply(change)
        return memory

    def set_importance(self, memory_id: str, importance: float) -> Memory:
        return self.update(memory_id, {"importance": importance})

    def set_metadata(self, memory_id: str, metadata: dict[str, Any]) -> Memory:
        return self.update(memory_id, {"metadata": metadata})

    def delete(self, memory_id: str) -> None:
        """Delete a memory; its vector leaves the index files too (refused first if they cannot be removed)."""
        self.cache.require_usable()
        _memory, change = self.store.delete(memory_id, now=self.now())
        self.cache.apply(change)

    def supersede(self, old_id: str, new_id: str, *, at: datetime | None = None) -> Memory:
        """Mark ``old_id`` as replaced by ``new_id`` (valid until ``at``, default now)."""
        new, old = self.store.get(new_id), self.store.get(old_id)
        if old.user_id != new.user_id:
            raise InvalidInputError("a memory can only be superseded by a memory of the same user.")
        if old_id == new_id:
            raise InvalidInputError("a memory cannot supersede itself.")
        when = at or self.now()
        return self.update(old_id, {"valid_to": when, "superseded_by": new_id}, event="SUPERSEDE")

    def restore(self, memory_id: str) -> Memory:
        """Make a superseded memory current again."""
        return self.update(memory_id, {"valid_to": None, "superseded_by": None}, event="RESTORE")

    def forget_user(self, user_id: str) -> int:
        """Erase the user's rows and index files (refused before erasing anything if the files cannot go)."""
        self.cache.require_usable()
        count, change = self.store.forget_user(user_id)
        self.cache.apply(change)
        return count

    def reembed(self, *, progress: bool = False) -> int:
        """Re-embed every memory with the current embedder. Returns how many."""
        from tqdm.auto import tqdm

        self.cache.require_usable()  # every index file goes: refuse before the work if they cannot
        rows: builtins.list[tuple[int, npt.NDArray[np.float32], npt.NDArray[np.float32] | None]] = []
        embedder = self.embedder
        dim = 0
        with tqdm(total=self.store.count(), desc="re-embedding", unit="memory", disable=not progress) as bar:
            for batch in self.store.iter_texts():
                vectors, keys = embed_with_keys(embedder, [text for _seq, text in batch])
                dim = int(vectors.shape[1])
                rows.extend(
                    (seq, vec, item_keys)
                    for (seq, _text), vec, item_keys in zip(batch, vectors, keys, strict=True)
                )
                bar.update(len(batch))
        self.cache.apply(self.store.set_embeddings(rows, (embedder.id, dim or embedder.dim)))
        return len(rows)

    # -- reads ------------------------------------------------------------------------------------------------

    def get(self, memory_id: str) -> Memory:
        return self.store.get(memory_id)

    def list(
        self,
        user_id: str,
        *,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        include_superseded: bool = False,
        event_since: datetime | None = None,
        event_until: datetime | None = None,
    ) -> builtins.list[Memory]:
        """A user's memories, newest first (``event_since`` / ``event_until``: see `Persona.list`)."""
        return self.store.list(
            user_id,
            kind=kind,
            since=since,
            until=until,
            limit=limit,
            include_superseded=include_superseded,
            event_since=event_since,
            event_until=event_until,
        )

    def search(
        self, user_id: str, query: str, *, k: int, filters: Filters | None = None
    ) -> builtins.list[Hit]:
        return self.searcher.search(user_id, query, k, filters)

    def stated_preferences(self, user_id: str, *, limit: int) -> builtins.list[Memory]:
        return self.searcher.stated_preferences(user_id, limit)

    # -- replies (for learning and feedback) ------------------------------------------------------------------

    def record_reply(
        self, reply_id: str, user_id: str, model: str, memory_ids: builtins.list[str], at: datetime
    ) -> None:
        self.store.record_reply(reply_id, user_id, model, memory_ids, at)

    def get_reply(self, reply_id: str) -> ReplyRecord | None:
        return self.store.get_reply(reply_id)

    def record_feedback(
        self, reply_id: str, rating: float, comment: str | None, at: datetime, importance: Mapping[str, float]
    ) -> dict[str, float]:
        """Record a rating and set the used memories' importance, in one transaction."""
        applied, changes = self.store.record_feedback(reply_id, rating, comment, at, importance)
        for change in changes:
            self.cache.apply(change)
        return applied

    # -- maintenance ------------------------------------------------------------------------------------------

    def check(self, *, repair: bool = False) -> CheckReport:
        """Store integrity, embeddings present, index files fresh and of known users.

        ``repair`` rebuilds stale index files and removes unknown ones; a damaged database is reported in
        ``integrity`` (its indexes are not looked at), and an unusable index directory in ``index_problem``
        (``repair`` raises `StoreError` with it).
        """
        found = self.store.check()
        users: builtins.list[str] | None = None
        stale: builtins.list[str] = []
        try:
            users = self.store.users()
            stale = [u for u in users if not self.cache.file_is_fresh(u)]
        except StoreError:
            if found.integrity == "ok":
                raise
            users = None  # damaged beyond reading its users' rows: integrity says why
        problem = self.cache.problem()
        unknown = [] if users is None else self.cache.unknown_files(users)
        repaired: builtins.list[str] | None = None
        if repair and problem is not None:
            raise StoreError(problem)
        if repair and users is not None:
            self.cache.remove_files(unknown)
            if stale:
                embedder = self.embedder
                for user_id in stale:
                    self.cache.rebuild(user_id, embedder.dim, embedder.id)
            repaired = stale
        return CheckReport(
            integrity=found.integrity,
            missing_embeddings=found.missing_embeddings,
            missing_keys=found.missing_keys,
            stale_indexes=stale,
            repaired=repaired,
            unknown_indexes=[p.name for p in unknown],
            index_problem=problem,
        )

    def stats(self) -> StoreStats:
        """Users, memories by kind, store size and index state (loads no model)."""
        recorded = self.store.recorded_embedder()
        return StoreStats(
            path=self.store.location,
            users=len(self.store.users()),
            memories=self.store.count(),
            by_kind=self.store.counts_by_kind(),
            size_bytes=self.store.size_bytes(),
            embedder=None if recorded is None else EmbedderInfo(id=recorded[0], dim=recorded[1]),
            index=self.cache.state(),
        )

    def close(self) -> None:
        self.cache.clear()
        self.store.close()
