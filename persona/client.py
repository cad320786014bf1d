"""`Persona`: the one entry point. Every public operation starts here.

`Persona` validates what callers pass and delegates: memory reads and writes to `persona.memories.Memories`
(the store, its index cache and the embedder), prompts to `persona.prompting`, model calls to `persona.chat`
and learning to `persona.learning.learner.Learner`. Nothing below it receives the `Persona` itself.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .client_async import AsyncMethods
from .client_chat import ChatMethods
from .client_governance import GovernanceMethods
from .client_maintenance import MaintenanceMethods
from .client_policy import PolicyMethods
from .errors import InvalidInputError
from .retrieval.config import RankingConfig
from .types import HistoryEntry, Hit, LearningFailure, Memory, MemoryPage
from .validation import (
    check_cursor,
    check_filters,
    check_id,
    check_importance,
    check_k,
    check_kind,
    check_metadata,
    check_positive_int,
    check_sensitivity,
    check_text,
    check_time,
    check_user_id,
    page_cursor,
)

if TYPE_CHECKING:
    from .backends.base import Embedder, Reranker, Vectors
    from .governance.retention import RetentionPolicy
    from .learning.policy import Arm
    from .pii import PiiPolicy, SensitivityPolicy

__all__ = ["Persona", "default_path"]


def default_path() -> str | Path:
    """``$PERSONA_HOME`` if set (a directory, or a PostgreSQL DSN), else the platform's user data directory."""
    env = os.environ.get("PERSONA_HOME")
    if env:
        from .store.opening import store_location

        return store_location(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("persona", appauthor=False))


