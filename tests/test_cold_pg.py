"""A cold user on PostgreSQL is ranked by the server (persona.retrieval.coldstart) while the index cache fills
in the background: the same hits, in the same order, with the same scores as the warm index gives; a write or
a forget during the background build leaves no stale index in the cache; a snapshot that cannot be scored
(missing, old, garbled, rows added since) is the usual build."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from _stores import fresh_pg, require_pg

from persona import Persona
from persona.retrieval import coldstart, snapshot
from persona.store.base import SnapshotScoring
from persona.store.opening import open_store, store_location
from persona.testing import FakeEmbedder

START = datetime(2024, 5, 1, 9, tzinfo=timezone.utc)
WORDS = ["violin practice", "a trip to Paris", "peanut allergy", "jazz records", "the dentist", "my sister Ana"]
QUERIES = [
    "violin",
    "What did Caroline say about Paris?",
    "allergy last week",
    "records Melanie Ross",
    "Ana",
    "what should I avoid eating? any advice",
    "the dentist in May 2024",
    "note 17",
]


def items(n: int, offset: int = 0) -> list[dict[str, Any]]:
    """Episodes in sessions (links, conversations), some facts alone, speakers, several sentences each."""
    return [
        {
            "text": f"Note {i}: {WORDS[i % 6]} yesterday. Then we talked about {WORDS[(i * 5) % 6]} for a while?"
            + (" I prefer tea." if i % 11 == 0 else ""),
            "kind": "episode" if i % 7 else "fact",
            "metadata": {"session": i // 9, "speaker": ["Caroline", "Melanie Ross"][i % 2]},
            "created_at": (START + timedelta(minutes=3 * i)).isoformat(),
        }
        for i in range(offset, offset + n)
    ]


@pytest.fixture
def dsn() -> Iterator[str]:
    require_pg()
    with fresh_pg() as where:
        with Persona(where, embedder=FakeEmbedder()) as p:
            p.add_many("u", items(400))
            p.search("u", "violin", k=3)  # the first build, from the rows: saves the snapshot
        yield where


@pytest.fixture
def cold_paths(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each search that met a cold user was ranked by the server (True) or built as usual."""
    seen: list[bool] = []
    original = coldstart._cold

    def spy(*args: Any, **kwargs: Any) -> Any:
        out = original(*args, **kwargs)
        seen.append(out is not None)
        return out

    monkeypatch.setattr(coldstart, "_cold", spy)
    return seen


SEARCHES: list[dict[str, Any]] = [
    {},
    {"k": 25},
    {"k": 3},
    {"kind": "fact"},
    {"kind": "episode", "k": 15},
    {"filters": {"speaker": "Caroline"}},
    {"filters": {"session": [3, 4, 40]}},
    {"since": START + timedelta(hours=5), "until": START + timedelta(hours=12)},
    {"include_superseded": True},
]


def _same(cold: list[Any], warm: list[Any]) -> None:
    assert [h.memory.id for h in cold] == [h.memory.id for h in warm]
    for a, b in zip(cold, warm, strict=True):
        assert abs(a.score - b.score) <= 1e-5
        assert a.parts.keys() == b.parts.keys()
        assert all(abs(a.parts[key] - b.parts[key]) <= 1e-5 for key in a.parts)


def test_a_cold_search_ranked_by_the_server_is_the_warm_search(dsn: str, cold_paths: list[bool]) -> None:
    compared = 0
    for query in QUERIES:
        for search in SEARCHES:
            with Persona(dsn, embedder=FakeEmbedder()) as p:
                cold = p.search("u", query, **search)
                p._memories.searcher.close()  # the background build is done: the index is cached
                assert p.stats().index.cached_users == 1
                warm = p.search("u", query, **search)
            assert cold and len(cold) == min(search.get("k", 10), len(warm))
            _same(cold, warm)
            compared += 1
    assert cold_paths == [True] * compared  # every cold search went to the server


def test_the_next_search_waits_for_the_background_build(dsn: str, cold_paths: list[bool]) -> None:
    with Persona(dsn, embedder=FakeEmbedder()) as p:
        first = p.search("u", "violin")
        second = p.search("u", "violin")  # waits for the build, then the cached index
        assert p.stats().index.cached_users == 1
    assert cold_paths == [True]
    _same(first, second)


def _held(p: Persona) -> tuple[threading.Event, threading.Event]:
    """Make the cache's background build stop after building, before it keeps the index, until released."""
    built, release = threading.Event(), threading.Event()
    cache = p._memories.cache
    build = cache.build

    def held(*args: Any, **kwargs: Any) -> Any:
        index = build(*args, **kwargs)
        built.set()
        assert release.wait(30)
        return index

    cache.build = held  # type: ignore[method-assign]
    return built, release


def test_a_forget_during_the_background_build_leaves_no_index(dsn: str, cold_paths: list[bool]) -> None:
    with Persona(dsn, embedder=FakeEmbedder()) as p:
        built, release = _held(p)
        assert p.search("u", "violin")
        assert built.wait(30)  # the index of the user's rows is built, not yet kept
        p.forget_user("u")
        release.set()
        p._memories.searcher.close()
        assert "u" not in p._memories.cache._users  # the forgotten user's index was not kept
        assert p.search("u", "violin") == []
    assert cold_paths == [True]


