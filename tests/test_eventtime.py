"""Event times: time expressions resolved at write time, stored with the memory on both engines, filtered
on, and the time spans a query names (persona.eventtime, persona.store.event_rows, persona.retrieval.queryspans)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from persona import InvalidInputError, Persona
from persona.eventtime import resolve
from persona.retrieval.config import RankingConfig
from persona.retrieval.queryspans import query_spans
from persona.testing import FakeEmbedder

SAID = datetime(2023, 5, 8, 13, 56, tzinfo=timezone.utc)  # a Monday


def _days(text: str, ref: datetime = SAID) -> list[tuple[str, str]]:
    return [(e.start.date().isoformat(), e.end.date().isoformat()) for e in resolve(text, ref)]


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("I went to a support group yesterday", ("2023-05-07", "2023-05-08")),
        ("Last week I ran a charity race", ("2023-05-01", "2023-05-08")),
        ("I painted that two years ago", ("2021-01-01", "2022-01-01")),
        ("next Saturday we go camping", ("2023-05-13", "2023-05-14")),
        ("last Friday was fun", ("2023-05-05", "2023-05-06")),
        ("we were there in May 2023", ("2023-05-01", "2023-06-01")),
        ("last weekend we went biking", ("2023-05-06", "2023-05-08")),
        ("two weeks ago", ("2023-04-21", "2023-04-28")),
        ("a couple of weeks ago", ("2023-04-14", "2023-05-05")),  # vague: a week either side
        ("a few days ago", ("2023-05-04", "2023-05-07")),
        ("3 days ago", ("2023-05-05", "2023-05-06")),
        ("this summer", ("2023-06-01", "2023-09-01")),
        ("last summer", ("2022-06-01", "2022-09-01")),
        ("on 3 June, 2023", ("2023-06-03", "2023-06-04")),
        ("October 13, 2023", ("2023-10-13", "2023-10-14")),
        ("I got it in 2022", ("2022-01-01", "2023-01-01")),
        ("next month", ("2023-06-01", "2023-07-01")),
    ],
)
def test_expressions_resolve_against_the_time_they_were_said(text: str, window: tuple[str, str]) -> None:
    assert _days(text) == [window]


def test_texts_without_time_expressions_and_several_expressions() -> None:
    assert resolve("I love painting sunsets", SAID) == ()
    assert resolve("", SAID) == ()
    assert _days("yesterday I booked it for next Saturday") == [
        ("2023-05-07", "2023-05-08"),
        ("2023-05-13", "2023-05-14"),
    ]
    assert resolve("31 February, 2023 was odd", SAID) == ()  # no such day: nothing read
    assert [e.text for e in resolve("We met last week.", SAID)] == ["last week"]


def _span_days(query: str) -> list[tuple[str, str]]:
    now = datetime(2026, 12, 2, tzinfo=timezone.utc)
    return [
        (
            datetime.fromtimestamp(a, timezone.utc).date().isoformat(),
            datetime.fromtimestamp(b, timezone.utc).date().isoformat(),
        )
        for a, b in query_spans(query, now, range(2022, 2024))
    ]


@pytest.mark.parametrize(
    ("query", "spans"),
    [
        ("What did she do in October 2023?", [("2023-10-01", "2023-11-01")]),
        ("towards the end of summer 2023", [("2023-08-01", "2023-09-01")]),
        ("during the last week of August 2023", [("2023-08-25", "2023-09-01")]),
        ("the first week of June 2023", [("2023-06-01", "2023-06-08")]),
        ("the week before 16 August", [("2022-08-09", "2022-08-16"), ("2023-08-09", "2023-08-16")]),
        ("a few days before November 22, 2023", [("2023-11-19", "2023-11-22")]),
        ("the weekend before 17 July 2023", [("2023-07-15", "2023-07-17")]),
        ("the Friday before 15 July 2023", [("2023-07-14", "2023-07-15")]),
        ("two weeks after 3 May 2023", [("2023-05-11", "2023-05-18")]),
        ("mid-May 2023", [("2023-05-11", "2023-05-21")]),
        ("over the holidays", [("2021-12-20", "2022-01-06"), ("2022-12-20", "2023-01-06")]),
        ("what did I say last month?", [("2026-11-01", "2026-12-01")]),
        ("the restaurant I mentioned a couple of weeks ago", [("2026-11-08", "2026-11-29")]),
        ("camping in June", [("2022-06-01", "2022-07-01"), ("2023-06-01", "2023-07-01")]),
        ("what should I cook?", []),
    ],
)
def test_query_spans(query: str, spans: list[tuple[str, str]]) -> None:
    assert _span_days(query) == spans


def test_event_times_are_stored_updated_filtered_and_erased(location: str) -> None:
    with Persona(location, embedder=FakeEmbedder()) as p:
        told = p.add("u", "Caroline: I went to the support group yesterday", kind="episode", created_at=SAID)
        plain = p.add("u", "Caroline: the group was lovely", kind="episode", created_at=SAID)
        assert [e.text for e in told.event_times] == ["yesterday"]
        assert told.event_times[0].start == datetime(2023, 5, 7, tzinfo=timezone.utc)
        assert plain.event_times == ()
        assert p.get(told.id).event_times == told.event_times
        assert told.to_dict()["event_times"] == [
            {"start": "2023-05-07T00:00:00+00:00", "end": "2023-05-08T00:00:00+00:00", "text": "yesterday"}
        ]

        may7 = datetime(2023, 5, 7, tzinfo=timezone.utc)
        may8 = datetime(2023, 5, 8, tzinfo=timezone.utc)
        # event_since/until: an overlapping event window, or created_at for a text that names no time
        assert [m.id for m in p.list("u", event_since=may7, event_until=may8)] == [told.id]
        assert {m.id for m in p.list("u", event_since=may8)} == {plain.id}
        hits = p.search("u", "support group", k=5, event_until=may8)
        assert [h.memory.id for h in hits] == [told.id]

        moved = p.update(told.id, text="Caroline: I went to the support group last week")
        assert [(e.text, e.start.date().isoformat()) for e in moved.event_times] == [
            ("last week", "2023-05-01")
        ]
        may1, may2 = datetime(2023, 5, 1, tzinfo=timezone.utc), datetime(2023, 5, 2, tzinfo=timezone.utc)
        assert [m.id for m in p.list("u", event_since=may1, event_until=may2)] == [told.id]
        assert [m.id for m in p.list("u", event_until=may7)] == [told.id]

        exported = p.export_user("u")
        p.forget_user("u")
        assert p.list("u", event_until=may7) == []
        imported = p.import_user(exported)
        assert {m.id: m.event_times for m in imported}[told.id] == moved.event_times

        p.delete(told.id)
        assert p.list("u", event_until=may7) == []
        assert p.search("u", "support group", k=5, event_until=may7) == []
        with pytest.raises(InvalidInputError):
            p.list("u", event_since="yesterday")  # type: ignore[arg-type]


def test_migration_007_computes_event_times_of_existing_rows(store_path: Path) -> None:
    with Persona(store_path, embedder=FakeEmbedder()) as p:
        told = p.add("u", "we moved here two years ago", kind="episode", created_at=SAID)
    db = sqlite3.connect(store_path / "persona.db")
    with db:  # as a store written before migration 007
        db.execute("ALTER TABLE memories DROP COLUMN event_times")
        db.execute("DELETE FROM _migrations WHERE name = '007_event_times'")
    db.close()
    with Persona(store_path, embedder=FakeEmbedder()) as p:
        assert [e.text for e in p.get(told.id).event_times] == ["two years ago"]


def test_a_memory_whose_event_time_lies_in_the_span_ranks_first(tmp_path: Path) -> None:
    aug16 = datetime(2023, 8, 16, 12, tzinfo=timezone.utc)
    rows = [
        {"text": "Melanie: I painted a lake at the park last week", "created_at": aug16},
        {
            "text": "Melanie: I painted a lake at the park",
            "created_at": datetime(2023, 3, 2, tzinfo=timezone.utc),
        },
        {"text": "Melanie: I painted a lake at the park two years ago", "created_at": aug16},
    ]
    for boost, first in ((0.2, 0), (0.0, None)):
        with Persona(
            tmp_path / str(boost), embedder=FakeEmbedder(), ranking=RankingConfig(span_boost=boost)
        ) as p:
            added = p.add_many("u", [{**r, "kind": "episode"} for r in rows])
            hits = p.search("u", "what did Melanie paint the week before 16 August 2023?", k=3)
            spans = {h.memory.id: h.parts["span"] for h in hits}
            if first is None:
                assert set(spans.values()) == {0.0}
                continue
            assert hits[0].memory.id == added[first].id
            # "last week": 7-13 Aug, 5 of its 7 days in 9-15 Aug (the best share); "two years ago" is 2021,
            # so only its telling on 16 Aug counts: half its chance lies in the week before
            assert spans[added[0].id] == 1.0
            assert 0.0 < spans[added[2].id] < 1.0
            assert spans[added[1].id] == 0.0


def test_relative_query_spans_count_from_the_persona_clock(tmp_path: Path) -> None:
    now = datetime(2024, 3, 20, tzinfo=timezone.utc)
    with Persona(tmp_path / "s", embedder=FakeEmbedder(), clock=lambda: now) as p:
        p.add_many(
            "u",
            [
                {
                    "text": "the ramen place on 5th was great",
                    "kind": "episode",
                    "created_at": datetime(2024, 2, 14, tzinfo=timezone.utc),
                },
                {
                    "text": "the ramen place on 5th was great",
                    "kind": "episode",
                    "created_at": datetime(2023, 9, 1, tzinfo=timezone.utc),
                },
            ],
        )
        hits = p.search("u", "the ramen place I mentioned last month", k=2)
        assert hits[0].memory.created_at.month == 2 and hits[0].parts["span"] == 1.0
        assert hits[1].parts["span"] == 0.0


def test_a_cold_index_takes_the_event_times_the_store_holds(store_path: Path) -> None:
    """A cold index (index file fresh, no rows after it) reads each row's stored windows instead of resolving
    the texts again: a window written into the column is the one search filters by."""
    with Persona(store_path, embedder=FakeEmbedder()) as p:
        ids = [p.add("u", f"note {i} about the harbour", created_at=datetime(2024, 5, 1, tzinfo=timezone.utc)).id for i in range(3)]
        p.search("u", "harbour", k=3)  # builds and saves the index file
    db = sqlite3.connect(store_path / "persona.db")
    with db:
        db.execute("UPDATE memories SET event_times = '[[0.0, 86400.0, \"1 January 1970\"]]' WHERE id = ?", (ids[1],))
    db.close()
    with Persona(store_path, embedder=FakeEmbedder()) as p:
        hits = p.search("u", "harbour", k=3, event_until=datetime(1970, 1, 3, tzinfo=timezone.utc))
    assert [h.memory.id for h in hits] == [ids[1]]
