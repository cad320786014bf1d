"""The typed results persona returns: `Memory`, `Hit`, `HistoryEntry`, `StoreStats`, `CheckReport`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "KINDS",
    "CheckReport",
    "EmbedderInfo",
    "EventTime",
    "Feedback",
    "HistoryEntry",
    "Hit",
    "IndexState",
    "Kind",
    "LearningFailure",
    "Memory",
    "MemoryPage",
    "StoreStats",
]

Kind = Literal["fact", "preference", "episode", "profile"]
KINDS: tuple[str, ...] = ("fact", "preference", "episode", "profile")
"""The memory kinds. Episodes are events (never merged); the others are stable knowledge (deduplicated)."""


@dataclass(frozen=True)
class EventTime:
    """When an event a memory talks about happened: [start, end) in UTC, resolved at write time from a time
    expression of its text (``text``, e.g. "last week") against its ``created_at`` (`persona.eventtime`)."""

    start: datetime
    end: datetime
    text: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "text": self.text}


@dataclass(frozen=True)
class Memory:
    """One thing persona remembers about one user."""

    id: str
    user_id: str
    text: str
    kind: str
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    importance: float
    source: str = "api"
    valid_to: datetime | None = None
    """When a newer memory superseded this one (None while it is current)."""
    superseded_by: str | None = None
    sensitivity: str = "normal"
    """Who may see it: ``normal``, ``personal``, ``health``, ``financial``, ``secret`` or an operator's label
    (`persona.pii.SensitivityPolicy` says which labels reach which models)."""
    event_times: tuple[EventTime, ...] = ()
    """The event-time windows of the time expressions in ``text`` (empty when it names no time)."""

    @property
    def current(self) -> bool:
        return self.superseded_by is None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict (datetimes as ISO 8601 strings)."""
        return {
            "id": self.id,
            "user_id": self.user_id,
            "text": self.text,
            "kind": self.kind,
            "metadata": self.metadata,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "importance": self.importance,
            "source": self.source,
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
            "superseded_by": self.superseded_by,
            "sensitivity": self.sensitivity,
            "event_times": [e.to_dict() for e in self.event_times],
        }


@dataclass(frozen=True)
class MemoryPage:
    """One page of a user's memories, newest first (`persona.Persona.list_page`).

    ``next_cursor`` fetches the page after this one (None on the last page). The walk is keyset-paged:
    memories added while walking never shift a page, so every memory present throughout is seen exactly once.
    """

    memories: list[Memory]
    next_cursor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"memories": [m.to_dict() for m in self.memories], "next_cursor": self.next_cursor}


@dataclass(frozen=True)
class Hit:
    """One search result: the memory, its score (higher is better) and the parts the score is made of."""

    memory: Memory
    score: float
    parts: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.memory.to_dict(), "score": self.score, "parts": dict(self.parts)}


@dataclass(frozen=True)
class HistoryEntry:
    """One event in a memory's life. After a delete, the text of every earlier entry is purged (None)."""

    memory_id: str
    event: str
    at: datetime
    text: str | None
    kind: str | None
    metadata: dict[str, Any] | None
    importance: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "memory_id": self.memory_id,
            "event": self.event,
            "at": self.at.isoformat(),
            "text": self.text,
            "kind": self.kind,
            "metadata": self.metadata,
            "importance": self.importance,
        }


@dataclass(frozen=True)
class Feedback:
    """What ``feedback`` changed: the new importance of each memory the reply used, and memories learned."""

    reply_id: str
    rating: float
    importance: dict[str, float]
    learned: list[Memory]


@dataclass(frozen=True)
class LearningFailure:
    """A chat turn that learning could not store (see ``Persona.learning_errors``): the reply was returned, but
    the turn, or the facts it states, were not kept. Store them with ``add``/``add_many``, or chat again."""

    user_id: str
    reply_id: str
    message: str
    """The user's message of that turn."""
    error: str
    """What went wrong, as the exception said it."""
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "reply_id": self.reply_id,
            "message": self.message,
            "error": self.error,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True)
class EmbedderInfo:
    """The embedder a store was built with."""

    id: str
    dim: int


@dataclass(frozen=True)
class IndexState:
    """How many users' indexes are in memory, and how many index files are on disk."""

    cached_users: int
    index_files: int


@dataclass(frozen=True)
class StoreStats:
    """What `Persona.stats` reports (loads no model)."""

    path: str
    users: int
    memories: int
    by_kind: dict[str, int]
    size_bytes: int
    embedder: EmbedderInfo | None
    """None before the first memory is written."""
    index: IndexState

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``persona stats --json``."""
        return {
            "path": self.path,
            "users": self.users,
            "memories": self.memories,
            "by_kind": dict(self.by_kind),
            "size_bytes": self.size_bytes,
            "embedder": None if self.embedder is None else {"id": self.embedder.id, "dim": self.embedder.dim},
            "index": {"cached_users": self.index.cached_users, "index_files": self.index.index_files},
        }


@dataclass(frozen=True)
class CheckReport:
    """What `Persona.check` found: ``ok`` when the database is intact and every memory has its vector."""

    integrity: str
    """``"ok"``, or the database engine's description of the damage."""
    missing_embeddings: int
    missing_keys: int
    """Memories written before sentence keys existed: they rank on their whole text only (`reembed` adds
    the keys)."""
    stale_indexes: list[str]
    """Users whose index file is missing, unreadable or out of date (rebuilt on their next search)."""
    repaired: list[str] | None = None
    """With ``repair=True``: the users whose index files were rebuilt."""
    unknown_indexes: list[str] = field(default_factory=list)
    """Index files of no user in the store (a forgotten user's, leftovers): ``repair=True`` removes them."""
    index_problem: str | None = None
    """Why index files cannot be written or removed (the index directory is a file, or read-only), and what
    to do; ``repair=True`` raises `StoreError` with it."""

    @property
    def ok(self) -> bool:
        return self.integrity == "ok" and self.missing_embeddings == 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "integrity": self.integrity,
            "missing_embeddings": self.missing_embeddings,
            "missing_keys": self.missing_keys,
            "stale_indexes": list(self.stale_indexes),
            "unknown_indexes": list(self.unknown_indexes),
            "index_problem": self.index_problem,
        }
        if self.repaired is not None:
            out["repaired"] = list(self.repaired)
        return out
