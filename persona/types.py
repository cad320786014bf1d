"""The typed results persona returns: `Memory`, `Hit`, `HistoryEntry`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = ["KINDS", "Event", "HistoryEntry", "Hit", "Kind", "Memory"]

Kind = Literal["fact", "preference", "episode", "profile"]
KINDS: tuple[str, ...] = ("fact", "preference", "episode", "profile")
"""The memory kinds. Episodes are events (never merged); the others are stable knowledge (deduplicated)."""

Event = Literal["ADD", "UPDATE", "DELETE"]


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
        }


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