def test_a_delete_or_an_addition_during_the_background_build_is_searched(dsn: str, cold_paths: list[bool]) -> None:
    with Persona(dsn, embedder=FakeEmbedder()) as p:
        built, release = _held(p)
        top = p.search("u", "violin")[0]
        assert built.wait(30)
        p.delete(top.memory.id)
        release.set()
        p._memories.searcher.close()
        assert "u" not in p._memories.cache._users  # built before the delete: not kept
        after = p.search("u", "violin")  # the delete erased the snapshot: the usual build, which saves one
        assert top.memory.id not in [h.memory.id for h in after]

    with Persona(dsn, embedder=FakeEmbedder()) as p:
        built, release = _held(p)
        p.search("u", "violin")
        assert built.wait(30)
        added = p.add("u", "a violin violin violin recital", kind="fact")
        release.set()
        p._memories.searcher.close()
        assert "u" in p._memories.cache._users  # an addition is appended to the kept index
        assert p.search("u", "violin violin recital")[0].memory.id == added.id
    assert cold_paths == [True, False, True]


def _sql(dsn: str, statement: str) -> None:
    import psycopg

    schema = dsn.rsplit("schema=", 1)[1]
    with psycopg.connect(require_pg(), autocommit=True) as conn:
        conn.execute(statement.replace("{schema}", schema))


def _warm(dsn: str, query: str) -> list[Any]:
    with Persona(dsn, embedder=FakeEmbedder()) as p:
        p.search("u", query)
        p._memories.searcher.close()
        return p.search("u", query)


@pytest.mark.parametrize(
    "damage",
    [
        "DELETE FROM {schema}.snapshot_keys WHERE user_id = 'u' AND part = 5",
        "DELETE FROM {schema}.snapshot_keys WHERE user_id = 'u'",
        "UPDATE {schema}.snapshot_keys SET stamp = stamp + 1 WHERE user_id = 'u'",
        "UPDATE {schema}.snapshot_keys SET stamp = stamp + 1 WHERE user_id = 'u' AND part = 0",
        "UPDATE {schema}.snapshots SET count = count - 1 WHERE user_id = 'u'",
        "UPDATE {schema}.snapshots SET data = decode('00', 'hex') WHERE user_id = 'u'",
        "DELETE FROM {schema}.snapshots WHERE user_id = 'u'",
    ],
)
def test_a_snapshot_the_server_cannot_score_is_the_usual_build(
    dsn: str, cold_paths: list[bool], damage: str
) -> None:
    expected = _warm(dsn, "What did Caroline say about Paris?")
    cold_paths.clear()
    _sql(dsn, damage)
    with Persona(dsn, embedder=FakeEmbedder()) as p:
        got = p.search("u", "What did Caroline say about Paris?")
        assert p.stats().index.cached_users == 1  # built as usual, at once
    assert cold_paths == [False]
    _same(got, expected)


def test_rows_added_after_the_snapshot_are_scored_here_and_ranked_with_it(cold_paths: list[bool]) -> None:
    """Rows after the snapshot (some continue its last conversation, some start new ones, a single fact
    alone) are scored by the client and ranked with the server's scores: the warm ranking."""
    require_pg()
    with fresh_pg() as dsn:
        with Persona(dsn, embedder=FakeEmbedder()) as p:
            p.add_many("u", items(403))
            p.add_many("u", items(2, offset=403))  # the last rows: episodes of session 44 (no preference after)
            p.search("u", "violin", k=3)  # saves the snapshot
            p._memories.cache.saves.wait()
            continuing = [{**i, "metadata": {**i["metadata"], "session": 44}} for i in items(4, offset=405)]
            added = p.add_many("u", continuing + items(12, offset=450))
            p.add("u", "a violin violin violin recital", kind="fact")
            saved = p._memories.store.load_snapshot_data("u")
            p.search("u", "violin", k=3)
            index, n = p._memories.cache._users["u"], saved.count if saved is not None else 0
            assert n and index.links[n] == n - 1 and index.group[n] == index.group[n - 1]  # continues it
            assert int(index.group[-1]) > int(index.group[n])  # and new conversations after it
        cold_paths.clear()
        _tail_is_warm(dsn, cold_paths)
        assert len(added) == 16


def _tail_is_warm(dsn: str, cold_paths: list[bool]) -> None:
    for query in [*QUERIES, "violin violin recital", "Note 404: a trip to Paris yesterday"]:
        for search in ({}, {"k": 420}, {"kind": "episode", "k": 100}):  # every memory, its score and parts
            with Persona(dsn, embedder=FakeEmbedder()) as p:
                cold = p.search("u", query, **search)
                p._memories.searcher.close()
                _same(cold, p.search("u", query, **search))
    assert cold_paths == [True] * (len(QUERIES) + 2) * 3
    with Persona(dsn, embedder=FakeEmbedder()) as p:
        assert p.search("u", "violin violin recital")[0].memory.text == "a violin violin violin recital"


