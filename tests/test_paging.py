"""Paging through a user's memories (`Persona.list_page`) on both engines: every memory exactly once, in
`list` order, also while memories are added during the walk; cursors are validated."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from persona import InvalidInputError, MemoryPage, Persona
from persona.testing import FakeEmbedder

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def walk(p: Persona, user: str, limit: int, **filters: object) -> list[MemoryPage]:
    pages = [p.list_page(user, limit=limit, **filters)]  # type: ignore[arg-type]
    while pages[-1].next_cursor is not None:
        assert len(pages) < 100, "the walk does not end"
        pages.append(p.list_page(user, limit=limit, cursor=pages[-1].next_cursor, **filters))  # type: ignore[arg-type]
    return pages


def seed(p: Persona) -> None:
    # 17 memories: distinct times, and a run of 6 sharing one timestamp (ties are ordered by insertion)
    items = [{"text": f"note number {i}", "kind": "episode", "created_at": T0 + timedelta(hours=i)} for i in range(11)]
    items += [{"text": f"tied note {i}", "kind": "episode", "created_at": T0 + timedelta(hours=5)} for i in range(6)]
    p.add_many("u", items)
    p.add("other", "another user's note", kind="episode")


def test_walking_every_page_gives_each_memory_once_in_list_order(location: str) -> None:
    with Persona(location, embedder=FakeEmbedder()) as p:
        seed(p)
        everything = [m.id for m in p.list("u")]
        assert len(everything) == 17
        for limit in (1, 4, 5, 17, 50):
            pages = walk(p, "u", limit)
            seen = [m.id for page in pages for m in page.memories]
            assert seen == everything, limit
            assert all(len(page.memories) == limit for page in pages[:-1])
            assert len(pages) == -(-17 // limit)
        assert [m.text for m in p.list_page("u", limit=3, kind="fact").memories] == []
        assert p.list_page("nobody", limit=3) == MemoryPage([], None)


def test_memories_added_during_the_walk_never_shift_a_page(location: str) -> None:
    with Persona(location, embedder=FakeEmbedder()) as p:
        seed(p)
        before = {m.id for m in p.list("u")}
        seen: list[str] = []
        page = p.list_page("u", limit=4)
        added = 0
        while True:
            seen += [m.id for m in page.memories]
            if page.next_cursor is None:
                break
            p.add("u", f"a new note {added}", kind="episode")  # newest: lands before the cursor
            p.add("u", f"an old note {added}", kind="episode", created_at=T0 - timedelta(days=1 + added))
            added += 1
            page = p.list_page("u", limit=4, cursor=page.next_cursor)
        assert len(seen) == len(set(seen)), "a memory came twice"
        assert before <= set(seen), "a memory present throughout was skipped"
        assert added >= 4


def test_bad_cursors_and_limits_are_refused(tmp_path: object) -> None:
    with Persona(str(tmp_path), embedder=FakeEmbedder()) as p:
        p.add("u", "one note")
        for cursor in ["", "not-a-cursor", "W10", "x" * 500, "WyJhIiwxXQ"]:  # W10 is [], WyJhIiwxXQ is ["a",1]
            with pytest.raises(InvalidInputError, match="next_cursor of the previous page"):
                p.list_page("u", cursor=cursor)
        for limit in (0, -1, True):
            with pytest.raises(InvalidInputError, match="limit"):
                p.list_page("u", limit=limit)


def test_pages_take_the_event_and_sensitivity_filters_of_list(location: str) -> None:
    with Persona(location, embedder=FakeEmbedder()) as p:
        said = datetime(2024, 5, 1, tzinfo=timezone.utc)
        p.add("u", "Went hiking last week", kind="episode", created_at=said)
        p.add("u", "I like jazz", kind="preference", created_at=said)
        p.add("u", "I take insulin every morning", kind="fact", created_at=said, sensitivity="health")
        for filters in (
            {"event_since": datetime(2024, 4, 20, tzinfo=timezone.utc), "event_until": datetime(2024, 4, 30, tzinfo=timezone.utc)},
            {"sensitivity": "health"},
            {"sensitivity": ["normal"], "kind": "preference"},
        ):
            listed = [m.id for m in p.list("u", **filters)]  # type: ignore[arg-type]
            assert listed, filters
            assert [m.id for page in walk(p, "u", 1, **filters) for m in page.memories] == listed, filters
        with pytest.raises(InvalidInputError, match="sensitivity"):
            p.list_page("u", sensitivity="nope")
