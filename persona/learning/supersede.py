"""Storing facts so that the newest statement of a slot is the current one, whichever way it arrived.

``remember`` is the one write path for stable knowledge (``add``, ``add_many``, ``import_user`` and chat):
a fact, preference or profile entry that fills one slot (where the user lives, their job, diet, "likes:tea",
...) gets the slot's key in its metadata at write time (``slot_of``: the offline rules, or the extraction
model when one is configured), and then

* a later statement of the same slot supersedes the current memories it contradicts (valid until the new
  statement's time); an earlier statement (a backfill) is itself superseded by the newer one it contradicts;
* a restated older fact that was superseded becomes current again instead of being stored twice.

``supersede=False`` stores items as they are. It writes through a `MemoryWriter`, a narrow protocol the
memory service implements.
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from ..types import Memory
from .facts import FACT_KINDS, Fact, extract_rules, norm_value
from .llm_facts import extract

__all__ = ["SLOT_FIELDS", "MemoryWriter", "learn_facts", "remember", "settle", "slot_of"]

SLOT_FIELDS = ("key", "value", "negated")
"""The metadata fields that name a memory's slot (`persona.learning.facts.Fact.metadata`)."""


class MemoryWriter(Protocol):
    """What learning needs from the memory service (`persona.memories.Memories`)."""

    def now(self) -> datetime: ...

    def get(self, memory_id: str) -> Memory: ...

    def add_many(
        self, user_id: str, items: Iterable[str | Mapping[str, Any]], *, progress: bool = False
    ) -> builtins.list[Memory]: ...

    def list(
        self,
        user_id: str,
        *,
        kind: str | None = None,
        limit: int | None = None,
        include_superseded: bool = False,
    ) -> builtins.list[Memory]: ...

    def set_metadata(self, memory_id: str, metadata: dict[str, Any]) -> Memory: ...

    def set_importance(self, memory_id: str, importance: float) -> Memory: ...

    def supersede(self, old_id: str, new_id: str, *, at: datetime | None = None) -> Memory: ...

    def restore(self, memory_id: str) -> Memory: ...


def slot_of(text: str, *, model: str | None = None) -> Fact | None:
    """The one slot that ``text`` fills, or None (no slot, or several: "I live in Rome and work at X")."""
    facts = extract(text, model=model) if model else extract_rules(text)
    keyed = {f.key: f for f in facts if f.key}
    return next(iter(keyed.values())) if len(keyed) == 1 else None


@functools.lru_cache(maxsize=4096)
def _rule_slot(text: str) -> Fact | None:
    """`slot_of` by the rules, remembered: a user's slotless facts are looked at again on every keyed write."""
    return slot_of(text)


def _contradicts(new: Memory, old: Memory) -> bool:
    """Whether ``new`` makes ``old`` untrue; both carry the same key."""
    new_neg, old_neg = bool(new.metadata.get("negated")), bool(old.metadata.get("negated"))
    same_value = new.metadata.get("value") == old.metadata.get("value")
    if new_neg:
        return not old_neg and same_value  # "no longer in Paris" ends "in Paris", not "in Berlin"
    if ":" in str(new.metadata.get("key")):
        return old_neg  # "likes:tea" ends only "doesn't like tea"
    return True  # a single-valued slot: the new value replaces every other


def _keyed(item: str | Mapping[str, Any], model: str | None) -> str | Mapping[str, Any]:
    """``item`` with its slot in the metadata when it is stable knowledge that fills one slot."""
    entry: Mapping[str, Any] = {"text": item} if isinstance(item, str) else item
    if not isinstance(entry, Mapping):
        return item  # add_many reports the bad item
    metadata = entry.get("metadata")
    text = entry.get("text")
    if entry.get("kind", "fact") not in FACT_KINDS or not isinstance(text, str) or "\x00" in text:
        return item
    if metadata is not None and (not isinstance(metadata, Mapping) or "key" in metadata):
        return item  # the caller named the slot (or add_many reports bad metadata)
    fact = slot_of(text, model=model) if len(text) <= 2000 else None
    if fact is None:
        return item
    return {**entry, "metadata": {**(metadata or {}), **fact.metadata()}}


def remember(
    writer: MemoryWriter,
    user_id: str,
    items: Sequence[str | Mapping[str, Any]],
    *,
    supersede: bool = True,
    model: str | None = None,
    progress: bool = False,
) -> list[Memory]:
    """Store ``items`` (as `persona.memories.Memories.add_many` takes them, all or none) and, with
    ``supersede``, key each stable one by its slot and supersede what it contradicts (see the module doc)."""
    if not supersede:
        return writer.add_many(user_id, items, progress=progress)
    now = writer.now()
    keyed = [_keyed(item, model) for item in items]
    stored = writer.add_many(user_id, keyed, progress=progress)
    slots = [_slot(item) for item in keyed]
    if not any(slots):
        return stored
    for i, (memory, slot) in enumerate(zip(stored, slots, strict=True)):
        if slot and "key" not in memory.metadata:  # the same text, stored earlier without its slot
            stored[i] = writer.set_metadata(memory.id, {**memory.metadata, **slot})
    batch = {m.id for m in stored}
    current = _current_by_key(writer, user_id, skip=batch)  # the batch joins in order: later items win ties
    out: list[Memory] = []
    for memory, item in zip(stored, keyed, strict=True):
        key = memory.metadata.get("key")
        if key:
            memory = _settle(writer, memory, _said_at(item, now), current.setdefault(str(key), {}))
        out.append(memory)
    return out


