"""The async twins of `Persona`'s I/O methods: ``await p.asearch(...)`` runs ``p.search(...)`` in a worker thread.

`Persona` inherits them from `AsyncMethods`. Each twin has the signature of its sync method and runs it with
`asyncio.to_thread`, so it never blocks the event loop; one `Persona` is safe to share across threads, so
twins may run concurrently (``asyncio.gather``). `achat` is not here: it awaits the model call itself
(`persona.client_chat`). The mixin imports nothing from `persona.client`: `_Sync` is the structural type of
the sync methods it calls (mypy checks `Persona` against it at every call of a twin).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .backends.base import Vectors
    from .prompting.builder import RenderedPrompt
    from .types import CheckReport, Feedback, HistoryEntry, Hit, Memory, MemoryPage, StoreStats

__all__ = ["AsyncMethods"]


class _Sync(Protocol):
    """The sync `Persona` methods the twins run (see `persona.client` and `persona.client_chat`)."""

    def add(
        self,
        user_id: str,
        text: str,
        *,
        kind: str = ...,
        metadata: dict[str, Any] | None = ...,
        created_at: datetime | None = ...,
        importance: float | None = ...,
        source: str = ...,
        supersede: bool = ...,
        sensitivity: str | None = ...,
    ) -> Memory: ...

    def add_many(
        self,
        user_id: str,
        items: Iterable[str | Mapping[str, Any]],
        *,
        progress: bool = ...,
        supersede: bool = ...,
    ) -> builtins.list[Memory]: ...

    def update(
        self,
        memory_id: str,
        *,
        text: str | None = ...,
        metadata: dict[str, Any] | None = ...,
        kind: str | None = ...,
        importance: float | None = ...,
        sensitivity: str | None = ...,
    ) -> Memory: ...

    def delete(self, memory_id: str) -> None: ...

    def supersede(self, old_id: str, new_id: str, *, at: datetime | None = ...) -> Memory: ...

    def restore(self, memory_id: str) -> Memory: ...

    def forget_user(self, user_id: str) -> int: ...

    def get(self, memory_id: str) -> Memory: ...

    def list(
        self,
        user_id: str,
        *,
        kind: str | None = ...,
        since: datetime | None = ...,
        until: datetime | None = ...,
        limit: int | None = ...,
        include_superseded: bool = ...,
        sensitivity: str | Sequence[str] | None = ...,
        event_since: datetime | None = ...,
        event_until: datetime | None = ...,
    ) -> builtins.list[Memory]: ...

    def users(self) -> builtins.list[str]: ...

    def history(self, memory_id: str) -> builtins.list[HistoryEntry]: ...

    def reply_user(self, reply_id: str) -> str: ...

    def search(
        self,
        user_id: str,
        query: str,
        *,
        k: int = ...,
        kind: str | None = ...,
        filters: dict[str, Any] | None = ...,
        since: datetime | None = ...,
        until: datetime | None = ...,
        include_superseded: bool = ...,
        sensitivity: str | Sequence[str] | None = ...,
        event_since: datetime | None = ...,
        event_until: datetime | None = ...,
    ) -> builtins.list[Hit]: ...

    def search_vector(
        self, user_id: str, vector: Vectors, query: str, *, k: int = ...
    ) -> builtins.list[Hit]: ...

    def stated_preferences(self, user_id: str, *, limit: int = ...) -> builtins.list[Memory]: ...

    def export_user(self, user_id: str) -> dict[str, Any]: ...

    def import_user(self, data: Mapping[str, Any], *, progress: bool = ...) -> builtins.list[Memory]: ...

    def reembed(self, *, progress: bool = ...) -> int: ...

    def count(self, user_id: str | None = ...) -> int: ...

    def check(self, *, repair: bool = ...) -> CheckReport: ...

    def stats(self) -> StoreStats: ...

    def list_page(
        self,
        user_id: str,
        *,
        limit: int = ...,
        cursor: str | None = ...,
        kind: str | None = ...,
        since: datetime | None = ...,
        until: datetime | None = ...,
        include_superseded: bool = ...,
        sensitivity: str | Sequence[str] | None = ...,
        event_since: datetime | None = ...,
        event_until: datetime | None = ...,
    ) -> MemoryPage: ...

    def prompt(
        self,
        user_id: str,
        message: str,
        *,
        strategy: str = ...,
        model: str | None = ...,
        max_prompt_tokens: int | None = ...,
        history: Sequence[Mapping[str, Any]] | None = ...,
    ) -> RenderedPrompt: ...

    def feedback(self, reply_id: str, rating: float, *, comment: str | None = ...) -> Feedback: ...


class AsyncMethods:
    """An ``a``-prefixed twin of every `persona.Persona` method that does I/O (each runs in a worker thread)."""

    # -- writing ---------------------------------------------------------------------------------------------

    async def aadd(
        self: _Sync,
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
        """The async twin of `add`."""
        import asyncio

        return await asyncio.to_thread(
            self.add,
            user_id,
            text,
            kind=kind,
            metadata=metadata,
            created_at=created_at,
            importance=importance,
            source=source,
            supersede=supersede,
            sensitivity=sensitivity,
        )

    async def aadd_many(
        self: _Sync,
        user_id: str,
        items: Iterable[str | Mapping[str, Any]],
        *,
        progress: bool = False,
        supersede: bool = True,
    ) -> builtins.list[Memory]:
        """The async twin of `add_many`."""
        import asyncio

        return await asyncio.to_thread(self.add_many, user_id, items, progress=progress, supersede=supersede)

    async def aupdate(
        self: _Sync,
        memory_id: str,
        *,
        text: str | None = None,
        metadata: dict[str, Any] | None = None,
        kind: str | None = None,
        importance: float | None = None,
        sensitivity: str | None = None,
    ) -> Memory:
        """The async twin of `update`."""
        import asyncio

        return await asyncio.to_thread(
            self.update,
            memory_id,
            text=text,
            metadata=metadata,
            kind=kind,
            importance=importance,
            sensitivity=sensitivity,
        )

    async def adelete(self: _Sync, memory_id: str) -> None:
        """The async twin of `delete`."""
        import asyncio

        await asyncio.to_thread(self.delete, memory_id)

    async def asupersede(self: _Sync, old_id: str, new_id: str, *, at: datetime | None = None) -> Memory:
        """The async twin of `supersede`."""
        import asyncio

        return await asyncio.to_thread(self.supersede, old_id, new_id, at=at)

    async def arestore(self: _Sync, memory_id: str) -> Memory:
        """The async twin of `restore`."""
        import asyncio

        return await asyncio.to_thread(self.restore, memory_id)

    async def aforget_user(self: _Sync, user_id: str) -> int:
        """The async twin of `forget_user`."""
        import asyncio

        return await asyncio.to_thread(self.forget_user, user_id)

    # -- reading ---------------------------------------------------------------------------------------------

    async def aget(self: _Sync, memory_id: str) -> Memory:
        """The async twin of `get`."""
        import asyncio

        return await asyncio.to_thread(self.get, memory_id)

    async def alist(
        self: _Sync,
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
        """The async twin of `list`."""
        import asyncio

        return await asyncio.to_thread(
            self.list,
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

    async def alist_page(
        self: _Sync,
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
        """The async twin of `list_page`."""
        import asyncio

        return await asyncio.to_thread(
            self.list_page,
            user_id,
            limit=limit,
            cursor=cursor,
            kind=kind,
            since=since,
            until=until,
            include_superseded=include_superseded,
            sensitivity=sensitivity,
            event_since=event_since,
            event_until=event_until,
        )

    async def ausers(self: _Sync) -> builtins.list[str]:
        """The async twin of `users`."""
        import asyncio

        return await asyncio.to_thread(self.users)

    async def ahistory(self: _Sync, memory_id: str) -> builtins.list[HistoryEntry]:
        """The async twin of `history`."""
        import asyncio

        return await asyncio.to_thread(self.history, memory_id)

    async def areply_user(self: _Sync, reply_id: str) -> str:
        """The async twin of `reply_user`."""
        import asyncio

        return await asyncio.to_thread(self.reply_user, reply_id)

    async def asearch(
        self: _Sync,
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
        """The async twin of `search`."""
        import asyncio

        return await asyncio.to_thread(
            self.search,
            user_id,
            query,
            k=k,
            kind=kind,
            filters=filters,
            since=since,
            until=until,
            include_superseded=include_superseded,
            sensitivity=sensitivity,
            event_since=event_since,
            event_until=event_until,
        )

    async def asearch_vector(
        self: _Sync, user_id: str, vector: Vectors, query: str, *, k: int = 10
    ) -> builtins.list[Hit]:
        """The async twin of `search_vector`."""
        import asyncio

        return await asyncio.to_thread(self.search_vector, user_id, vector, query, k=k)

    async def astated_preferences(self: _Sync, user_id: str, *, limit: int = 50) -> builtins.list[Memory]:
        """The async twin of `stated_preferences`."""
        import asyncio

        return await asyncio.to_thread(self.stated_preferences, user_id, limit=limit)

    # -- export / import -------------------------------------------------------------------------------------

    async def aexport_user(self: _Sync, user_id: str) -> dict[str, Any]:
        """The async twin of `export_user`."""
        import asyncio

        return await asyncio.to_thread(self.export_user, user_id)

    async def aimport_user(
        self: _Sync, data: Mapping[str, Any], *, progress: bool = False
    ) -> builtins.list[Memory]:
        """The async twin of `import_user`."""
        import asyncio

        return await asyncio.to_thread(self.import_user, data, progress=progress)

    # -- maintenance -----------------------------------------------------------------------------------------

    async def areembed(self: _Sync, *, progress: bool = False) -> int:
        """The async twin of `reembed`."""
        import asyncio

        return await asyncio.to_thread(self.reembed, progress=progress)

    async def acount(self: _Sync, user_id: str | None = None) -> int:
        """The async twin of `count`."""
        import asyncio

        return await asyncio.to_thread(self.count, user_id)

    async def acheck(self: _Sync, *, repair: bool = False) -> CheckReport:
        """The async twin of `check`."""
        import asyncio

        return await asyncio.to_thread(self.check, repair=repair)

    async def astats(self: _Sync) -> StoreStats:
        """The async twin of `stats`."""
        import asyncio

        return await asyncio.to_thread(self.stats)

    # -- prompting and feedback ------------------------------------------------------------------------------

    async def aprompt(
        self: _Sync,
        user_id: str,
        message: str,
        *,
        strategy: str = "hybrid",
        model: str | None = None,
        max_prompt_tokens: int | None = None,
        history: Sequence[Mapping[str, Any]] | None = None,
    ) -> RenderedPrompt:
        """The async twin of `prompt`."""
        import asyncio

        return await asyncio.to_thread(
            self.prompt,
            user_id,
            message,
            strategy=strategy,
            model=model,
            max_prompt_tokens=max_prompt_tokens,
            history=history,
        )

    async def afeedback(self: _Sync, reply_id: str, rating: float, *, comment: str | None = None) -> Feedback:
        """The async twin of `feedback`."""
        import asyncio

        return await asyncio.to_thread(self.feedback, reply_id, rating, comment=comment)
