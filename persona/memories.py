"""`Memories`: the store, its index cache, the searcher and the embedder working together.

Every read and write of memories goes through here: writes embed the text, commit to the store and apply
the store's `Change` to the index cache; reads search or list. `persona.client.Persona` validates what
callers pass and delegates here; learning (`persona.learning`) and prompting (`persona.prompting`) receive
this object through their narrow protocols (`MemoryWriter`, `MemorySource`), never the `Persona`.
Arguments are expected validated, except memory items, which `add_many` validates itself
(`persona.store.records.prepare_item`) because learning writes them too.

Two privacy rules are enforced here, once for every caller. Every write is screened for PII first
(`persona.pii.PiiPolicy`: keep, label, mask or reject) and its sensitivity label checked against the
store's `persona.pii.SensitivityPolicy`. And prompting never reads `Memories` itself: it reads a
`RoutedMemories` view made for one target model (`Memories.for_model`), which leaves out every memory the
policy keeps from that model, in search hits, lists, stated preferences and full histories alike, and
says which it left out (`RoutedMemories.withheld`).
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .backends.base import Embedder, Reranker
from .errors import InvalidInputError, StoreError
from .governance.records import Disclosure
from .pii.labels import SensitivityPolicy
from .pii.screening import PiiPolicy
from .retrieval.cache import IndexCache
from .retrieval.embedding import embed_with_keys
from .retrieval.index import Filters
from .retrieval.ranking import RankingConfig
from .retrieval.searcher import Searcher
from .store.base import NewMemory, ReplyRecord, Store
from .store.records import content_hash, is_transcript, prepare_item
from .types import CheckReport, EmbedderInfo, HistoryEntry, Hit, Memory, StoreStats

__all__ = ["Memories", "RoutedMemories", "utcnow"]


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
        pii: PiiPolicy | None = None,
        sensitivity: SensitivityPolicy | None = None,
    ) -> None:
        self.store = store
        self.pii = pii or PiiPolicy("keep")
        """What writes do with detected PII (`persona.pii.PiiPolicy`)."""
        self.sensitivity = sensitivity or SensitivityPolicy()
        """Which sensitivity labels exist and which models may see them."""
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
        """Screen (`screen`), embed and write validated items, all or none, in order."""
        self.screen(items)
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

    def screen(self, items: Sequence[NewMemory]) -> None:
        """Check each item's label and apply the PII policy to its text and metadata, in place: the one
        place every write (add, add_many, import, chat learning) passes before anything is embedded."""
        for i, item in enumerate(items):
            where = f"item {i}: " if len(items) > 1 else ""
            if item.sensitivity is not None:
                self.sensitivity.check(item.sensitivity, what=f"{where}sensitivity")
            screened = self.pii.screen(item.text, item.sensitivity, where=where)
            if screened.text != item.text:
                item.text, item.content_hash = screened.text, content_hash(screened.text)
            item.sensitivity = screened.sensitivity or "normal"
            item.metadata = self.pii.screen_metadata(item.metadata, where=where)

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
        """Apply validated ``changes`` (text is re-embedded, and screened for PII as every write is); the
        history keeps the earlier version."""
        embedding = key_embeddings = None
        text: str | None = None
        if "sensitivity" in changes:
            changes = {**changes, "sensitivity": self.sensitivity.check(changes["sensitivity"])}
        if "metadata" in changes:
            changes = {**changes, "metadata": self.pii.screen_metadata(changes["metadata"])}
        if "text" in changes:
            old = self.store.get(memory_id)  # NotFoundError before any embedding work
            screened = self.pii.screen(changes["text"], changes.get("sensitivity", old.sensitivity))
            changes = {**changes, "text": screened.text, "content_hash": content_hash(screened.text)}
            if screened.sensitivity not in (None, old.sensitivity) or "sensitivity" in changes:
                changes["sensitivity"] = screened.sensitivity or "normal"
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
        sensitivity: Sequence[str] | None = None,
        event_since: datetime | None = None,
        event_until: datetime | None = None,
    ) -> builtins.list[Memory]:
        """A user's memories, newest first (``sensitivity``: only those with one of these labels;
        ``event_since`` / ``event_until``: see `Persona.list`)."""
        return self.store.list(
            user_id,
            kind=kind,
            since=since,
            until=until,
            limit=limit,
            include_superseded=include_superseded,
            sensitivity=sensitivity,
            event_since=event_since,
            event_until=event_until,
        )

    def search(
        self,
        user_id: str,
        query: str,
        *,
        k: int,
        filters: Filters | None = None,
        sensitivity: Sequence[str] | None = None,
    ) -> builtins.list[Hit]:
        """The top ``k`` hits (``sensitivity``: only memories with one of these labels, before ranking)."""
        if sensitivity is not None:
            labelled = self.store.labelled(user_id)
            wanted = set(sensitivity)
            spec = filters or Filters()
            if "normal" in wanted:
                out = frozenset(i for i, (label, _) in labelled.items() if label not in wanted)
                filters = replace(spec, exclude_ids=spec.exclude_ids | out)
            else:
                filters = replace(spec, only_ids=frozenset(i for i, (lb, _) in labelled.items() if lb in wanted))
        return self.searcher.search(user_id, query, k, filters)

    def labels(self, value: object) -> builtins.list[str] | None:
        """A ``sensitivity`` filter (a label or a list of labels) checked against the policy; None: none."""
        if value is None:
            return None
        labels = [value] if isinstance(value, str) else value
        if not isinstance(labels, (builtins.list, tuple, set, frozenset)) or not labels:
            raise InvalidInputError(f"sensitivity must be a label or a non-empty list of labels, got {value!r}.")
        return [self.sensitivity.check(label) for label in labels]

    def for_model(self, model: str) -> RoutedMemories:
        """What prompting may read for ``model``: the memories the sensitivity policy lets it see."""
        return RoutedMemories(self, model)

    def stated_preferences(self, user_id: str, *, limit: int) -> builtins.list[Memory]:
        return self.searcher.stated_preferences(user_id, limit)

    # -- replies (for learning and feedback) ------------------------------------------------------------------

    def record_reply(
        self, reply_id: str, user_id: str, model: str, memory_ids: builtins.list[str], at: datetime
    ) -> None:
        self.store.record_reply(reply_id, user_id, model, memory_ids, at)

    def get_reply(self, reply_id: str) -> ReplyRecord | None:
        return self.store.get_reply(reply_id)

    def record_turn(self, disclosure: Disclosure | None, reply: ReplyRecord | None) -> None:
        """A turn's disclosure and reply record, in one transaction."""
        self.store.record_turn(disclosure, reply)

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
        self.searcher.close()
        self.cache.saves.wait()
        self.cache.clear()
        self.store.close()


