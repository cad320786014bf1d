"""A cold index restored from the store's snapshot (persona.retrieval.snapshot) is the index built from the
rows: the same derived columns and the same ranking, on both engines, while reading only the rows added
after the snapshot (and, on SQLite, no vectors from the rows at all while the index files fit)."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _stores import fresh_pg, require_pg

from persona import Persona
from persona.retrieval import snapshot
from persona.retrieval.cache import KEYS_SUFFIX, IndexCache
from persona.store.opening import open_store, store_location
from persona.testing import FakeEmbedder

START = datetime(2024, 5, 1, 9, tzinfo=timezone.utc)
WORDS = ["violin practice", "a trip to Paris", "peanut allergy", "jazz records", "the dentist", "my sister Ana"]


def items(n: int, offset: int = 0) -> list[dict[str, Any]]:
    """Episodes in sessions (links, conversations), with speakers (mentions), dates in the text (event
    windows) and two sentences each (sentence keys)."""
    out = []
    for i in range(offset, offset + n):
        out.append(
            {
                "text": f"Note {i}: {WORDS[i % 6]} yesterday. Then we talked about {WORDS[(i * 5) % 6]} for a while?",
                "kind": "episode" if i % 7 else "fact",
                "metadata": {"session": i // 9, "speaker": ["Caroline", "Melanie Ross"][i % 2]},
                "created_at": (START + timedelta(minutes=3 * i)).isoformat(),
            }
        )
    return out


QUERIES = ["violin", "What did Caroline say about Paris?", "allergy last week", "records Melanie Ross", "Ana"]


def results(location: str) -> list[list[tuple[str, float]]]:
    with Persona(location, embedder=FakeEmbedder()) as p:
        return [[(h.memory.id, round(h.score, 9)) for h in p.search("u", q, k=10)] for q in QUERIES]


def assert_same(got: list[list[tuple[str, float]]], expected: list[list[tuple[str, float]]]) -> None:
    """The same hits in the same order, the scores equal but for rounding (on PostgreSQL a cold user's vector
    scores come from the server, persona.retrieval.coldstart)."""
    assert [[i for i, _ in hits] for hits in got] == [[i for i, _ in hits] for hits in expected]
    for a, b in zip(got, expected, strict=True):
        assert all(abs(x - y) <= 1e-6 for (_, x), (_, y) in zip(a, b, strict=True)), (a, b)


class Counting:
    """A store whose index reads are recorded."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.calls: list[tuple[str, int]] = []

    def user_rows(self, user_id: str, *, after_seq: int = 0, embeddings: bool = True) -> Any:
        self.calls.append(("user_rows", after_seq))
        return self.store.user_rows(user_id, after_seq=after_seq, embeddings=embeddings)

    def user_vectors(self, user_id: str, *, upto_seq: int) -> Any:
        self.calls.append(("user_vectors", upto_seq))
        return self.store.user_vectors(user_id, upto_seq=upto_seq)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def cold_index(location: str, directory: Path | None) -> tuple[Any, Counting]:
    store = Counting(open_store(store_location(location)))
    cache = IndexCache(store, directory)
    recorded = store.recorded_embedder()
    assert recorded is not None
    with cache.using("u", recorded[1], recorded[0]) as index:
        return index, store


