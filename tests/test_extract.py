"""Extraction (rules and LLM) and supersession: what a user says becomes current facts, with history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from persona import Persona
from persona.errors import ExtractionFailed
from persona.learning.facts import Fact, extract_rules
from persona.learning.llm_facts import extract, extract_llm, parse_facts
from persona.learning.supersede import learn_facts
from persona.memories import Memories
from persona.store.sqlite import SQLiteStore
from persona.testing import FakeEmbedder

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("I live in Paris.", [("I live in Paris.", "profile", "location")]),
        ("Actually, I live in Berlin now!", [("I live in Berlin.", "profile", "location")]),
        ("I moved to Lisbon last year", [("I live in Lisbon.", "profile", "location")]),
        ("My name is Sam.", [("My name is Sam.", "profile", "name")]),
        (
            "I'm allergic to peanuts and shellfish",
            [
                ("I'm allergic to peanuts.", "fact", "allergy:peanuts"),
                ("I'm allergic to shellfish.", "fact", "allergy:shellfish"),
            ],
        ),
        (
            "I prefer shorter answers.",
            [("I prefer shorter answers.", "preference", "answer_length")],
        ),
        ("I don't like cilantro", [("I don't like cilantro.", "preference", "likes:cilantro")]),
        (
            "I hate early mornings.",
            [("I hate early mornings.", "preference", "likes:early mornings")],
        ),
        (
            "I really like my coffee black",
            [("I like my coffee black.", "preference", "likes:my coffee black")],
        ),
        (
            "My favorite color is green",
            [("My favorite color is green.", "preference", "favorite_color")],
        ),
        ("I work as a nurse", [("I work as a nurse.", "profile", "job")]),
        ("I'm vegetarian.", [("I'm vegetarian.", "profile", "diet")]),
        ("I'm 34 years old", [("I'm 34 years old.", "profile", "age")]),
        (
            "Hi! My name is Ana, and I live in Porto. I speak Portuguese.",
            [
                ("My name is Ana.", "profile", "name"),
                ("I live in Porto.", "profile", "location"),
                ("I speak Portuguese.", "fact", "speaks:portuguese"),
            ],
        ),
    ],
)
def test_rules_extract_first_person_statements(message: str, expected: list[tuple[str, str, str]]) -> None:
    assert [(f.text, f.kind, f.key) for f in extract_rules(message)] == expected


@pytest.mark.parametrize(
    "message",
    [
        "Do I live in Paris?",
        "Where do I live",
        "If I lived in Rome I would be happy.",
        "Can you call me Bob?",
        "I have a question about taxes.",
        "What is the capital of France?",
        "",
    ],
)
def test_rules_ignore_questions_hypotheticals_and_chatter(message: str) -> None:
    assert extract_rules(message) == []


def test_negations_carry_the_key_they_negate() -> None:
    (fact,) = extract_rules("I'm not allergic to peanuts anymore")
    assert fact.negated and fact.key == "allergy:peanuts"
    (fact,) = extract_rules("I don't live in Paris anymore.")
    assert fact.negated and fact.key == "location" and fact.metadata()["value"] == "paris"


def test_parse_facts_repairs_common_json_slips() -> None:
    good = [{"text": "I live in Oslo.", "kind": "profile", "key": "location", "value": "Oslo"}]
    assert parse_facts(json.dumps({"facts": good}))[0].key == "location"
    fenced = "Sure! Here you go:\n```json\n" + json.dumps({"facts": good})[:-2] + ",]}\n```"
    assert parse_facts(fenced)[0].text == "I live in Oslo."
    assert parse_facts(json.dumps(good))[0].kind == "profile"  # a bare list
    assert parse_facts('{"facts": [{"text": "I am tall.", "kind": "weird"}]}')[0].kind == "fact"
    assert parse_facts('{"facts": [{"text": "x", "key": "Likes: Green Tea"}]}')[0].key == "likes:green tea"
    for bad in ("no json here", '{"facts": "nope"}', '{"facts": [{"kind": "fact"}]}', "[1, 2"):
        with pytest.raises(ValueError):
            parse_facts(bad)


def test_llm_extraction_retries_with_the_error_then_succeeds() -> None:
    outputs = iter(["not json at all", '{"facts": [{"text": "I live in Rome.", "key": "location"}]}'])
    seen: list[list[dict[str, str]]] = []

    def fake(messages: list[dict[str, str]]) -> str:
        seen.append(messages)
        return next(outputs)

    facts = extract_llm("I live in Rome", model="fake", complete=fake)
    assert [f.text for f in facts] == ["I live in Rome."]
    assert len(seen) == 2 and "unusable" in seen[1][-1]["content"]
    assert "<message>\nI live in Rome\n</message>" in seen[0][1]["content"]


def test_llm_extraction_gives_up_and_extract_falls_back_to_rules() -> None:
    calls = 0

    def broken(messages: list[dict[str, str]]) -> str:
        nonlocal calls
        calls += 1
        return "{{{"

    with pytest.raises(ExtractionFailed):
        extract_llm("I live in Rome", model="fake", complete=broken, retries=2)
    assert calls == 3
    assert [f.text for f in extract("I live in Rome", model="fake", complete=broken)] == ["I live in Rome."]


def test_llm_extraction_through_litellm() -> None:
    answer = json.dumps({"facts": [{"text": "I have a cat.", "kind": "fact", "key": None}]})
    facts = extract_llm("I have a cat", model="gpt-4o-mini", mock_response=answer)
    assert facts == [Fact("I have a cat.", "fact", None, None, False)]
    # an LLM error (here: a model litellm cannot route) falls back to the rules
    assert extract("I live in Rome", model="no-such-provider-model")[0].key == "location"


@pytest.fixture
def p(tmp_path: Path) -> Iterator[Persona]:
    with Persona(
        tmp_path / "store", embedder=FakeEmbedder(), clock=lambda: T0 + timedelta(days=100)
    ) as persona:
        yield persona


@pytest.fixture
def w(p: Persona) -> Iterator[Memories]:
    """What learn_facts writes through: the memory service (as Persona's learning does), here on a second
    connection to the same store, so every write must reach ``p`` through the store."""
    memories = Memories(SQLiteStore(p.path), embedder=FakeEmbedder(), clock=lambda: T0 + timedelta(days=100))
    yield memories
    memories.close()


def current(p: Persona, user: str = "u") -> list[str]:
    return sorted(m.text for m in p.list(user, include_superseded=False) if m.kind != "episode")


def test_a_changed_fact_supersedes_the_old_one(p: Persona, w: Memories) -> None:
    t1, t2 = T0, T0 + timedelta(days=10)
    (paris,) = learn_facts(w, "u", extract_rules("I live in Paris"), at=t1)
    (berlin,) = learn_facts(w, "u", extract_rules("I live in Berlin now"), at=t2)
    assert current(p) == ["I live in Berlin."]
    old = p.get(paris.id)
    assert old.superseded_by == berlin.id and old.valid_to == t2 and old.created_at == t1
    assert p.get(berlin.id).created_at == t2 and p.get(berlin.id).current
    assert [h.memory.id for h in p.search("u", "where does the user live", k=5)] == [berlin.id]
    assert paris.id in [
        h.memory.id for h in p.search("u", "where does the user live", k=5, include_superseded=True)
    ]


def test_a_restated_old_fact_becomes_current_again(p: Persona, w: Memories) -> None:
    (paris,) = learn_facts(w, "u", extract_rules("I live in Paris"), at=T0)
    (berlin,) = learn_facts(w, "u", extract_rules("I live in Berlin"), at=T0 + timedelta(days=1))
    (again,) = learn_facts(w, "u", extract_rules("I live in Paris"), at=T0 + timedelta(days=2))
    assert again.id == paris.id and p.get(paris.id).current
    assert p.get(berlin.id).superseded_by == paris.id and p.get(berlin.id).valid_to == T0 + timedelta(days=2)
    assert current(p) == ["I live in Paris."]
    assert len(p.list("u", kind="profile", include_superseded=True)) == 2  # nothing duplicated


def test_multi_valued_facts_accumulate_and_only_negation_supersedes(p: Persona, w: Memories) -> None:
    learn_facts(w, "u", extract_rules("I'm allergic to peanuts and shellfish"), at=T0)
    learn_facts(w, "u", extract_rules("I'm no longer allergic to shellfish"), at=T0 + timedelta(days=1))
    assert current(p) == ["I'm allergic to peanuts.", "I'm not allergic to shellfish."]
    learn_facts(w, "u", extract_rules("I like tea. I don't like coffee."), at=T0 + timedelta(days=2))
    learn_facts(w, "u", extract_rules("I love coffee"), at=T0 + timedelta(days=3))
    assert "I love coffee." in current(p) and "I don't like coffee." not in current(p)
    assert "I like tea." in current(p)


def test_a_negated_single_value_ends_only_that_value(p: Persona, w: Memories) -> None:
    learn_facts(w, "u", extract_rules("I live in Paris"), at=T0)
    learn_facts(w, "u", extract_rules("I live in Berlin"), at=T0 + timedelta(days=1))
    learn_facts(w, "u", extract_rules("I don't live in Paris anymore"), at=T0 + timedelta(days=2))
    assert current(p) == ["I live in Berlin."]  # the negation ends nothing current, so chat does not keep it


def test_supersession_stays_within_one_user(p: Persona, w: Memories) -> None:
    learn_facts(w, "a", extract_rules("I live in Paris"), at=T0)
    learn_facts(w, "b", extract_rules("I live in Berlin"), at=T0 + timedelta(days=1))
    assert current(p, "a") == ["I live in Paris."]
    assert current(p, "b") == ["I live in Berlin."]


def test_a_fact_stored_earlier_without_its_key_gets_it(p: Persona, w: Memories) -> None:
    plain = p.add("u", "I live in Paris.", kind="profile", created_at=T0)
    learn_facts(w, "u", extract_rules("I live in Paris"), at=T0 + timedelta(days=1))
    assert p.get(plain.id).metadata["key"] == "location"
    learn_facts(w, "u", extract_rules("I live in Rome"), at=T0 + timedelta(days=2))
    assert not p.get(plain.id).current


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("hey, Priya here, dentist in Leeds", ["My name is Priya.", "I'm a dentist.", "I live in Leeds."]),
        (
            "I'm Tom. 52, live in Hull, work as a plumber",
            ["My name is Tom.", "I'm 52 years old.", "I live in Hull.", "I work as a plumber."],
        ),
        (
            "I'm Ada, an engineer at Acme in Turin",
            ["My name is Ada.", "I'm an engineer.", "I work at Acme.", "I live in Turin."],
        ),
        ("I live in Porto, any good bakeries?", ["I live in Porto."]),
        ("my husband Leo loves sailing", ["My husband is Leo."]),
        ("I grew up in Kraków", ["I'm from Kraków."]),
        ("I'm learning Dutch for work", ["I'm learning Dutch."]),
        ("cycling is my main hobby", ["Cycling is my hobby."]),
        ("I'm scared of spiders, honestly", ["I'm scared of spiders."]),
        ("I've gone off coffee, it keeps me up", ["I've gone off coffee."]),
        ("Mia and I broke up", ["Mia and I broke up."]),
        ("I live in a tiny flat", []),
        ("My sister lives in Rome", []),
        ("If I lived in Paris I'd eat croissants daily", []),
    ],
)
def test_rules_read_everyday_introductions_and_changes(message: str, expected: list[str]) -> None:
    assert [f.text for f in extract_rules(message)] == expected
