"""The rule extractor's general mechanisms (#13): casual spelling, clauses, word families, endings that only
end what is known, a partner's name over an unnamed mention, answer length as one slot."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from persona import Persona
from persona.learning.casual import casual_writer, normalize
from persona.learning.facts import extract_rules
from persona.learning.supersede import learn_facts
from persona.memories import Memories
from persona.store.sqlite import SQLiteStore
from persona.testing import FakeEmbedder

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def texts(message: str) -> list[str]:
    return [f.text for f in extract_rules(message)]


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        ("im 31 lol, i dont eat meat", "I'm 31, I don't eat meat"),
        ("cant stand olives tbh", "can't stand olives"),
        ("Priya here 👋 nurse in Leeds", "Priya here, nurse in Leeds"),
        ("It costs 1,000 euros", "It costs 1,000 euros"),
        ("U-Bahn or ATM?", "U-Bahn or ATM?"),
    ],
)
def test_casual_spelling_is_written_out(typed: str, written: str) -> None:
    assert normalize(typed) == written


def test_a_writer_who_capitalizes_nothing_is_recognized() -> None:
    assert casual_writer("hey im tariq, i live in bristol")
    assert not casual_writer("hey I'm Tariq, I live in Bristol")


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "hey im tariq, 27, i work as a bike courier in bristol",
            ["My name is Tariq.", "I'm 27 years old.", "I work as a bike courier.", "I live in Bristol."],
        ),
        ("Gabriel, 36, firefighter in Lyon", ["My name is Gabriel.", "I'm 36 years old.", "I'm a firefighter.", "I live in Lyon."]),
        ("I'm Amara. 31, lawyer, Lagos", ["My name is Amara.", "I'm 31 years old.", "I'm a lawyer.", "I live in Lagos."]),
        ("cant stand olives, never could", ["I can't stand olives."]),
        ("allergic to kiwi, sadly", ["I'm allergic to kiwi."]),
        ("You can call me Theo.", ["My name is Theo."]),
    ],
)
def test_casual_introductions_and_dropped_subjects(message: str, expected: list[str]) -> None:
    assert texts(message) == expected


@pytest.mark.parametrize(
    ("message", "place"),
    [
        ("we've been living in Cape Town for two weeks now", "Cape Town"),
        ("I live in a village near York", "York"),
        ("we rent a flat in Coventry", "Coventry"),
        ("Ok, we've done it: we're settled in Grenoble now", "Grenoble"),
        ("we moved to Pune last week for my wife's job", "Pune"),
    ],
)
def test_where_the_user_lives_is_read_by_a_family_of_verbs(message: str, place: str) -> None:
    assert f"I live in {place}." in texts(message)


@pytest.mark.parametrize(
    "message",
    [
        "We're relocating to Grenoble in March",  # not yet
        "If I lived in Paris I'd eat croissants daily",
        "My brother lives in Geneva",
        "I'd love to live by the sea someday",
        "I live in a tiny flat",
    ],
)
def test_plans_wishes_and_other_people_are_not_where_the_user_lives(message: str) -> None:
    assert not [f for f in extract_rules(message) if f.key == "location" and not f.negated]


@pytest.mark.parametrize(
    ("message", "key", "value"),
    [
        ("I'm a retired postman", "job", "retired postman"),
        ("recently retired from teaching piano", "job", "retired"),
        ("I've been a primary school teacher for twelve years", "job", "primary school teacher"),
        ("I work from home as a software tester", "job", "software tester"),
        ("I work in a bookshop now", "employer", "bookshop"),
        ("I joined a translation agency called Wortwerk", "employer", "Wortwerk"),
        ("I went vegetarian in January, feeling great", "diet", "vegetarian"),
        ("I'm doing keto at the moment", "diet", "keto"),
        ("I'm fluent in French and Portuguese", "speaks:portuguese", "Portuguese"),
        ("My first language is Yoruba", "speaks:yoruba", "Yoruba"),
        ("I'm married to Clara, she's a nurse", "partner", "Clara"),
        ("green tea is my thing", "likes:green tea", "green tea"),
    ],
)
def test_slots_are_read_by_word_families(message: str, key: str, value: str) -> None:
    assert (key, value) in [(f.key, f.value) for f in extract_rules(message)]


def test_pets_are_read_in_lists_and_from_our() -> None:
    assert texts("I have a budgie called Pip and an old cat named Sooty") == [
        "My budgie is called Pip.",
        "My cat is called Sooty.",
    ]
    assert texts("Our dog is called Tico and he hates the car") == ["My dog is called Tico."]
    assert texts("asking for my two rabbits") == ["I have two rabbits."]


def test_a_mention_in_a_question_still_counts() -> None:
    assert texts("what should I cook for my girlfriend Élise's birthday?") == ["My girlfriend is Élise."]


def test_answer_length_is_one_slot() -> None:
    keys = {f.key for m in ("I like really detailed answers", "bullet points only please") for f in extract_rules(m)}
    assert keys == {"answer_length"}
    assert texts("I'm not great with computers so please explain things step by step") == [
        "I prefer answers step by step."
    ]


# -- what chat keeps -----------------------------------------------------------------------------------------


@pytest.fixture
def p(tmp_path: Path) -> Iterator[Persona]:
    with Persona(tmp_path / "s", embedder=FakeEmbedder(), clock=lambda: T0 + timedelta(days=100)) as persona:
        yield persona


@pytest.fixture
def w(p: Persona) -> Iterator[Memories]:
    """What chat's learning writes through: the memory service, on a second connection to the same store."""
    memories = Memories(SQLiteStore(p.path), embedder=FakeEmbedder(), clock=lambda: T0 + timedelta(days=100))
    yield memories
    memories.close()