def test_the_restored_index_is_the_built_one_and_ranks_the_same(location: str) -> None:
    with Persona(location, embedder=FakeEmbedder()) as p:
        p.add_many("u", items(400))
    built = results(location)  # the first cold build, from the rows: saves the snapshot
    directory = Path(location) / "index" if not location.startswith("postgres") else None
    if directory is not None:
        assert (directory / next(directory.glob("*.faiss")).name).with_suffix(KEYS_SUFFIX).exists()
    reader = open_store(store_location(location))
    try:
        saved = reader.load_snapshot("u")
    finally:
        reader.close()
    assert saved is not None and saved.count == 400

    restored, store = cold_index(location, directory)
    assert store.calls[0] != ("user_rows", 0)  # the rows before the snapshot are not read again
    assert ("user_rows", saved.max_seq) in store.calls
    # the vectors come from the files (SQLite) or with the snapshot (PostgreSQL), not from the rows
    assert not any(name == "user_vectors" for name, _ in store.calls)
    assert bool(saved.vectors) == (directory is None)

    class FromRows(Counting):
        def load_snapshot(self, user_id: str) -> None:
            return None

    rows_store = FromRows(open_store(store_location(location)))
    fresh = IndexCache(rows_store, None)
    with fresh.using("u", restored.dim, FakeEmbedder().id) as computed:
        for name in ("seqs", "ids", "kinds", "metadata"):
            assert getattr(restored, name) == getattr(computed, name), name
        for name in ("created_ts", "current", "links", "group", "preferences", "question_share", "log_length", "key_owner"):
            assert np.array_equal(getattr(restored, name), getattr(computed, name)), name
        for name in ("lo", "hi", "owner", "has"):
            assert np.array_equal(getattr(restored.events, name), getattr(computed.events, name)), name
        assert restored.links.max() >= 0 and restored.events.has.any() and restored.keys is not None
        assert np.array_equal(restored.dense.vectors(), computed.dense.vectors())
        assert computed.keys is not None and np.array_equal(restored.keys.vectors(), computed.keys.vectors())
        for q in QUERIES:
            assert np.array_equal(restored.bm25.scores(q), computed.bm25.scores(q))
            a, b = restored.mentions.mentioned(q, 400), computed.mentions.mentioned(q, 400)
            assert (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))
        assert np.array_equal(restored.conversation_centroids(), computed.conversation_centroids())
    rows_store.close()
    store.close()
    assert_same(results(location), built)  # restored: the same ranking

    with Persona(location, embedder=FakeEmbedder()) as p:
        p.add_many("u", items(5, offset=400))  # continues the last session: rows after the snapshot
        warm = [[(h.memory.id, round(h.score, 9)) for h in p.search("u", q, k=10)] for q in QUERIES]
    assert_same(results(location), warm)  # restored plus the rows added since


def test_a_snapshot_that_does_not_decode_is_a_build_from_the_rows(tmp_path: Path) -> None:
    with Persona(tmp_path, embedder=FakeEmbedder()) as p:
        p.add_many("u", items(300))
        p.search("u", "violin", k=3)
        saved = p._memories.store.load_snapshot("u")
    assert saved is not None and snapshot.decode(saved.data, 300) is not None
    assert snapshot.decode(b"not a snapshot", 300) is None
    assert snapshot.decode(saved.data, 299) is None  # not the rows it claims
    built = results(str(tmp_path))
    for f in (tmp_path / "index").glob("*" + KEYS_SUFFIX):
        f.write_bytes(b"garbled")  # the keys file no longer fits: vectors from the rows
    index, store = cold_index(str(tmp_path), tmp_path / "index")
    assert any(name == "user_vectors" for name, _ in store.calls) and len(index) == 300
    assert results(str(tmp_path)) == built


def test_bm25_scores_after_more_documents_are_those_of_a_fresh_index() -> None:
    """`BM25Index.scores` keeps arrays and norms between calls: an `add` must renew them."""
    from persona.retrieval.bm25 import BM25Index

    texts = [f"{WORDS[i % 6]} and {WORDS[(i * 5) % 6]} note {i}" for i in range(60)]
    grown = BM25Index()
    grown.add(texts[:30])
    before = grown.scores("violin trip sister")
    grown.add(texts[30:])
    fresh = BM25Index()
    fresh.add(texts)
    assert not np.array_equal(before, grown.scores("violin trip sister")[:30])  # the statistics moved
    for q in ["violin trip sister", "Paris", "note 7 dentist"]:
        assert np.array_equal(grown.scores(q), fresh.scores(q))
    restored = BM25Index.from_arrays(fresh.arrays())
    restored.add(["violin violin"])
    fresh.add(["violin violin"])
    assert np.array_equal(restored.scores("violin"), fresh.scores("violin"))