class Persona(ChatMethods, GovernanceMethods, MaintenanceMethods, AsyncMethods, PolicyMethods):
    """A per-user memory store with hybrid retrieval.

    >>> with Persona("/tmp/store") as p:                      # doctest: +SKIP
    ...     p.add("alice", "I am allergic to peanuts", kind="fact")
    ...     p.search("alice", "what food should I avoid?", k=3)

    ``path`` is a directory (SQLite), or a PostgreSQL DSN ``postgresql://user:password@host:5432/dbname``
    (optionally ``?schema=NAME``; needs ``pip install 'persona[postgres]'``); default ``$PERSONA_HOME``,
    else the platform's user data dir. ``embedder`` is
    an `Embedder`, a sentence-transformers model name or path, or None: the embedder the store was built
    with, else the bundled all-MiniLM-L6-v2. ``reembed=True`` re-embeds every memory when the store was
    built with another embedder. ``clock`` returns the current time (timezone-aware) and is injectable.
    ``reranker`` (a `Reranker`, or a cross-encoder name or path; none by default) re-orders the top
    ``rerank_depth`` hits of every search by its score. ``model`` is the chat model (default
    ``$PERSONA_MODEL``, else the bundled local one); ``extract_model`` a model that extracts facts from chat
    turns (default: the offline rules). ``retention`` maps kinds to times to live (``{"episode":
    timedelta(days=365), "reply": timedelta(days=30)}``, or ``"episode=365d,reply=30d"``; see
    `persona.governance.retention`), applied by `sweep`, which runs on open unless ``sweep_on_open=False``.

    Privacy (docs/privacy.md): memories labelled ``health``, ``financial`` or ``secret`` reach only local
    models (``local/...``) and ``trusted_models`` (names or wildcards); ``sensitivity_rules`` changes the
    rule of a label or adds labels (`persona.pii.SensitivityPolicy`). ``pii`` says what writes do with the
    PII the detectors find: ``"keep"``, ``"label"`` (default: set the memory's sensitivity), ``"mask"``,
    ``"reject"``, a dict per detector, or a `persona.pii.PiiPolicy`.
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
        retention: RetentionPolicy | Mapping[str, Any] | str | None = None,
        sweep_on_open: bool = True,
        trusted_models: Sequence[str] = (),
        sensitivity_rules: Mapping[str, str] | None = None,
        pii: str | Mapping[str, str] | PiiPolicy = "label",
        arms: Sequence[Arm] | None = None,
        seed: int | None = None,
    ) -> None:
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise InvalidInputError(
                f"path must be a directory path or a PostgreSQL DSN, got {type(path).__name__}."
            )
        if path is not None and "\x00" in str(os.fspath(path)):
            raise InvalidInputError(f"path {os.fspath(path)!r} contains a NUL character; pass a real directory path.")
        check_positive_int(rerank_depth, what="rerank_depth")
        check_positive_int(cache_users, what="cache_users")
        for flag, given in (("reembed", reembed), ("sweep_on_open", sweep_on_open)):
            if not isinstance(given, bool):
                raise InvalidInputError(f"{flag} must be True or False, got {given!r}.")
        from .governance.retention import RetentionPolicy

        self.retention = RetentionPolicy.of(retention)
        """Times to live per kind (`persona.governance.RetentionPolicy`), applied by `sweep`."""
        for name, value in (("model", model), ("extract_model", extract_model)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise InvalidInputError(f"{name} must be a model name such as 'local/smollm2', got {value!r}.")
        from .pii import PiiPolicy, SensitivityPolicy

        routing = SensitivityPolicy(rules=sensitivity_rules or {}, trusted_models=trusted_models)
        pii_policy = PiiPolicy.of(pii)
        # The store, the indexes and numpy load here, not at `import persona`.
        from .backends.embedders import resolve_embedder  # light: loads no model
        from .backends.rerankers import resolve_reranker
        from .client_open import open_checked
        from .memories import Memories
        from .store.opening import store_location

        resolved_reranker = resolve_reranker(reranker)
        resolved: Embedder | str | Path | None = embedder
        if embedder is not None and not isinstance(embedder, (str, Path)):
            resolved = resolve_embedder(embedder)
        location = store_location(path) if path is not None else default_path()
        self.path: Path | None = location if isinstance(location, Path) else None
        """The store's directory, or None for a PostgreSQL store."""
        self.model = model
        store, resolved, recorded = open_checked(location, embedder, resolved, reembed=reembed)
        self.location = store.location
        """Where the store lives: its directory, or its DSN without the password."""
        self._memories = Memories(
            store,
            embedder=resolved,
            clock=clock,
            ranking=ranking,
            reranker=resolved_reranker,
            rerank_depth=rerank_depth,
            cache_users=cache_users,
            pii=pii_policy,
            sensitivity=routing,
        )
        from .learning.learner import Learner  # its extraction rules compile on first use, not at import

        self.learning = Learner(self._memories, extract_model=extract_model)
        """The background learning of chat turns: ``p.learning.wait(user_id)`` blocks until they are stored."""
        self._policy = self._open_policy(store, arms, seed)  # strategy="auto" (docs/bandit.md)
        self._closed = False
        if embedder is not None and recorded is not None and self.embedder.id != recorded[0]:
            self.reembed(progress=progress)
        if sweep_on_open:
            try:
                self.sweep()
            except BaseException:
                self.close()
                raise

    # -- settings --------------------------------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        """The embedder, loaded on first use (the store's recorded one when none was given)."""
        return self._memories.embedder

    @property
    def sensitivity_policy(self) -> SensitivityPolicy:
        """Which sensitivity labels exist and which models may see them (read-only)."""
        return self._memories.sensitivity

    @property
    def pii_policy(self) -> PiiPolicy:
        """What writes do with detected PII (read-only)."""
        return self._memories.pii

    @property
    def ranking(self) -> RankingConfig:
        return self._memories.searcher.ranking

    @ranking.setter
    def ranking(self, value: RankingConfig) -> None:
        if not isinstance(value, RankingConfig):
            raise InvalidInputError(f"ranking must be a RankingConfig, got {type(value).__name__}.")
        self._memories.searcher.ranking = value

    @property
    def reranker(self) -> Reranker | None:
        """The optional second ranking stage (None: no reranking)."""
        return self._memories.searcher.reranker

    @reranker.setter
    def reranker(self, value: Reranker | None) -> None:
        self._memories.searcher.reranker = value

    @property
    def rerank_depth(self) -> int:
        return self._memories.searcher.rerank_depth

    @rerank_depth.setter
    def rerank_depth(self, value: int) -> None:
        self._memories.searcher.rerank_depth = check_positive_int(value, what="rerank_depth")

    @property
    def extract_model(self) -> str | None:
        return self.learning.extract_model

    @extract_model.setter
    def extract_model(self, value: str | None) -> None:
        self.learning.extract_model = value

    # -- lifecycle -------------------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The current time from the injected clock, timezone-aware."""
        return self._memories.now()

    def close(self) -> None:
        """Wait for pending background learning, then release the store. Safe to call twice."""
        if self._closed:
            return
        self.learning.close()
        self._closed = True
        self._memories.close()

    def __enter__(self) -> Persona:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------------------------

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
        supersede: bool = True,
        sensitivity: str | None = None,
    ) -> Memory:
        """Remember one thing about a user. An exact duplicate fact/preference/profile returns the existing one.

        A fact, preference or profile entry that fills one slot ("I live in Lisbon": where the user lives)
        gets the slot's key in its metadata, and the newest statement of a slot supersedes the ones it
        contradicts, however they were stored; ``supersede=False`` stores it as it is. Name the slot yourself
        with ``metadata={"key": "location", "value": "lisbon"}``. ``sensitivity`` labels it (default
        ``normal``, or what the PII policy finds); the prompt for a model the label is kept from leaves it out.
        """
        self._check_open()
        user_id = check_user_id(user_id)
        if not isinstance(supersede, bool):
            raise InvalidInputError(f"supersede must be True or False, got {supersede!r}.")
        item = {
            "text": text,
            "kind": kind,
            "metadata": metadata,
            "created_at": created_at,
            "importance": importance,
            "source": source,
            "sensitivity": sensitivity,
        }
        return self.learning.remember(user_id, [item], supersede=supersede)[0]

    def add_many(
        self,
        user_id: str,
        items: Iterable[str | Mapping[str, Any]],
        *,
        progress: bool = False,
        supersede: bool = True,
    ) -> builtins.list[Memory]:
        """Remember many things at once: embedded in batches, written atomically (all or none), in order.
        Stable items supersede what they contradict, as in `add` (later items over earlier ones)."""
        self._check_open()
        user_id = check_user_id(user_id)
        if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
            raise InvalidInputError(
                f"items must be a list of strings or dicts, got {type(items).__name__}; for one memory use add()."
            )
        if not isinstance(supersede, bool):
            raise InvalidInputError(f"supersede must be True or False, got {supersede!r}.")
        return self.learning.remember(user_id, builtins.list(items), supersede=supersede, progress=progress)

    def update(
        self,
        memory_id: str,
        *,
        text: str | None = None,
        metadata: dict[str, Any] | None = None,
        kind: str | None = None,
        importance: float | None = None,
        sensitivity: str | None = None,
    ) -> Memory:
        """Change a memory; the history keeps the earlier version. Text changes are re-embedded."""
        self._check_open()
        memory_id = check_id(memory_id)
        changes: dict[str, Any] = {}
        if text is not None:
            changes["text"] = check_text(text)
        if metadata is not None:
            changes["metadata"] = check_metadata(metadata)
        if kind is not None:
            changes["kind"] = check_kind(kind)
        if importance is not None:
            changes["importance"] = check_importance(importance)
        if sensitivity is not None:
            changes["sensitivity"] = check_sensitivity(sensitivity)
        if not changes:
            raise InvalidInputError("nothing to update: pass text=, metadata=, kind=, importance= or sensitivity=.")
        return self._memories.update(memory_id, changes)

    def delete(self, memory_id: str) -> None:
        """Delete a memory and purge its text everywhere, earlier versions in the history included."""
        self._check_open()
        self._memories.delete(check_id(memory_id))

    def supersede(self, old_id: str, new_id: str, *, at: datetime | None = None) -> Memory:
        """Mark ``old_id`` as replaced by ``new_id`` (valid until ``at``); hidden from search and prompts."""
        self._check_open()
        return self._memories.supersede(check_id(old_id), check_id(new_id), at=check_time(at, what="at"))

    def restore(self, memory_id: str) -> Memory:
        """Make a superseded memory current again (e.g. when an old fact is restated)."""
        self._check_open()
        return self._memories.restore(check_id(memory_id))

    def forget_user(self, user_id: str) -> int:
        """Erase everything about a user: records, history, vectors, index files. Returns memories erased.

        The user's pending chat turns are dropped first (the one being learned is waited for), and a turn
        still waiting for its model answer is not learned, so nothing brings the user back afterwards."""
        self._check_open()
        user_id = check_user_id(user_id)
        self.learning.forget(user_id)
        self._policy.forget(user_id)
        return self._memories.forget_user(user_id)

    def learning_errors(self) -> builtins.list[LearningFailure]:
        """Chat turns whose background learning failed, oldest first (each also logged); empty when all were
        stored. ``forget_user`` drops a user's."""
        self._check_open()
        return self.learning.failures

    # -- reading ---------------------------------------------------------------------------------------------

    def get(self, memory_id: str) -> Memory:
        self._check_open()
        return self._memories.get(check_id(memory_id))

    def list(
        self,
        user_id: str,
        *,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        include_superseded: bool = False,
        sensitivity: str | Sequence[str] | None = None,
        event_since: datetime | None = None,
        event_until: datetime | None = None,
    ) -> builtins.list[Memory]:
        """A user's memories, newest first (by created_at); superseded ones only when asked for; only those
        with the ``sensitivity`` label(s) when given.

        ``event_since`` / ``event_until`` keep memories about events in [event_since, event_until): one of
        the memory's `Memory.event_times` overlaps it, or, for a memory whose text names no time, its
        ``created_at`` falls in it."""
        self._check_open()
        if limit is not None:
            limit = check_positive_int(limit)
        return self._memories.list(
            check_user_id(user_id), kind=check_kind(kind, allow_none=True), since=check_time(since, what="since"),
            until=check_time(until, what="until"), limit=limit, include_superseded=include_superseded,
            sensitivity=self._memories.labels(sensitivity), event_since=check_time(event_since, what="event_since"),
            event_until=check_time(event_until, what="event_until"),
        )

    def list_page(
        self,
        user_id: str,
        *,
        limit: int = 50,
        cursor: str | None = None,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        include_superseded: bool = False,
        sensitivity: str | Sequence[str] | None = None,
        event_since: datetime | None = None,
        event_until: datetime | None = None,
    ) -> MemoryPage:
        """One page of `list` (``limit`` memories, newest first) after ``cursor``, the previous page's
        ``next_cursor``; memories added while walking the pages never shift them. The filters are `list`'s;
        pass the same ones with every page of a walk."""
        self._check_open()
        memories, after = self._memories.store.list_page(
            check_user_id(user_id), limit=check_positive_int(limit), after=check_cursor(cursor),
            kind=check_kind(kind, allow_none=True), since=check_time(since, what="since"),
            until=check_time(until, what="until"), include_superseded=include_superseded,
            sensitivity=self._memories.labels(sensitivity), event_since=check_time(event_since, what="event_since"),
            event_until=check_time(event_until, what="event_until"),
        )
        return MemoryPage(memories, None if after is None else page_cursor(after))

    def users(self) -> builtins.list[str]:
        """Every user with at least one memory, sorted."""
        self._check_open()
        return self._memories.store.users()

    def history(self, memory_id: str) -> builtins.list[HistoryEntry]:
        """Every add/update/delete of a memory, oldest first (a deleted memory keeps only that it existed)."""
        self._check_open()
        return self._memories.store.history(check_id(memory_id))

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
        sensitivity: str | Sequence[str] | None = None,
        event_since: datetime | None = None,
        event_until: datetime | None = None,
    ) -> builtins.list[Hit]:
        """The user's k memories most relevant to ``query``, best first. Filters apply before ranking
        (``sensitivity``: label(s); ``event_since`` / ``event_until`` filter by event time as in `list`)."""
        self._check_open()
        user_id = check_user_id(user_id)
        query = check_text(query, what="query")
        k = check_k(k)
        from .retrieval.index import Filters

        spec = Filters(
            kind=check_kind(kind, allow_none=True),
            metadata=check_filters(filters),
            since=_ts(check_time(since, what="since")),
            until=_ts(check_time(until, what="until")),
            include_superseded=include_superseded,
            event_since=_ts(check_time(event_since, what="event_since")),
            event_until=_ts(check_time(event_until, what="event_until")),
        )
        return self._memories.search(user_id, query, k=k, filters=spec, sensitivity=self._memories.labels(sensitivity))

    def search_vector(self, user_id: str, vector: Vectors, query: str, *, k: int = 10) -> builtins.list[Hit]:
        """`search` with a query already embedded by this store's embedder (benchmarks time ranking alone)."""
        self._check_open()
        return self._memories.searcher.search_vector(check_user_id(user_id), vector, query, check_k(k))

    def stated_preferences(self, user_id: str, *, limit: int = 50) -> builtins.list[Memory]:
        """Episodes in which the user states a preference, aversion or constraint ("I prefer ...", "I'm
        allergic to ..."; see `persona.retrieval.preferences`), newest first, current only; assistant turns
        excluded.

        The profile strategy adds them to the user's facts and preferences, so what a user said in passing
        reaches prompts even when nothing was extracted from it.
        """
        self._check_open()
        return self._memories.stated_preferences(check_user_id(user_id), limit=check_positive_int(limit))

    # -- export / import -------------------------------------------------------------------------------------


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()