def _slot(item: str | Mapping[str, Any]) -> dict[str, Any]:
    metadata = item.get("metadata") if isinstance(item, Mapping) else None
    if not isinstance(metadata, Mapping) or not metadata.get("key"):
        return {}
    return {k: metadata[k] for k in SLOT_FIELDS if k in metadata}


def _current_by_key(
    writer: MemoryWriter, user_id: str, skip: set[str] | frozenset[str] = frozenset()
) -> dict[str, dict[str, Memory]]:
    """The user's current stable memories by slot key (but those in ``skip``). Ones stored before slots
    existed (no ``key`` in their metadata) get theirs from the rules now, so they are superseded too."""
    current: dict[str, dict[str, Memory]] = {}
    for kind in FACT_KINDS:
        for m in writer.list(user_id, kind=kind, include_superseded=False):
            if m.id in skip:
                continue
            if "key" not in m.metadata:
                fact = _rule_slot(m.text) if len(m.text) <= 2000 else None
                if fact is None:
                    continue
                m = writer.set_metadata(m.id, {**m.metadata, **fact.metadata()})
            if m.metadata.get("key"):
                current.setdefault(str(m.metadata["key"]), {})[m.id] = m
    return current


def _said_at(item: str | Mapping[str, Any], now: datetime) -> datetime:
    when = item.get("created_at") if isinstance(item, Mapping) else None
    return when if isinstance(when, datetime) and when.tzinfo is not None else now


def _settle(writer: MemoryWriter, memory: Memory, at: datetime, same_key: dict[str, Memory]) -> Memory:
    """Make ``memory`` (stated at ``at``) and the other current memories of its key agree."""
    if not memory.current and memory.created_at < at:  # said before, superseded since, said again
        memory = writer.restore(memory.id)
    elif not memory.current:
        return memory
    same_key[memory.id] = memory
    for old in sorted(same_key.values(), key=lambda m: m.created_at):
        if old.id == memory.id:
            continue
        if _contradicts(memory, old) and old.created_at <= at:
            writer.supersede(old.id, memory.id, at=at)
            del same_key[old.id]
        elif _contradicts(old, memory) and old.created_at > at:  # a newer statement already holds the slot
            memory = writer.supersede(memory.id, old.id, at=old.created_at)
            del same_key[memory.id]
            break
    return memory


def settle(writer: MemoryWriter, user_id: str) -> int:
    """Key the user's current stable memories by slot and let the newest statement of each slot supersede
    the older ones it contradicts (after an import). Returns how many were superseded."""
    superseded = 0
    for same_key in _current_by_key(writer, user_id).values():
        for memory in sorted(same_key.values(), key=lambda m: m.created_at):
            if memory.id in same_key:
                before = len(same_key)
                _settle(writer, memory, memory.created_at, same_key)
                superseded += before - len(same_key)
    return superseded


def learn_facts(
    writer: MemoryWriter,
    user_id: str,
    facts: Sequence[Fact],
    *,
    at: datetime,
    source: str = "chat",
) -> list[Memory]:
    """Store extracted ``facts`` for ``user_id`` as of ``at`` (see `remember`), those that chat keeps only
    when they end or fill a slot (`persona.learning.slots.Fact.store`) only then."""
    facts = _worth_storing(writer, user_id, facts)
    items = [
        {"text": f.text, "kind": f.kind, "metadata": f.metadata(), "created_at": at, "source": source}
        for f in facts
    ]
    return remember(writer, user_id, items) if items else []


def _family(key: str | None) -> str:
    return (key or "").split(":")[0]


def _worth_storing(writer: MemoryWriter, user_id: str, facts: Sequence[Fact]) -> list[Fact]:
    """``facts`` without those that would only add noise: an "ends" fact that ends no current memory (a
    negation said to correct the assistant), a "fills" fact whose slot is already filled, and a shorter
    restatement of a single-valued slot's current value ("I work at Kestrel" after "... at Kestrel Software")."""
    if all(f.store == "always" and (not f.key or ":" in f.key or f.negated) for f in facts):
        return list(facts)
    current = _current_by_key(writer, user_id)
    filled = {_family(k) for k, same in current.items() if same}
    filled |= {_family(f.key) for f in facts if f.key and f.store != "fills"}
    out: list[Fact] = []
    for fact in facts:
        if fact.store == "fills" and _family(fact.key) in filled:
            continue
        if fact.key and ":" not in fact.key and not fact.negated and _restates(fact, current.get(fact.key, {}).values()):
            continue
        if fact.store == "ends":
            ended = _ended(fact, current.get(fact.key or "", {}).values())
            if ended is None:
                continue
            fact = dataclasses.replace(fact, value=ended)  # the value as stored, so the old one is superseded
        out.append(fact)
    return out


def _restates(fact: Fact, same_key: Iterable[Memory]) -> bool:
    """Whether a current positive memory of the slot holds ``fact``'s value and more words besides."""
    value = f" {norm_value(fact.value or '')} "
    for memory in same_key:
        old = f" {memory.metadata.get('value', '')} "
        if not memory.metadata.get("negated") and value.strip() and value in old and value != old:
            return True
    return False


def _ended(fact: Fact, same_key: Iterable[Memory]) -> str | None:
    """The stored value of the current positive memory ``fact`` (a negation) ends, or None: the same value,
    or one whose words hold the other's ("yoga instructor" ends "yoga instructor in Leeds")."""
    value = f" {norm_value(fact.value or '')} "
    for memory in same_key:
        old = str(memory.metadata.get("value", ""))
        if not memory.metadata.get("negated") and old and (value in f" {old} " or f" {old} " in value):
            return old
    return None