def test_conversation_centroids_grown_in_steps_are_those_of_one_build(tmp_path: Path) -> None:
    """The conversation sums wait for ranking and then extend over what was added since."""
    with Persona(tmp_path, embedder=FakeEmbedder()) as p:
        p.add_many("u", items(40))
        p.search("u", "violin", k=3)  # centroids of the first 40
        for n in (40, 45, 60):
            p.add_many("u", items(5 if n == 40 else 15, offset=n))
            p.search("u", "violin", k=3)
        cache = p._memories.cache
        with cache.using("u", FakeEmbedder().dim, FakeEmbedder().id) as stepped:
            grown = stepped.conversation_centroids()
            assert grown is not None and len(stepped) == 75
    fresh = IndexCache(open_store(store_location(str(tmp_path))), None)
    with fresh.using("u", FakeEmbedder().dim, FakeEmbedder().id) as built:
        once = built.conversation_centroids()
        assert once is not None and np.array_equal(stepped.group, built.group)
        assert np.allclose(grown, once, atol=1e-6)


# -- PostgreSQL: the snapshot carries the vectors (issue #11) --------------------------------------------------


def _load(dsn: str) -> Any:
    store = open_store(store_location(dsn))
    try:
        return store.load_snapshot("u")
    finally:
        store.close()


def _vector_rows(dsn: str, user_id: str | None = None) -> int:
    import psycopg

    schema = dsn.rsplit("schema=", 1)[1]
    where = "" if user_id is None else " WHERE user_id = %s"
    with psycopg.connect(require_pg()) as conn:
        row = conn.execute(f"SELECT count(*) FROM {schema}.snapshot_vectors{where}", () if user_id is None else (user_id,))
        return int(row.fetchone()[0])


def test_a_postgres_snapshot_carries_the_vectors_and_a_bad_part_means_the_rows() -> None:
    import psycopg

    with fresh_pg() as dsn:
        with Persona(dsn, embedder=FakeEmbedder()) as p:
            p.add_many("u", items(300))
        built = results(dsn)  # the cold build from the rows saves the snapshot with its vectors
        saved = _load(dsn)
        assert saved is not None and len(saved.vectors) == 1
        restored, store = cold_index(dsn, None)
        store.store.close()
        n_keys = len(restored.key_owner)
        assert len(saved.vectors[0]) == (300 + n_keys) * restored.dim * 4 and n_keys > 0
        assert not any(name == "user_vectors" for name, _ in store.calls)
        assert_same(results(dsn), built)

        schema = dsn.rsplit("schema=", 1)[1]
        with psycopg.connect(require_pg(), autocommit=True) as conn:  # garble one part's bytes
            conn.execute(
                f"UPDATE {schema}.snapshot_vectors SET data = set_byte(data, 3, (get_byte(data, 3) + 1) % 256) "
                "WHERE user_id = 'u' AND part = 1"
            )
        garbled = _load(dsn)
        assert garbled is not None and garbled.vectors == ()  # the CRC-32 finds it
        index, store = cold_index(dsn, None)
        store.store.close()
        assert ("user_vectors", saved.max_seq) in store.calls  # the vectors from the rows instead
        assert np.array_equal(index.dense.vectors(), restored.dense.vectors())
        assert_same(results(dsn), built)
        healed = _load(dsn)  # and saved again, intact
        assert healed is not None and healed.vectors and bytes(healed.vectors[0]) == bytes(saved.vectors[0])

        with psycopg.connect(require_pg(), autocommit=True) as conn:  # parts of another save: not these
            conn.execute(f"UPDATE {schema}.snapshot_vectors SET stamp = stamp + 1 WHERE user_id = 'u' AND part = 0")
        other = _load(dsn)
        assert other is not None and other.vectors == ()
        with psycopg.connect(require_pg(), autocommit=True) as conn:  # a part missing
            conn.execute(f"UPDATE {schema}.snapshot_vectors SET stamp = stamp - 1 WHERE user_id = 'u' AND part = 0")
            conn.execute(f"DELETE FROM {schema}.snapshot_vectors WHERE user_id = 'u' AND part = 2")
        missing = _load(dsn)
        assert missing is not None and missing.vectors == ()


