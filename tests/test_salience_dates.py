"""Stated preferences for advice-seeking queries, and calendar dates named in queries (fake embedder)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from persona import Persona, RankingConfig
from persona.retrieval.dates import DateWindow, dated_near, query_dates
from persona.retrieval.preferences import seeks_advice, states_preference
from persona.testing import FakeEmbedder

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def p(tmp_path: Path) -> Iterator[Persona]:
    with Persona(tmp_path / "store", embedder=FakeEmbedder()) as persona:
        yield persona


@pytest.mark.parametrize(
    "text",
    [
        "I strongly dislike first-person shooter games.",
        "I'm allergic to peanuts.",
        "I have a severe fear of heights, so I avoid high places.",
        "I can't stand ghost tours.",
        "We only eat vegetarian food.",
        "I'm not a fan of horror films.",
        "My all-time favourite band is Queen.",
        "I'd rather travel by train.",
        "I follow a strict halal diet.",
    ],
)
def test_preferences_aversions_and_constraints_are_recognised(text: str) -> None:
    assert states_preference(text)


@pytest.mark.parametrize(
    "text",
    [
        "The meeting moved to Tuesday.",
        "Explain the result step by step.",
        "She likes jazz.",
        "Write 10 tests",
    ],
)
def test_other_statements_are_not(text: str) -> None:
    assert not states_preference(text)


def test_preference_kinds_count_whatever_the_wording() -> None:
    assert states_preference("Vegetarian, no mushrooms.", "preference")
    assert not states_preference("Vegetarian, no mushrooms.", "episode")


@pytest.mark.parametrize(
    ("query", "advice"),
    [
        ("Can you recommend some story-driven games?", True),
        ("What should I cook tonight?", True),
        ("Any ideas for a birthday gift for my wife?", True),
        ("What are some exciting activities to do in Queenstown?", True),
        ("What book did Anna recommend to Tom?", False),
        ("What advice does Gina give about running a business?", False),
        ("When did I go to Paris?", False),
        ("What is my favourite colour?", False),
    ],
)
def test_advice_seeking_queries(query: str, advice: bool) -> None:
    assert seeks_advice(query) is advice


def test_a_stated_aversion_surfaces_for_a_request_for_advice(p: Persona) -> None:
    filler = [f"note {i}: recommend trip paperwork item {i} for the office" for i in range(30)]
    p.add_many("u", [*({"text": t, "kind": "episode"} for t in filler), "I have a fear of heights."])
    query = "What outdoor adventures would you recommend for my trip?"
    off = Persona(p.path, embedder=FakeEmbedder(), ranking=RankingConfig(preference_boost=0))
    try:
        without = [h.memory.text for h in off.search("u", query, k=5)]
    finally:
        off.close()
    hits = p.search("u", query, k=5)
    assert "I have a fear of heights." not in without
    assert hits[0].memory.text == "I have a fear of heights."
    assert hits[0].parts["preference"] == 1.0
    # a question that does not ask for advice gets no prior
    assert p.search("u", "trip paperwork", k=1)[0].parts["preference"] == 0.0


@pytest.mark.parametrize(
    ("query", "windows"),
    [
        ("What did Ann share on 16 June, 2023?", [DateWindow(2023, 6, 16)]),
        ("What painting did Bob show on October 13, 2023?", [DateWindow(2023, 10, 13)]),
        ("What did John attend in March 2023?", [DateWindow(2023, 3, None)]),
        ("When did Mel go camping in June?", [DateWindow(None, 6, None)]),
        ("How many times has she gone to the beach in 2023?", [DateWindow(2023, None, None)]),
        ("What did she say on 31 February, 2023?", [DateWindow(2023, 2, None)]),  # no such day: the month
        ("May I ask what you recommend?", []),
    ],
)
def test_query_dates(query: str, windows: list[DateWindow]) -> None:
    assert query_dates(query) == windows


def test_dated_near_widens_windows_and_matches_months_of_any_year() -> None:
    ts = np.array(
        [datetime(2023, m, d, tzinfo=timezone.utc).timestamp() for m, d in [(6, 1), (6, 20), (7, 3)]]
    )
    assert dated_near([DateWindow(2023, 6, 16)], ts, before_days=1, after_days=7).tolist() == [
        False,
        True,
        False,
    ]
    assert dated_near([DateWindow(2023, 6, None)], ts, before_days=0, after_days=3).tolist() == [
        True,
        True,
        True,
    ]
    assert dated_near([DateWindow(None, 7, None)], ts, before_days=0, after_days=0).tolist() == [
        False,
        False,
        True,
    ]


def test_memories_dated_at_a_named_date_rank_higher(p: Persona) -> None:
    days = [datetime(2023, 5, d, tzinfo=timezone.utc) for d in (2, 9, 16, 30)]
    p.add_many("u", [{"text": "we went to the lake", "kind": "episode", "created_at": d} for d in days])
    hits = p.search("u", "what happened at the lake on 16 May, 2023?", k=4)
    assert hits[0].memory.created_at == days[2]
    # round 4: the graded span part replaces the flat date boost (off by default, RankingConfig.date_boost)
    assert hits[0].parts["span"] == 1.0
    assert [h.parts["span"] for h in hits[1:]] == [0.0, 0.0, 0.0]
    assert [h.parts["dated"] for h in hits] == [0.0] * 4
