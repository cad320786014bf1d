"""Changes and endings the rules read in general form (#13, round 2): a memory that fills several slots is
split when one of them changes; an ending is matched by its value when the rules guessed its slot wrong, or
ends the slot's current value when it names none; one liking said two ways is one thing; and the clause forms
the first-person reading needed (adverbs, "and work as", the head before a comma)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from persona import Persona
from persona.learning.facts import extract_rules
from persona.learning.slots import Fact
from persona.learning.supersede import learn_facts, same_thing, slots_of
from persona.memories import Memories
from persona.store.sqlite import SQLiteStore
from persona.testing import FakeEmbedder

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def p(tmp_path: Path) -> Iterator[Persona]:
    with Persona(tmp_path / "s", embedder=FakeEmbedder(), clock=lambda: T0) as persona:
        yield persona


@pytest.fixture
def w(p: Persona) -> Iterator[Memories]:
    memories = Memories(SQLiteStore(p.path), embedder=FakeEmbedder(), clock=lambda: T0 + timedelta(days=100))
    yield memories
    memories.close()


def current(p: Persona) -> list[str]:
    return sorted(m.text for kind in ("fact", "preference", "profile") for m in p.list("u", kind=kind))


def say(w: Memories, message: str, day: int) -> None:
    learn_facts(w, "u", extract_rules(message), at=T0 + timedelta(days=day))


def test_a_memory_that_fills_two_slots_is_split_when_one_changes(p: Persona, w: Memories) -> None:
    added = p.add("u", "I live in Porto and work as a nurse", kind="profile")
    assert [f.key for f in slots_of(added.text)] == ["location", "job"]
    say(w, "big news: we moved to Braga last month", 1)
    assert current(p) == ["I live in Braga.", "I work as a nurse."]
    assert not p.get(added.id).current
    say(w, "I'm a midwife now", 2)  # the split-off job is a memory of its own, superseded like any other
    assert current(p) == ["I live in Braga.", "I'm a midwife."]


def test_a_name_and_a_place_added_together_keep_the_name(p: Persona, w: Memories) -> None:
    p.add("u", "My name is Dev and I live in Pune", kind="profile")
    say(w, "I relocated to Hyderabad for work in March", 1)
    assert current(p) == ["I live in Hyderabad.", "My name is Dev."]


def test_an_ending_read_in_the_wrong_slot_ends_the_memory_that_holds_its_value(p: Persona, w: Memories) -> None:
    p.add("u", "I work at Norvik Bank as a data analyst", kind="profile")
    wrong_guess = Fact("Norvik Bank and I broke up.", "profile", "partner", "Norvik Bank", negated=True, store="ends")
    learn_facts(w, "u", [wrong_guess], at=T0 + timedelta(days=1))
    assert current(p) == ["I work as a data analyst.", "No longer: I work at Norvik Bank."]


def test_an_ending_of_a_value_nobody_holds_is_dropped(p: Persona, w: Memories) -> None:
    p.add("u", "I work at Norvik Bank", kind="profile")
    say(w, "Ben and I broke up", 1)  # no partner Ben is known: a correction, nothing to store
    assert current(p) == ["I work at Norvik Bank"]


@pytest.mark.parametrize(
    "ending",
    ["fwiw we're not together anymore", "we split up in the spring", "I'm single again", "we broke up lol"],
)
def test_an_ending_that_names_no_value_ends_the_current_one(p: Persona, w: Memories, ending: str) -> None:
    say(w, "road cycling, my girlfriend Maja rides too", 0)
    assert current(p) == ["My girlfriend is Maja."]
    say(w, ending, 1)
    assert current(p) == ["No longer: My girlfriend is Maja."]


def test_a_partner_who_died_is_not_also_learned_as_current(p: Persona, w: Memories) -> None:
    say(w, "My husband Geoffrey and I love Bath", 0)
    say(w, "My husband Geoffrey passed away last year", 1)
    assert "My husband is Geoffrey." not in current(p)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("I love spicy food, the hotter the better", "honestly I can't handle spicy stuff anymore"),
        ("I go bouldering most evenings", "I've stopped bouldering though, hurt my wrist"),
        ("I'm a keen birdwatcher", "I'm not really into birdwatching anymore tbh"),
        ("I hate olives, they taste like soap to me", "weirdly I actually like olives now"),
        ("I knit in the evenings to relax", "I don't knit anymore, no time"),
    ],
)
def test_a_reversal_of_one_thing_said_two_ways_supersedes(p: Persona, w: Memories, before: str, after: str) -> None:
    say(w, before, 0)
    assert len(current(p)) == 1
    say(w, after, 1)
    assert current(p) == [extract_rules(after)[0].text]


def test_different_things_of_one_kind_do_not_supersede(p: Persona, w: Memories) -> None:
    say(w, "I love dark chocolate", 0)
    say(w, "I hate milk chocolate", 1)
    assert current(p) == ["I hate milk chocolate.", "I love dark chocolate."]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("likes:spicy food", "likes:spicy stuff", True),
        ("likes:coffee for lent", "likes:coffee", True),
        ("likes:birdwatcher", "likes:birdwatching", True),
        ("likes:run", "likes:running", True),
        ("likes:dark chocolate", "likes:milk chocolate", False),
        ("likes:food", "likes:spicy food", False),  # nothing but generic words names no thing
        ("likes:tea", "allergy:tea", False),
    ],
)
def test_same_thing(a: str, b: str, same: bool) -> None:
    assert same_thing(a, b) is same


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("I also really like cycling on weekends", ["I like cycling."]),
        ("weirdly I actually like olives now", ["I like olives."]),
        ("I live in Porto and work as a nurse", ["I live in Porto.", "I work as a nurse."]),
        ("I support Celtic, have done since I was a boy", ["I support Celtic."]),
        ("I'm a keen birdwatcher", ["I'm a keen birdwatcher."]),
        ("I'm Canadian", ["I'm Canadian."]),
        ("I'm left-handed which makes piping icing a nightmare", ["I'm left-handed."]),
        ("I study law at UCL", ["I'm studying law.", "I study at UCL."]),
        ("I swim in the canal sometimes lol", ["I swim."]),
        ("hi im chloe, i live in brisbane", ["My name is Chloe.", "I live in Brisbane."]),
        ("i moved back to the gold coast", ["I live in Gold Coast."]),
        ("I'm in a flat in Solihull now", ["I live in Solihull."]),
        ("funny, I turned 42 on Sunday", ["I'm 42 years old."]),
        ("Sold the narrowboat in the end, too much upkeep", ["I no longer have the narrowboat."]),
    ],
)
def test_first_person_forms(message: str, expected: list[str]) -> None:
    assert [f.text for f in extract_rules(message)] == expected


@pytest.mark.parametrize(
    ("message", "keys"),
    [
        ("I'm Brian", {"name"}),  # a name, not a nationality
        ("I run late most days", set()),
        ("I run a tight ship", set()),
        ("I paint the fence", set()),
        ("hey im tired, i worked all night", set()),  # "tired" is no name
        ("I'm a keen birdwatcher", {"likes:birdwatcher"}),  # a liking, not a job
    ],
)
def test_forms_that_are_not_those_facts(message: str, keys: set[str]) -> None:
    assert {f.key for f in extract_rules(message)} == keys