def _dump(dsn: str) -> str:
    import subprocess

    schema = dsn.rsplit("schema=", 1)[1]
    return subprocess.run(
        ["pg_dump", "--schema", schema, "--data-only", require_pg()], capture_output=True, text=True, timeout=60, check=True
    ).stdout


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
def test_no_snapshot_vectors_survive_a_write_delete_or_forget() -> None:
    with fresh_pg() as dsn:
        with Persona(dsn, embedder=FakeEmbedder()) as p:
            p.add_many("u", items(300))
            p.add_many("v", items(300, offset=1000))  # other texts: other vectors
            p.search("u", "violin", k=3)
            p.search("v", "violin", k=3)
            p._memories.cache.saves.wait()  # snapshots are saved in the background on PostgreSQL
            assert _vector_rows(dsn, "u") > 0 and _vector_rows(dsn, "v") > 0
            first = p.list("u")[0]
            p.update(first.id, text="a new text for the first note")  # the snapshot held the old vector
            assert _vector_rows(dsn, "u") == 0
            p.search("u", "violin", k=3)
            p._memories.cache.saves.wait()
            assert _vector_rows(dsn, "u") > 0
            p.delete(p.list("u")[1].id)
            assert _vector_rows(dsn, "u") == 0
        with Persona(dsn, embedder=FakeEmbedder()) as p:
            p.search("u", "violin", k=3)  # a cold build (this index patched the delete in place: no snapshot)
            p._memories.cache.saves.wait()
            saved = p._memories.store.load_snapshot("u")
            assert saved is not None and saved.vectors
            probe = bytes(saved.vectors[0][: 4 * 16]).hex()  # a vector's first 16 floats, as a dump writes them
            assert _vector_rows(dsn, "u") > 0
            assert probe in _dump(dsn)  # the probe finds the vectors while they are kept
            p.forget_user("u")
            assert _vector_rows(dsn, "u") == 0 and _vector_rows(dsn, "v") > 0
        dump = _dump(dsn)
        assert probe not in dump and "\tu\t" not in dump
        assert "snapshot_vectors" in dump  # v's vectors are there


def test_flat_index_over_an_array_searches_it_in_place_then_owns_it(tmp_path: Path) -> None:
    from persona.backends.faiss_index import FlatIndex

    rng = np.random.default_rng(1)
    rows = rng.standard_normal((50, 8)).astype(np.float32)
    query = rng.standard_normal(8).astype(np.float32)
    built = FlatIndex(8)
    built.add(rows)
    over = FlatIndex.over(rows)
    assert len(over) == 50 and np.shares_memory(over.vectors(), rows)
    assert np.array_equal(over.scores(query), built.scores(query))
    more = rng.standard_normal((3, 8)).astype(np.float32)
    over.add(more)
    built.add(more)
    assert len(over) == 53 and not np.shares_memory(over.vectors(), rows)
    assert np.array_equal(over.scores(query), built.scores(query))
    saved = FlatIndex.over(rows)
    saved.save(tmp_path / "x.faiss")
    assert np.array_equal(FlatIndex.load(tmp_path / "x.faiss", 8).vectors(), rows)
    try:
        FlatIndex.over(rows[:, :4])
    except ValueError:
        pass
    else:
        raise AssertionError("a strided array must be refused")


def test_parts_not_in_the_expected_shape_are_not_used_and_the_connection_stays_usable() -> None:
    import psycopg

    with fresh_pg() as dsn:
        with Persona(dsn, embedder=FakeEmbedder()) as p:
            p.add_many("u", items(300))
        built = results(dsn)
        schema = dsn.rsplit("schema=", 1)[1]
        with psycopg.connect(require_pg(), autocommit=True) as conn:  # a part longer than all the parts together
            conn.execute(
                f"UPDATE {schema}.snapshot_vectors SET data = decode(repeat('00', 2000000), 'hex') "
                "WHERE user_id = 'u' AND part = 0"
            )
        store = open_store(store_location(dsn))
        try:
            for _ in range(3):  # the same pooled connection each time: left usable after an early mismatch
                saved = store.load_snapshot("u")
                assert saved is not None and saved.vectors == ()
                assert store.count("u") == 300
        finally:
            store.close()
        assert_same(results(dsn), built)
