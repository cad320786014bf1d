"""Storing facts: supersede what they contradict, restore what is restated.

``learn_facts`` stores facts with their key in the metadata, marks the current memories they contradict as
superseded (valid until the time of the turn) and makes a restated older fact current again instead of
storing it twice. It writes through a `MemoryWriter`, a narrow protocol the memory service implements.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from ..types import Memory
from .facts import FACT_KINDS, Fact

__all__ = ["MemoryWriter", "learn_facts"]


class MemoryWriter(Protocol):
    """What learning needs from the memory service (`persona.memories.Memories`)."""

    def now(self) -> datetime: ...

    def get(self, memory_id: str) -> Memory: ...

    def add(self, user_id: str, item: Mapping[str, Any]) -> Memory: ...

    def add_many(self, user_id: str, items: Iterable[str | Mapping[str, Any]]) -> builtins.list[Memory]: ...

    def list(
        self, user_id: str, *, kind: str | None = None, include_superseded: bool = False
    ) -> builtins.list[Memory]: ...

    def set_metadata(self, memory_id: str, metadata: dict[str, Any]) -> Memory: ...

    def set_importance(self, memory_id: str, importance: float) -> Memory: ...

    def supersede(self, old_id: str, new_id: str, *, at: datetime | None = None) -> Memory: ...

    def restore(self, memory_id: str) -> Memory: ...


def _contradicts(new: Memory, old: Memory) -> bool:
    """Whether ``new`` makes ``old`` untrue; both carry the same key."""
    new_neg, old_neg = bool(new.metadata.get("negated")), bool(old.metadata.get("negated"))
    same_value = new.metadata.get("value") == old.metadata.get("value")
    if new_neg:
        return not old_neg and same_value  # "no longer in Paris" ends "in Paris", not "in Berlin"
    if ":" in str(new.metadata.get("key")):
        return old_neg  # "likes:tea" ends only "doesn't like tea"
    return True  # a single-valued slot: the new value replaces every other


def learn_facts(
    writer: MemoryWriter, user_id: str, facts: Sequence[Fact], *, at: datetime, source: str = "chat"
) -> list[Memory]:
    """Store ``facts`` for ``user_id`` as of ``at``; supersede what they contradict; restore restated ones."""
    stored: list[Memory] = []
    for fact in facts:
        memory = writer.add(
            user_id,
            {"text": fact.text, "kind": fact.kind, "metadata": fact.metadata(), "created_at": at, "source": source},
        )
        if not memory.current:  # said before, superseded since, said again: current again
            memory = writer.restore(memory.id)
        if (
            fact.key and memory.metadata.get("key") != fact.key
        ):  # the same text stored earlier without its key
            memory = writer.set_metadata(memory.id, {**memory.metadata, **fact.metadata()})
        key = memory.metadata.get("key")
        if key:
            for kind in FACT_KINDS:
                for old in writer.list(user_id, kind=kind, include_superseded=False):
                    if old.id != memory.id and old.metadata.get("key") == key and _contradicts(memory, old):
                        writer.supersede(old.id, memory.id, at=at)
        stored.append(memory)
    return stored
