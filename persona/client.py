"""`Persona`: the one entry point. Every public operation starts here."""

from __future__ import annotations

import builtins
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from .backends.base import Embedder, Reranker, Vectors
from .encoding import embed_checked, embed_with_keys
from .errors import EmbedderMismatchError, InvalidInputError, StoreError
from .index import Filters, IndexCache
from .records import content_hash, prepare_item
from .retrieval import RankingConfig, rank, rerank
from .store import NewMemory, SQLiteStore
from .transfer import EXPORT_FORMAT, EXPORT_SCHEMA_VERSION, export_data, parse_export
from .types import HistoryEntry, Hit, Memory
from .validation import (
    check_filters,
    check_importance,
    check_k,
    check_kind,
    check_metadata,
    check_text,
    check_time,
    check_user_id,
)

if TYPE_CHECKING:
    from .chat import AsyncReplyStream, Feedback, Reply, ReplyStream
    from .prompting import RenderedPrompt

__all__ = ["EXPORT_FORMAT", "EXPORT_SCHEMA_VERSION", "Persona", "default_path"]


def default_path() -> Path:
    """``$PERSONA_HOME`` if set, else the platform's user data directory for persona."""
    env = os.environ.get("PERSONA_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("persona", appauthor=False))


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Persona:
    """A per-user memory store with hybrid retrieval.

    >>> with Persona("/tmp/store") as p:                      # doctest: +SKIP
    ...     p.add("alice", "I am allergic to peanuts", kind="fact")
    ...     p.search("alice", "what food should I avoid?", k=3)

    ``path`` is a directory (default ``$PERSONA_HOME``, else the platform's user data dir). ``embedder`` is
    an `Embedder`, a sentence-transformers model name or path, or None: the embedder the store was built
    with, else the bundled all-MiniLM-L6-v2. ``reembed=True`` re-embeds every memory when the store was
    built with another embedder. ``clock`` returns the current time (timezone-aware) and is injectable.
    ``reranker`` (a `Reranker`, or a cross-encoder name or path; none by default) re-orders the top
    ``rerank_depth`` hits of every search by its score.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        embedder: Embedder | str | Path | None = None,
        reembed: bool = False,
        progress: bool = False,
        clock: Callable[[], datetime] | None = None,
        ranking: RankingConfig | None = None,
        model: str | None = None,
        extract_model: str | None = None,
        cache_users: int = 64,
        reranker: Reranker | str | Path | None = None,
        rerank_depth: int = 30,
    ) -> None:
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise InvalidInputError(f"path must be a directory path, got {type(path).__name__}.")
        if isinstance(rerank_depth, bool) or not isinstance(rerank_depth, int) or rerank_depth < 1:
            raise InvalidInputError(f"rerank_depth must be a positive integer, got {rerank_depth!r}.")
        from .backends.rerankers import resolve_reranker  # light: loads no model

        self.reranker = resolve_reranker(reranker)
        self.rerank_depth = rerank_depth
        self.path = Path(path).expanduser() if path is not None else default_path()
        self._store = SQLiteStore(self.path)
        self._cache = IndexCache(self._store, self.path / "index", capacity=cache_users)
        self._clock = clock or _utcnow
        self.ranking = ranking or RankingConfig()
        self.model = model
        self.extract_model = extract_model
        self._embedder_spec = embedder
        self._embedder: Embedder | None = None
        if embedder is not None and not isinstance(embedder, (str, Path)):
            from .backends.embedders import resolve_embedder  # light: loads no model

            try:
                self._embedder = resolve_embedder(embedder)
            except InvalidInputError:
                self._store.close()
                raise
        self._embedder_lock = threading.Lock()
        self._closed = False
        self._on_close: list[Callable[[], None]] = []
        recorded = self._store.recorded_embedder()
        if embedder is not None and recorded is not None:
            if self._embedder is None:
                from .backends.embedders import resolve_embedder

                self._embedder = resolve_embedder(embedder)
            if self._embedder.id != recorded[0]:
                if not reembed:
                    self._store.close()
                    raise EmbedderMismatchError(
                        f"the store at {self.path} was built with embedder {recorded[0]!r}, not "
                        f"{self._embedder.id!r}. Open it without embedder= (or with embedder={recorded[0]!r}), or "
                        f"re-embed every memory: Persona(path, embedder={self._embedder.id!r}, reembed=True) "
                        "(CLI: persona reindex --embedder NAME)."
                    )
                self.reembed(progress=progress)

    # -- lifecycle -------------------------------------------------------------------------------------------

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
                        recorded = self._store.recorded_embedder()
                        spec = recorded[0] if recorded else None
                    self._embedder = resolve_embedder(spec)
        return self._embedder

    def close(self) -> None:
        """Wait for pending background work, then release the store. Safe to call twice."""
        if self._closed:
            return
        for hook in list(self._on_close):
            hook()
        self._closed = True
        self._cache.drop()
        self._store.close()

    def __enter__(self) -> Persona:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("this Persona is closed; open a new one with Persona(path).")

    def _embed(self, texts: Sequence[str]) -> Vectors:
        return embed_checked(self.embedder, texts)

    # -- writing ---------------------------------------------------------------------------------------------

    def _insert(
        self,
        user_id: str,
        items: list[NewMemory],
        *,
        progress: bool = False,
        imported_history: Sequence[HistoryEntry] | None = None,
    ) -> list[Memory]:
        vectors, keys = embed_with_keys(self.embedder, [i.text for i in items], progress=progress)
        for item, vector, item_keys in zip(items, vectors, keys, strict=True):
            item.embedding = vector
            item.key_embeddings = item_keys
        embedder = self.embedder
        rows = self._store.insert_many(
            user_id,
            items,
            now=self.now(),
            embedder=(embedder.id, int(vectors.shape[1])),
            imported_history=imported_history,
        )
        return [memory for memory, _seq, _inserted in rows]

    def add(
        self,
        user_id: str,
        text: str,
        *,
        kind: str = "fact",
        metadata: dict[str, Any] | None = None,
        created_at: datetime | None = None,
        importance: float | None = None,
        source: str = "api",
    ) -> Memory:
        """Remember one thing about a user. An exact duplicate fact/preference/profile returns the existing one."""
        self._check_open()
        user_id = check_user_id(user_id)
        item = prepare_item(
            {
                "text": text,
                "kind": kind,
                "metadata": metadata,
                "created_at": created_at,
                "importance": importance,
                "source": source,
            },
            self.now(),
        )
        return self._insert(user_id, [item])[0]

    def add_many(
        self, user_id: str, items: Iterable[str | Mapping[str, Any]], *, progress: bool = False
    ) -> list[Memory]:
        """Remember many things at once: embedded in batches, written atomically (all or none), in order."""
        self._check_open()
        user_id = check_user_id(user_id)
        if isinstance(items, (str, bytes, Mapping)):
            raise InvalidInputError("items must be a list of strings or dicts; for one memory use add().")
        now = self.now()
        prepared = [prepare_item(item, now, i) for i, item in enumerate(items)]
        if not prepared:
            return []
        return self._insert(user_id, prepared, progress=progress)

    def update(
        self,
        memory_id: str,
        *,
        text: str | None = None,
        metadata: dict[str, Any] | None = None,
        kind: str | None = None,
        importance: float | None = None,
    ) -> Memory:
        """Change a memory; the history keeps the earlier version. Text changes are re-embedded."""
        self._check_open()
        memory_id = self._check_id(memory_id)
        changes: dict[str, Any] = {}
        embedding = None
        if text is not None:
            changes["text"] = check_text(text)
            changes["content_hash"] = content_hash(changes["text"])
        if metadata is not None:
            changes["metadata"] = check_metadata(metadata)
        if kind is not None:
            changes["kind"] = check_kind(kind)
        if importance is not None:
            changes["importance"] = check_importance(importance)
        if not changes:
            raise InvalidInputError("nothing to update: pass text=, metadata=, kind= or importance=.")
        self._store.get(memory_id)  # NotFoundError before any embedding work
        key_embeddings = None
        if text is not None:
            own, keys = embed_with_keys(self.embedder, [changes["text"]])
            embedding, key_embeddings = own[0], keys[0]
        memory, seq = self._store.update(
            memory_id, changes, now=self.now(), embedding=embedding, key_embeddings=key_embeddings
        )
        if text is not None:
            self._cache.drop(memory.user_id)
        else:
            self._cache.patched(
                memory.user_id, seq, **{k: v for k, v in changes.items() if k in ("kind", "metadata")}
            )
        return memory

    def delete(self, memory_id: str) -> None:
        """Delete a memory and purge its text everywhere, earlier versions in the history included."""
        self._check_open()
        memory, seq = self._store.delete(self._check_id(memory_id), now=self.now())
        self._cache.patched(memory.user_id, seq, alive=False)

    def supersede(self, old_id: str, new_id: str, *, at: datetime | None = None) -> Memory:
        """Mark ``old_id`` as replaced by ``new_id`` (valid until ``at``); hidden from search and prompts."""
        self._check_open()
        new = self.get(new_id)
        old = self.get(old_id)
        if old.user_id != new.user_id:
            raise InvalidInputError("a memory can only be superseded by a memory of the same user.")
        if old_id == new_id:
            raise InvalidInputError("a memory cannot supersede itself.")
        when = check_time(at, what="at") or self.now()
        memory, seq = self._store.update(
            old_id, {"valid_to": when, "superseded_by": new_id}, now=self.now(), event="SUPERSEDE"
        )
        self._cache.patched(memory.user_id, seq, current=False)
        return memory

    def restore(self, memory_id: str) -> Memory:
        """Make a superseded memory current again (e.g. when an old fact is restated)."""
        self._check_open()
        memory, seq = self._store.update(
            self._check_id(memory_id),
            {"valid_to": None, "superseded_by": None},
            now=self.now(),
            event="RESTORE",
        )
        self._cache.patched(memory.user_id, seq, current=True)
        return memory

    def forget_user(self, user_id: str) -> int:
        """Erase everything about a user: records, history, vectors, index files. Returns memories erased."""
        self._check_open()
        user_id = check_user_id(user_id)
        count = self._store.forget_user(user_id)
        self._cache.drop(user_id, files=True)
        return count

    # -- reading ---------------------------------------------------------------------------------------------

    def _check_id(self, memory_id: object) -> str:
        if not isinstance(memory_id, str) or not memory_id.strip():
            raise InvalidInputError(f"memory_id must be a non-empty string, got {memory_id!r}.")
        return memory_id

    def get(self, memory_id: str) -> Memory:
        self._check_open()
        return self._store.get(self._check_id(memory_id))

    def list(
        self,
        user_id: str,
        *,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        include_superseded: bool = False,
    ) -> builtins.list[Memory]:
        """A user's memories, newest first (by created_at); superseded ones only when asked for."""
        self._check_open()
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise InvalidInputError(f"limit must be a positive integer, got {limit!r}.")
        return self._store.list(
            check_user_id(user_id),
            kind=check_kind(kind, allow_none=True),
            since=check_time(since, what="since"),
            until=check_time(until, what="until"),
            limit=limit,
            include_superseded=include_superseded,
        )

    def users(self) -> builtins.list[str]:
        """Every user with at least one memory, sorted."""
        self._check_open()
        return self._store.users()

    def history(self, memory_id: str) -> builtins.list[HistoryEntry]:
        """Every add/update/delete of a memory, oldest first (a deleted memory keeps only that it existed)."""
        self._check_open()
        return self._store.history(self._check_id(memory_id))

    def search(
        self,
        user_id: str,
        query: str,
        *,
        k: int = 10,
        kind: str | None = None,
        filters: dict[str, Any] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        include_superseded: bool = False,
    ) -> builtins.list[Hit]:
        """The user's k memories most relevant to ``query``, best first. Filters apply before ranking."""
        self._check_open()
        user_id = check_user_id(user_id)
        query = check_text(query, what="query")
        k = check_k(k)
        spec = Filters(
            kind=check_kind(kind, allow_none=True),
            metadata=check_filters(filters),
            since=_ts(check_time(since, what="since")),
            until=_ts(check_time(until, what="until")),
            include_superseded=include_superseded,
        )
        if self._store.user_state(user_id) == (0, 0):
            return []
        return self._search_vector(user_id, self._embed([query])[0], query, k, spec)

    def _search_vector(
        self, user_id: str, vector: Vectors, query: str, k: int, spec: Filters | None = None
    ) -> builtins.list[Hit]:
        """Search with an already embedded query (benchmarks time retrieval without the embedding)."""
        embedder_id = self.embedder.id
        reranker = self.reranker
        depth = k if reranker is None else max(k, self.rerank_depth)
        with self._cache._lock:
            index = self._cache.get(user_id, int(vector.shape[0]), embedder_id)
            ranked = rank(index, vector, query, depth, index.mask(spec or Filters()), self.ranking)
            seqs = [index.seqs[r.position] for r in ranked]
        memories = self._store.get_by_seqs(seqs)
        hits = [
            Hit(memory=memories[seq], score=r.score, parts=r.parts)
            for seq, r in zip(seqs, ranked, strict=True)
            if seq in memories
        ]
        return hits if reranker is None else rerank(reranker, query, hits, k)

    def stated_preferences(self, user_id: str, *, limit: int = 50) -> builtins.list[Memory]:
        """Episodes in which the user states a preference, aversion or constraint ("I prefer ...", "I'm
        allergic to ..."; see `persona.salience`), newest first, current only; assistant turns excluded.

        The profile strategy adds them to the user's facts and preferences, so what a user said in passing
        reaches prompts even when nothing was extracted from it.
        """
        self._check_open()
        user_id = check_user_id(user_id)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInputError(f"limit must be a positive integer, got {limit!r}.")
        if self._store.user_state(user_id) == (0, 0):
            return []
        embedder = self.embedder
        with self._cache._lock:
            index = self._cache.get(user_id, embedder.dim, embedder.id)
            episodes = np.fromiter((k == "episode" for k in index.kinds), dtype=bool, count=len(index))
            positions = np.flatnonzero(index.preferences & index.alive & index.current & episodes)
            seqs = [index.seqs[i] for i in positions[::-1]]
        found: builtins.list[Memory] = []
        for start in range(0, len(seqs), limit):
            memories = self._store.get_by_seqs(seqs[start : start + limit])
            found += [
                memories[q]
                for q in seqs[start : start + limit]
                if q in memories and memories[q].metadata.get("role") != "assistant"
            ]
            if len(found) >= limit:
                break
        found.sort(key=lambda m: m.created_at, reverse=True)
        return found[:limit]

    # -- prompting and chat (persona.prompting, persona.chat) -----------------------------------------------

    def prompt(
        self,
        user_id: str,
        message: str,
        *,
        strategy: str = "hybrid",
        model: str | None = None,
        max_prompt_tokens: int | None = None,
        history: Sequence[Mapping[str, Any]] | None = None,
    ) -> RenderedPrompt:
        """Render the user's memories and ``message`` into chat messages that fit the token budget."""
        self._check_open()
        from .prompting import build_prompt

        return build_prompt(
            self,
            user_id,
            message,
            strategy=strategy,
            model=model,
            max_prompt_tokens=max_prompt_tokens,
            history=history,
        )

    def chat(
        self,
        user_id: str,
        message: str,
        *,
        model: str | None = None,
        strategy: str = "hybrid",
        stream: bool = False,
        learn: bool = True,
        max_prompt_tokens: int | None = None,
        history: Sequence[Mapping[str, Any]] | None = None,
        **llm_kwargs: Any,
    ) -> Reply | ReplyStream:
        """Answer ``message`` with the personalized prompt through litellm, and learn from the turn."""
        self._check_open()
        from .chat import chat

        return chat(
            self,
            user_id,
            message,
            model=model,
            strategy=strategy,
            stream=stream,
            learn=learn,
            max_prompt_tokens=max_prompt_tokens,
            history=history,
            **llm_kwargs,
        )

    async def achat(
        self,
        user_id: str,
        message: str,
        *,
        model: str | None = None,
        strategy: str = "hybrid",
        stream: bool = False,
        learn: bool = True,
        max_prompt_tokens: int | None = None,
        history: Sequence[Mapping[str, Any]] | None = None,
        **llm_kwargs: Any,
    ) -> Reply | AsyncReplyStream:
        """The async twin of `chat`."""
        self._check_open()
        from .chat import achat

        return await achat(
            self,
            user_id,
            message,
            model=model,
            strategy=strategy,
            stream=stream,
            learn=learn,
            max_prompt_tokens=max_prompt_tokens,
            history=history,
            **llm_kwargs,
        )

    def feedback(self, reply_id: str, rating: float, *, comment: str | None = None) -> Feedback:
        """Rate a reply in [-1, 1]: recorded, nudges the importance of the memories it used."""
        self._check_open()
        from .chat import feedback

        return feedback(self, reply_id, rating, comment=comment)

    # -- export / import -------------------------------------------------------------------------------------

    def export_user(self, user_id: str) -> dict[str, Any]:
        """Everything about a user as JSON-serializable data; ``import_user`` restores it exactly."""
        self._check_open()
        return export_data(self._store, check_user_id(user_id))

    def import_user(self, data: Mapping[str, Any], *, progress: bool = False) -> builtins.list[Memory]:
        """Restore what ``export_user`` wrote (all or nothing). Memory ids must not exist in this store."""
        self._check_open()
        user_id, items, history = parse_export(data, self.now())
        if not items:
            return []
        return self._insert(user_id, items, progress=progress, imported_history=history)

    # -- maintenance -----------------------------------------------------------------------------------------

    def reembed(self, *, progress: bool = False) -> int:
        """Re-embed every memory with the current embedder (after changing it). Returns how many."""
        self._check_open()
        from tqdm.auto import tqdm

        rows: builtins.list[tuple[int, np.ndarray, np.ndarray | None]] = []
        total = self._store.count()
        dim = 0
        with tqdm(total=total, desc="re-embedding", unit="memory", disable=not progress) as bar:
            for batch in self._store.iter_texts():
                vectors, keys = embed_with_keys(self.embedder, [text for _seq, text in batch])
                dim = int(vectors.shape[1])
                rows.extend(
                    (seq, vec, item_keys)
                    for (seq, _text), vec, item_keys in zip(batch, vectors, keys, strict=True)
                )
                bar.update(len(batch))
        if dim == 0:
            dim = self.embedder.dim
        self._store.set_embeddings(rows, (self.embedder.id, dim))
        self._cache.drop(files=True)
        return len(rows)

    def count(self, user_id: str | None = None) -> int:
        """How many memories a user has (all users when None). Cheap: loads no model."""
        self._check_open()
        return self._store.count(None if user_id is None else check_user_id(user_id))

    def check(self, *, repair: bool = False) -> dict[str, Any]:
        """Check the store: SQLite integrity, embeddings present, index files readable and fresh.

        Returns ``{"integrity": "ok" | message, "missing_embeddings": n, "missing_keys": n,
        "stale_indexes": [user ids]}``; ``missing_keys`` counts memories written before sentence keys existed
        (they rank on their whole text only; `reembed` adds the keys). With ``repair=True`` stale or
        unreadable index files are rebuilt (memories are never touched).
        """
        self._check_open()
        report = self._store.check()
        stale = [u for u in self._store.users() if not self._cache.file_is_fresh(u)]
        report["stale_indexes"] = stale
        if repair and stale:
            embedder = self.embedder
            for user_id in stale:
                self._cache.drop(user_id, files=True)
                self._cache.get(user_id, embedder.dim, embedder.id)
            report["repaired"] = stale
        return report

    def stats(self) -> dict[str, Any]:
        """Users, memories by kind, store size and index state (cheap: loads no model)."""
        self._check_open()
        recorded = self._store.recorded_embedder()
        return {
            "path": str(self.path),
            "users": len(self._store.users()),
            "memories": self._store.count(),
            "by_kind": self._store.counts_by_kind(),
            "size_bytes": self._store.size_bytes(),
            "embedder": None if recorded is None else {"id": recorded[0], "dim": recorded[1]},
            "index": self._cache.state(),
        }

    # -- async twins -----------------------------------------------------------------------------------------

    async def aadd(self, user_id: str, text: str, **kwargs: Any) -> Memory:
        import asyncio

        return await asyncio.to_thread(self.add, user_id, text, **kwargs)

    async def aadd_many(
        self, user_id: str, items: Iterable[str | Mapping[str, Any]]
    ) -> builtins.list[Memory]:
        import asyncio

        return await asyncio.to_thread(self.add_many, user_id, items)

    async def asearch(self, user_id: str, query: str, **kwargs: Any) -> builtins.list[Hit]:
        import asyncio

        return await asyncio.to_thread(self.search, user_id, query, **kwargs)


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()