class RoutedMemories:
    """The memories one target model may see: the `MemorySource` prompting reads (never `Memories` itself).

    Every read leaves out the memories whose label the sensitivity policy keeps from ``routed_for``: search
    excludes them before ranking (so ``k`` hits still come back), lists exclude them in the query, and
    every memory returned is checked once more on its own label before it leaves this object. What was
    left out is collected in `withheld`.
    """

    def __init__(self, memories: Memories, model: str) -> None:
        self._memories = memories
        self._policy = memories.sensitivity
        self.routed_for = model
        """The model these reads are for."""
        self._labels: dict[str, dict[str, tuple[str, bool]]] = {}
        self._withheld: dict[str, builtins.list[str]] = {}

    def now(self) -> datetime:
        return self._memories.now()

    def _labelled(self, user_id: str) -> dict[str, tuple[str, bool]]:
        """The user's labelled memories that this model may not see (read once per view)."""
        if user_id not in self._labels:
            policy, model = self._policy, self.routed_for
            hidden: dict[str, tuple[str, bool]] = {}
            if not (policy.is_trusted(model) and not policy.blocked(model)):
                hidden = {
                    i: (label, current)
                    for i, (label, current) in self._memories.store.labelled(user_id).items()
                    if not policy.allows(label, model)
                }
            for memory_id, (label, current) in hidden.items():
                if current:
                    self._note(label, memory_id)
            self._labels[user_id] = hidden
        return self._labels[user_id]

    def _note(self, label: str, memory_id: str) -> None:
        ids = self._withheld.setdefault(label, [])
        if memory_id not in ids:
            ids.append(memory_id)

    def _allowed(self, memories: Iterable[Memory]) -> builtins.list[Memory]:
        out = []
        for m in memories:
            if self._policy.allows(m.sensitivity, self.routed_for):
                out.append(m)
            else:  # labelled since the view read the labels: still never handed on
                self._note(m.sensitivity, m.id)
        return out

    def search(self, user_id: str, query: str, *, k: int) -> builtins.list[Hit]:
        hidden = frozenset(self._labelled(user_id))
        hits = self._memories.search(user_id, query, k=k, filters=Filters(exclude_ids=hidden))
        kept = {m.id for m in self._allowed(h.memory for h in hits)}
        return [h for h in hits if h.memory.id in kept]

    def list(
        self,
        user_id: str,
        *,
        kind: str | None = None,
        limit: int | None = None,
        include_superseded: bool = False,
    ) -> builtins.list[Memory]:
        hidden = sorted({label for label, _current in self._labelled(user_id).values()})
        found = self._memories.store.list(
            user_id, kind=kind, limit=limit, include_superseded=include_superseded, exclude_sensitivity=hidden
        )
        return self._allowed(found)

    def stated_preferences(self, user_id: str, *, limit: int) -> builtins.list[Memory]:
        hidden = self._labelled(user_id)
        found = self._memories.stated_preferences(user_id, limit=limit + len(hidden))
        return self._allowed(found)[:limit]

    def withheld(self) -> dict[str, builtins.list[str]]:
        """Per label, the current memories left out of these reads because ``routed_for`` may not see them."""
        return {label: builtins.list(ids) for label, ids in self._withheld.items()}

    def reason(self, label: str) -> str:
        """Why memories labelled ``label`` were left out, in words."""
        return self._policy.reason(label, self.routed_for)
