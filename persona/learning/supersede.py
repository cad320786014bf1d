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
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from ..types import Memory
from .facts import FACT_KINDS, Fact, extract_rules, norm_value
from .llm_facts import extract

__all__ = [
    "SLOT_FIELDS",
    "MemoryWriter",
    "learn_facts",
    "remember",
    "same_thing",
    "settle",
    "slot_metadata",
    "slot_of",
    "slots_of",
]

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


def slots_of(text: str, *, model: str | None = None) -> list[Fact]:
    """The slots that ``text`` fills, one fact per key in the order said ("I live in Rome and work as a nurse":
    location, then job); the last statement of a key wins ("I left X and joined Y")."""
    facts = extract(text, model=model) if model else extract_rules(text)
    keyed = {f.key: f for f in facts if f.key}
    return list(keyed.values())


def slot_of(text: str, *, model: str | None = None) -> Fact | None:
    """The one slot that ``text`` fills, or None (no slot, or several: "I live in Rome and work at X")."""
    facts = slots_of(text, model=model)
    return facts[0] if len(facts) == 1 else None


@functools.lru_cache(maxsize=4096)
def _rule_slots(text: str) -> tuple[Fact, ...]:
    """`slots_of` by the rules, remembered: a user's slotless facts are looked at again on every keyed write."""
    return tuple(slots_of(text))


def slot_metadata(facts: Sequence[Fact]) -> dict[str, Any]:
    """The metadata that keys a memory filling ``facts``' slots: the first slot as ``key``/``value``/``negated``
    and, when there are several, all of them under ``slots`` (each with the text it would have alone), so
    that when one of them changes the memory is superseded and the others live on as memories of their own."""
    out = facts[0].metadata()
    if len(facts) > 1:
        out["slots"] = [{**f.metadata(), "text": f.text, "kind": f.kind} for f in facts]
    return out


def _slots(memory: Memory) -> list[Mapping[str, Any]]:
    """Every slot ``memory`` fills (its ``key``, or each of its ``slots``)."""
    meta = memory.metadata
    if not meta.get("key"):
        return []
    many = meta.get("slots")
    if isinstance(many, list) and many:
        return [s for s in many if isinstance(s, Mapping) and s.get("key")]
    return [meta]


def _slot(memory: Memory, key: str) -> Mapping[str, Any]:
    return next((s for s in _slots(memory) if s.get("key") == key), memory.metadata)