def test_a_stale_snapshot_is_not_attempted(dsn: str, cold_paths: list[bool], monkeypatch: pytest.MonkeyPatch) -> None:
    """After a delete the snapshot is gone: the snapshot's data and the server's scores are not fetched."""
    from persona.store.postgres import PostgresStore

    with Persona(dsn, embedder=FakeEmbedder()) as p:
        p.delete(p.list("u")[0].id)
    attempted: list[str] = []
    for name in ("load_snapshot_data", "snapshot_scores"):
        original = getattr(PostgresStore, name)
        monkeypatch.setattr(
            PostgresStore, name, lambda self, *a, _o=original, _n=name, **k: attempted.append(_n) or _o(self, *a, **k)
        )
    with Persona(dsn, embedder=FakeEmbedder()) as p:
        assert p.search("u", "violin")
    assert cold_paths == [False] and attempted == []


def test_an_old_snapshot_without_geometry_is_saved_again_with_it(dsn: str, cold_paths: list[bool]) -> None:
    store = open_store(store_location(dsn))
    try:
        saved = store.load_snapshot("u")
        assert saved is not None
        arrays = snapshot.decode(saved.data, saved.count)
        assert arrays is not None and snapshot.has_geometry(arrays)
        old = {name: a for name, a in arrays.items() if not name.startswith("geo_")}
        import io

        import numpy as np

        buffer = io.BytesIO()
        np.savez(buffer, **old)
        assert snapshot.decode(buffer.getvalue(), saved.count) is not None  # the format before geometry
        from persona.store.base import Snapshot

        assert store.save_snapshot("u", Snapshot(saved.mutations, saved.count, saved.max_seq, buffer.getvalue(), saved.vectors))
    finally:
        store.close()
    expected = _warm(dsn, "violin")  # not scored by the server: saves the snapshot with its geometry again
    with Persona(dsn, embedder=FakeEmbedder()) as p:
        _same(p.search("u", "violin"), expected)
    assert cold_paths == [False, True]


def test_only_postgres_scores_snapshots(tmp_path: Any) -> None:
    store = open_store(store_location(str(tmp_path / "s")))
    try:
        assert not isinstance(store, SnapshotScoring)
    finally:
        store.close()
    with Persona(tmp_path / "s", embedder=FakeEmbedder()) as p:
        p.add_many("u", items(300))
        p.search("u", "violin")
        saved = p._memories.store.load_snapshot("u")
        assert saved is not None
        arrays = snapshot.decode(saved.data, saved.count)
        assert arrays is not None and not snapshot.has_geometry(arrays)  # SQLite's snapshot is as before


def test_a_forget_erases_the_snapshot_keys(dsn: str) -> None:
    import psycopg

    schema = dsn.rsplit("schema=", 1)[1]

    def keys() -> int:
        with psycopg.connect(require_pg()) as conn:
            row = conn.execute(f"SELECT count(*) FROM {schema}.snapshot_keys WHERE user_id = 'u'").fetchone()
            assert row is not None
            return int(row[0])

    assert keys() > 0
    with Persona(dsn, embedder=FakeEmbedder()) as p:
        p.forget_user("u")
    assert keys() == 0


def test_a_user_id_beyond_ascii_is_scored_too(cold_paths: list[bool]) -> None:
    require_pg()
    with fresh_pg() as where:
        with Persona(where, embedder=FakeEmbedder()) as p:
            p.add_many("zoë-ünï", items(300))
            p.search("zoë-ünï", "violin")  # saves the snapshot and its keys
        with Persona(where, embedder=FakeEmbedder()) as p:
            cold = p.search("zoë-ünï", "What did Caroline say about Paris?")
            p._memories.searcher.close()
            _same(cold, p.search("zoë-ünï", "What did Caroline say about Paris?"))
    assert cold_paths == [False, True]


def test_a_slow_snapshot_save_holds_no_other_search(dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A snapshot is written in the background on PostgreSQL: while a large user's save is still running,
    the same process searches another user (the index cache's lock is free)."""
    from persona.store.postgres import PostgresStore

    started, release = threading.Event(), threading.Event()
    original = PostgresStore.save_snapshot

    def slow(self: Any, user_id: str, saved: Any) -> bool:
        if user_id == "w":
            started.set()
            assert release.wait(30)
        return original(self, user_id, saved)

    monkeypatch.setattr(PostgresStore, "save_snapshot", slow)
    with Persona(dsn, embedder=FakeEmbedder()) as p:
        p.add_many("w", items(300, offset=500))
        assert p.search("w", "violin", k=3)  # built from the rows; its snapshot's save waits for `release`
        assert started.wait(30)
        assert p.search("u", "violin", k=3)  # not blocked by w's save
        assert p._memories.store.load_snapshot("w") is None
        release.set()
        p._memories.cache.saves.wait()
        saved = p._memories.store.load_snapshot("w")
        assert saved is not None and saved.count == 300 and saved.vectors