def current(p: Persona) -> list[str]:
    return sorted(m.text for kind in ("fact", "preference", "profile") for m in p.list("u", kind=kind))


def test_a_correction_of_the_assistant_states_nothing_new(p: Persona, w: Memories) -> None:
    learn_facts(w, "u", extract_rules("I'm not vegetarian lol"), at=T0)
    assert current(p) == []
    learn_facts(w, "u", extract_rules("I'm vegetarian"), at=T0 + timedelta(days=1))
    learn_facts(w, "u", extract_rules("I'm not vegetarian anymore"), at=T0 + timedelta(days=2))
    assert current(p) == ["I'm not vegetarian anymore."]  # it ended the diet, so it is kept


def test_an_ending_matches_the_stored_value_by_its_words(p: Persona, w: Memories) -> None:
    learn_facts(w, "u", extract_rules("I'm a yoga instructor"), at=T0)
    learn_facts(w, "u", extract_rules("Ugh, I'm not a yoga instructor anymore, the studio closed"), at=T0 + timedelta(days=1))
    assert current(p) == ["I'm not a yoga instructor anymore."]


def test_activities_stopped_end_the_liking(p: Persona, w: Memories) -> None:
    learn_facts(w, "u", extract_rules("I love badminton"), at=T0)
    learn_facts(w, "u", extract_rules("sadly i no longer play badminton, tore a ligament"), at=T0 + timedelta(days=1))
    assert current(p) == ["I no longer play badminton."]


def test_a_partner_named_replaces_an_unnamed_mention_and_is_not_replaced_by_one(p: Persona, w: Memories) -> None:
    learn_facts(w, "u", extract_rules("My wife thinks I should become a chef"), at=T0)
    assert current(p) == ["I have a wife."]
    learn_facts(w, "u", extract_rules("I live in Leicester with my wife Meera"), at=T0 + timedelta(days=1))
    learn_facts(w, "u", extract_rules("my wife says hi"), at=T0 + timedelta(days=2))
    assert current(p) == ["I live in Leicester.", "My wife is Meera."]


def test_answer_length_changes_supersede(p: Persona, w: Memories) -> None:
    learn_facts(w, "u", extract_rules("I like really detailed answers, with the reasoning"), at=T0)
    learn_facts(w, "u", extract_rules("change of plan: bullet points only please"), at=T0 + timedelta(days=1))
    assert current(p) == ["I prefer bullet points only."]


@pytest.mark.parametrize(
    "message",
    [
        "My brother is a chef in Lyon and he loves it",
        "If I were rich I'd live in Monaco",
        "I might move to Berlin next year",
        "I'd love to be a pilot one day",
        'My friend said "I\'m vegan and I live in Paris"',
        "Tom is my best friend, he works at Google",
        "I live for the weekends",
        "I'm going to Paris next week",
        "I'm staying in a hotel in Lisbon",
        "I was in London last week",
        "I'm helping my dad move to Leeds",
        "i'm dying here",
        "I'm here",
        "I'm not a fan of how this looks",
        "I'm a bit tired today",
        "I live in fear of spiders",
    ],
)
def test_statements_that_are_not_about_the_user_now_give_nothing(message: str) -> None:
    assert extract_rules(message) == []


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Name: Lena, age: 29, location: Hamburg", ["My name is Lena.", "I'm 29 years old.", "I live in Hamburg."]),
        ("hey, I'm Sam, they/them", ["My name is Sam.", "My pronouns are they/them."]),
        ("I've got asthma", ["I have asthma."]),
        ("I'm a mum of two", ["I have two kids."]),
        ("I got laid off last month", ["I'm between jobs."]),
        ("I switched from tea to coffee", ["I've switched from tea.", "I've switched to coffee."]),
    ],
)
def test_forms_pronouns_and_other_families(message: str, expected: list[str]) -> None:
    assert texts(message) == expected