def _contradicts(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """Whether the slot ``new`` makes ``old`` untrue; both are slot metadata of one key (or, for a key naming
    one thing, of the same thing said two ways: `same_thing`)."""
    new_neg, old_neg = bool(new.get("negated")), bool(old.get("negated"))
    same_value = new.get("value") == old.get("value")
    if ":" in str(new.get("key")):
        return new_neg != old_neg  # "likes:tea" ends only "doesn't like tea", and the other way round
    if new_neg:
        return not old_neg and same_value  # "no longer in Paris" ends "in Paris", not "in Berlin"
    return True  # a single-valued slot: the new value replaces every other


def _keyed(item: str | Mapping[str, Any], model: str | None) -> str | Mapping[str, Any]:
    """``item`` with its slots in the metadata when it is stable knowledge that fills some (`slot_metadata`)."""
    entry: Mapping[str, Any] = {"text": item} if isinstance(item, str) else item
    if not isinstance(entry, Mapping):
        return item  # add_many reports the bad item
    metadata = entry.get("metadata")
    text = entry.get("text")
    if entry.get("kind", "fact") not in FACT_KINDS or not isinstance(text, str) or "\x00" in text:
        return item
    if metadata is not None and (not isinstance(metadata, Mapping) or "key" in metadata):
        return item  # the caller named the slot (or add_many reports bad metadata)
    facts = slots_of(text, model=model) if len(text) <= 2000 else []
    if not facts:
        return item
    return {**entry, "metadata": {**(metadata or {}), **slot_metadata(facts)}}


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
    slots = [_slot_fields(item) for item in keyed]
    if not any(slots):
        return stored
    for i, (memory, slot) in enumerate(zip(stored, slots, strict=True)):
        if slot and "key" not in memory.metadata:  # the same text, stored earlier without its slot
            stored[i] = writer.set_metadata(memory.id, {**memory.metadata, **slot})
    batch = {m.id for m in stored}
    current = _current_by_key(writer, user_id, skip=batch)  # the batch joins in order: later items win ties
    out: list[Memory] = []
    for memory, item in zip(stored, keyed, strict=True):
        if memory.metadata.get("key"):
            memory = _settle(writer, memory, _said_at(item, now), current)
        out.append(memory)
    return out


def _slot_fields(item: str | Mapping[str, Any]) -> dict[str, Any]:
    metadata = item.get("metadata") if isinstance(item, Mapping) else None
    if not isinstance(metadata, Mapping) or not metadata.get("key"):
        return {}
    return {k: metadata[k] for k in (*SLOT_FIELDS, "slots") if k in metadata}


Current = dict[str, dict[str, Memory]]


def _current_by_key(writer: MemoryWriter, user_id: str, skip: set[str] | frozenset[str] = frozenset()) -> Current:
    """The user's current stable memories by slot key (but those in ``skip``); a memory that fills several
    slots is under each. Ones stored before slots existed (no ``key`` in their metadata) get theirs from the
    rules now, so they are superseded too."""
    current: Current = {}
    for kind in FACT_KINDS:
        for m in writer.list(user_id, kind=kind, include_superseded=False):
            if m.id in skip:
                continue
            if "key" not in m.metadata:
                facts = _rule_slots(m.text) if len(m.text) <= 2000 else ()
                if not facts:
                    continue
                m = writer.set_metadata(m.id, {**m.metadata, **slot_metadata(facts)})
            _enter(current, m)
    return current


def _enter(current: Current, memory: Memory) -> None:
    for slot in _slots(memory):
        current.setdefault(str(slot["key"]), {})[memory.id] = memory


def _leave(current: Current, memory: Memory) -> None:
    for same in current.values():
        same.pop(memory.id, None)


def _said_at(item: str | Mapping[str, Any], now: datetime) -> datetime:
    when = item.get("created_at") if isinstance(item, Mapping) else None
    return when if isinstance(when, datetime) and when.tzinfo is not None else now


_GENERIC = frozenset(
    ["food", "foods", "stuff", "things", "thing", "kind", "kinds", "type", "types", "sort", "stuffs", "dishes", "dish", "a", "an", "the", "some", "any", "all", "my", "much", "very", "really", "too", "so"]
)


def _thing_words(key: str) -> frozenset[str]:
    """The words that name what a ``slot:thing`` key is about: the thing before any "for/in/at/..." phrase,
    without generic words, stemmed ("likes:spicy food" and "likes:spicy stuff" -> {spicy})."""
    thing = key.partition(":")[2]
    thing = re.split(r"\s(?:for|in|at|on|with|from|during|when|because|since|after|before)\s", f"{thing} ")[0]
    return frozenset(_stem(w) for w in thing.split() if w not in _GENERIC)


def _stem(word: str) -> str:
    """A word without the endings that make one activity several words: birdwatcher/birdwatching/birdwatchers,
    runner/running, olives/olive."""
    for end in ("ers", "ing", "er", "ists", "ist", "s"):
        if word.endswith(end) and len(word) - len(end) >= 3 and not word.endswith("ss"):
            word = word[: -len(end)]
            break
    return word[:-1] if len(word) > 3 and word[-1] == word[-2] else word


def same_thing(a: str, b: str) -> bool:
    """Whether two keys of one family name the same thing said two ways: one's words hold the other's
    ("likes:coffee for lent" and "likes:coffee"; not "likes:dark chocolate" and "likes:milk chocolate")."""
    if a == b:
        return True
    if a.partition(":")[0] != b.partition(":")[0] or ":" not in a or ":" not in b:
        return False
    x, y = _thing_words(a), _thing_words(b)
    return bool(x and y) and (x <= y or y <= x)


def _rivals(current: Current, key: str) -> dict[str, Memory]:
    """The current memories that hold ``key``'s slot: its own, and for a ``slot:thing`` key those of the same
    thing said another way."""
    out = dict(current.get(key, {}))
    if ":" in key:
        for other, same in current.items():
            if other != key and same and same_thing(key, other):
                out.update(same)
    return out


def _split(writer: MemoryWriter, old: Memory, ended: str, current: Current) -> None:
    """``old`` has just been superseded for its ``ended`` slot: its other slots live on as memories of their
    own, as of when ``old`` was said ("I live in Porto and work as a nurse", then "I moved to Braga")."""
    _leave(current, old)
    rest = [s for s in _slots(old) if s.get("key") != ended]
    if not rest:
        return
    items = [
        {
            "text": str(s.get("text") or old.text),
            "kind": str(s.get("kind") or old.kind),
            "metadata": {k: s[k] for k in SLOT_FIELDS if k in s},
            "created_at": old.created_at,
            "source": "split",
        }
        for s in rest
    ]
    for memory in writer.add_many(old.user_id, items):
        if memory.current:
            _enter(current, memory)


def _settle(writer: MemoryWriter, memory: Memory, at: datetime, current: Current) -> Memory:
    """Make ``memory`` (stated at ``at``) and the other current memories of its slots agree."""
    if not memory.current and memory.created_at < at:  # said before, superseded since, said again
        memory = writer.restore(memory.id)
    elif not memory.current:
        return memory
    _enter(current, memory)
    for new in _slots(memory):
        key = str(new["key"])
        for old in sorted(_rivals(current, key).values(), key=lambda m: m.created_at):
            if old.id == memory.id:
                continue
            theirs = _slot(old, key) if key in {s.get("key") for s in _slots(old)} else _rival_slot(old, key)
            if _contradicts(new, theirs) and old.created_at <= at:
                writer.supersede(old.id, memory.id, at=at)
                _split(writer, old, str(theirs.get("key")), current)
            elif _contradicts(theirs, new) and old.created_at > at:  # a newer statement already holds the slot
                memory = writer.supersede(memory.id, old.id, at=old.created_at)
                _split(writer, memory, key, current)
                return memory
    return memory


def _rival_slot(memory: Memory, key: str) -> Mapping[str, Any]:
    return next((s for s in _slots(memory) if same_thing(key, str(s.get("key")))), memory.metadata)


def settle(writer: MemoryWriter, user_id: str) -> int:
    """Key the user's current stable memories by slot and let the newest statement of each slot supersede
    the older ones it contradicts (after an import). Returns how many were superseded."""
    current = _current_by_key(writer, user_id)
    before = {m.id for same in current.values() for m in same.values()}
    for memory in sorted({m.id: m for same in current.values() for m in same.values()}.values(),
                         key=lambda m: m.created_at):
        if any(memory.id in same for same in current.values()):
            _settle(writer, memory, memory.created_at, current)
    after = {m.id for same in current.values() for m in same.values()}
    return len(before - after)


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
        key = fact.key or ""
        if key and ":" not in key and not fact.negated and _restates(fact, key, current.get(key, {}).values()):
            continue
        if fact.store == "ends":
            narrowed = _narrowed(fact, key, current.get(key, {}).values())
            if narrowed is not None:  # "I'm not a freelancer anymore" after "I'm a freelance translator"
                out.append(narrowed)
                continue
            ended = _ended(fact, key, _rivals(current, key).values()) or _ended_elsewhere(fact, current)
            if ended is None:
                continue
            text = fact.text
            if _family(ended[0]) != _family(key) or not fact.value:  # "we're not together anymore", "I left Norvik Bank"
                text = f"No longer: {ended[2].rstrip('.')}."
            fact = dataclasses.replace(fact, key=ended[0], value=ended[1], text=text)  # so the old one goes
        out.append(fact)
    return out


def _restates(fact: Fact, key: str, same_key: Iterable[Memory]) -> bool:
    """Whether a current positive memory of the slot holds ``fact``'s value and more words besides."""
    value = f" {norm_value(fact.value or '')} "
    for memory in same_key:
        slot = _slot(memory, key)
        old = f" {slot.get('value', '')} "
        if not slot.get("negated") and value.strip() and value in old and value != old:
            return True
    return False


def _ended(fact: Fact, key: str, same_key: Iterable[Memory]) -> tuple[str, str, str] | None:
    """The key and stored value of the current positive memory ``fact`` (a negation) ends, or None: the same
    value, or one whose words hold the other's ("yoga instructor" ends "yoga instructor in Leeds")."""
    value = f" {norm_value(fact.value or '')} "
    for memory in same_key:
        slot = _slot(memory, key) if ":" not in key else _rival_slot(memory, key)
        old = str(slot.get("value", ""))
        said = not value.strip() or value in f" {old} " or f" {old} " in value
        if not slot.get("negated") and old and (said or (":" in key and same_thing(key, str(slot.get("key"))))):
            return str(slot.get("key") or key), old, str(slot.get("text") or memory.text)
    return None


def _ended_elsewhere(fact: Fact, current: Current) -> tuple[str, str, str] | None:
    """An ending whose slot the rules guessed wrong ("I left Norvik Bank" read as a partner, "I sold the Civic"
    as a car when it was stored with no car word): the one current slot whose value holds the
    value named ends instead (an ending with no value names none)."""
    value = norm_value(fact.value or "")
    found = {
        (str(slot["key"]), str(slot.get("value")), str(slot.get("text") or memory.text))
        for same in current.values()
        for memory in same.values()
        for slot in _slots(memory)
        if not slot.get("negated") and f" {value} " in f" {slot.get('value')} "
    }
    return found.pop() if value and len(found) == 1 else None


_TERMS = re.compile(
    r"(?:freelance|self-employed|part-time|full-time|contract|temp|temporary|trainee|junior|senior|acting|interim|"
    r"volunteer|student|apprentice)",
    re.I,
)


def _narrowed(fact: Fact, key: str, same_key: Iterable[Memory]) -> Fact | None:
    """An ending of the terms of a job, not of the job: "I'm not a freelancer anymore" after "I'm a freelance
    translator" leaves "I'm a translator." (a single-valued slot whose value holds the term named, as a word
    before the rest: freelance/freelancer, part-time, junior, ...)."""
    said = norm_value(fact.value or "")
    term = next((t for t in _TERMS.findall(said)), None) if ":" not in key else None
    if not term or not re.fullmatch(rf"{re.escape(term.lower())}(?:r|er)?", said):
        return None
    for memory in same_key:
        slot = _slot(memory, key)
        old = str(slot.get("value", ""))
        words = old.split()
        if slot.get("negated") or len(words) < 2 or words[0] != term.lower():
            continue
        rest = " ".join(words[1:])
        text = re.sub(rf"\b(?:an?\s+)?{re.escape(term)}\s+", "", str(slot.get("text") or memory.text), count=1, flags=re.I)
        text = re.sub(r"\b(I'm|I am)\s+(?=[^\W\d_])", rf"\1 {_article(rest)} ", text, count=1)
        return dataclasses.replace(fact, text=text, value=rest, negated=False, store="always")
    return None


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeio" else "a"
