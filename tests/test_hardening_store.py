"""The store under stress (#14): races between processes, full disks, damaged or unusable files.

Each test names the item of #14 it covers. Faults are real where they can be made deterministic (SQLite's
own read-only mode, a file size limit on a child process, bytes written over a file); a full disk is simulated
by an ``sqlite3.Connection`` subclass that fails the way SQLite does, passed to the store's ``factory``.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import queue
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from persona import Persona, StoreCorruptError, StoreError
from persona.memories import Memories
from persona.store.sqlite import SQLiteStore
from persona.testing import FakeEmbedder

TRIALS = 20
TEXTS = [f"alice wrote note {i} about topic {i % 7} and the harbour" for i in range(300)]


def _digest(user_id: str) -> str:
    return hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:32]


def _every_file(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _vector(store: Path, memory_id: str) -> bytes:
    db = sqlite3.connect(f"{(store / 'persona.db').as_uri()}?mode=ro", uri=True)
    try:
        return bytes(db.execute("SELECT embedding FROM memories WHERE id = ?", (memory_id,)).fetchone()[0])
    finally:
        db.close()


# -- processes that race (spawned; they read their trials from a queue) ---------------------------------------


def _race_worker(role: str, barrier: Any, jobs: Any, results: Any) -> None:
    from persona import Persona
    from persona.testing import FakeEmbedder

    for path, delay in iter(jobs.get, None):
        try:
            if role == "open":
                barrier.wait(timeout=60)
                Persona(path, embedder=FakeEmbedder()).close()
            else:
                with Persona(path, embedder=FakeEmbedder()) as p:
                    barrier.wait(timeout=60)
                    if role == "search":
                        p.search("alice", "note about the harbour", k=3)
                    else:
                        time.sleep(delay)
                        p.forget_user("alice")
            results.put((role, "ok"))
        except Exception as exc:  # reported to the test, which fails with it
            results.put((role, f"{type(exc).__name__}: {exc}"))


def _race(roles: tuple[str, str], trials: list[tuple[str, float]]) -> list[tuple[str, str]]:
    """Run each trial (path, delay) in two spawned processes at once; returns (role, outcome) per trial."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results: Any = ctx.Queue()
    jobs = [ctx.Queue() for _ in roles]
    procs = [
        ctx.Process(target=_race_worker, args=(role, barrier, q, results), daemon=True)
        for role, q in zip(roles, jobs, strict=True)
    ]
    for proc in procs:
        proc.start()
    outcomes: list[tuple[str, str]] = []
    try:
        for trial, prepare in enumerate(trials):
            for q in jobs:
                q.put(prepare)
            for _ in roles:
                try:
                    outcomes.append(results.get(timeout=120))
                except queue.Empty:
                    pytest.fail(f"trial {trial}: a racing process did not answer within 120 s")
    finally:
        for q in jobs:
            q.put(None)
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
    return outcomes


def test_forget_racing_another_processes_search_leaves_no_index_file(tmp_path: Path) -> None:
    """#14 item 4: a cold index build in another process must not save the user's vectors after forget_user."""
    trials = []
    for trial in range(TRIALS):
        path = tmp_path / f"store{trial}"
        with Persona(path, embedder=FakeEmbedder()) as p:
            p.add_many("alice", TEXTS)
            p.add("bob", "bob keeps bees")
        trials.append((str(path), (trial % 5) * 0.002))
    outcomes = _race(("search", "forget"), trials)
    assert all(outcome == "ok" for _role, outcome in outcomes), outcomes
    left = [
        t
        for t, (path, _delay) in enumerate(trials)
        if list((Path(path) / "index").glob(_digest("alice") + "*"))
    ]
    assert left == [], f"alice's index file outlived forget_user in trials {left}"
    with Persona(trials[0][0], embedder=FakeEmbedder()) as p:
        assert p.check().unknown_indexes == []


def test_check_reports_and_removes_index_files_of_unknown_users(store_path: Path) -> None:
    """#14 item 4: check() finds index files of users the store does not know; repair removes them."""
    with Persona(store_path, embedder=FakeEmbedder()) as p:
        p.add_many("alice", TEXTS[:10])
        p.add_many("bob", ["bob keeps bees", "bob sails"])
        p.search("alice", "harbour", k=1)
        p.search("bob", "bees", k=1)
    index = store_path / "index"
    saved = {p.name: p.read_bytes() for p in index.iterdir() if p.name.startswith(_digest("bob"))}
    with Persona(store_path, embedder=FakeEmbedder()) as p:
        p.forget_user("bob")
        for name, data in saved.items():  # what a racing process could have left behind
            (index / name).write_bytes(data)
        report = p.check()
        assert sorted(report.unknown_indexes) == sorted(saved)
        p.check(repair=True)
        assert p.check().unknown_indexes == []
        assert not list(index.glob(_digest("bob") + "*"))
        assert p.search("alice", "harbour", k=1)


def test_delete_and_forget_leave_neither_text_nor_vectors_in_any_file(store_path: Path) -> None:
    """#14 item 7: after delete (and forget_user) the text's bytes and its vector's float32 bytes are in no file."""
    secret, forgotten = "my locker code is 73915 at the harbour gym", "bob hides the spare key under the mat"
    with Persona(store_path, embedder=FakeEmbedder()) as p:
        p.add_many("alice", TEXTS[:50])
        gone = p.add("alice", secret, kind="fact")
        bob = p.add("bob", forgotten, kind="fact")
        p.add("bob", "bob sails on sundays", kind="fact")
        vectors = {secret: _vector(store_path, gone.id), forgotten: _vector(store_path, bob.id)}
        assert p.search("alice", "locker code", k=1)[0].memory.id == gone.id  # alice's index file written
        assert p.search("bob", "spare key", k=1)[0].memory.id == bob.id
        assert any(vectors[secret] in data for data in _every_file(store_path).values())
        p.delete(gone.id)
        p.forget_user("bob")
        assert [h.memory.id for h in p.search("alice", "locker code", k=60)].count(gone.id) == 0
        open_files = _every_file(store_path)
    for files in (open_files, _every_file(store_path)):  # while open, and after close
        for text, vector in vectors.items():
            holders = [p.name for p, data in files.items() if text.encode() in data or vector in data]
            assert holders == [], f"{text!r} or its vector is still in {holders}"


def test_a_garbled_index_file_is_rebuilt_and_reported(store_path: Path) -> None:
    """#14 item 8: random floats over an index file's vectors (same size) are detected, reported and repaired."""
    with Persona(store_path, embedder=FakeEmbedder()) as p:
        p.add_many("alice", TEXTS[:100])
        p.search("alice", "harbour", k=1)
    path = store_path / "index" / f"{_digest('alice')}.faiss"
    data = bytearray(path.read_bytes())
    size = 100 * 64 * 4  # the vectors are the file's last bytes
    noise = np.random.default_rng(7).uniform(-3, 3, size // 4).astype("<f4").tobytes()
    data[-size:] = noise
    path.write_bytes(bytes(data))
    with Persona(store_path, embedder=FakeEmbedder()) as p:
        report = p.check()
        assert report.stale_indexes == ["alice"]
        assert p.check(repair=True).repaired == ["alice"]
        assert p.check().stale_indexes == []
        assert noise not in path.read_bytes()
    path.write_bytes(bytes(data))
    with Persona(store_path, embedder=FakeEmbedder()) as p:  # a search never uses the garbled vectors
        hits = p.search("alice", "alice wrote note 5 about topic 5 and the harbour", k=3)
        assert all(h.parts.get("dense", 0.0) <= 1.0 + 1e-5 for h in hits)
        assert hits[0].memory.text == TEXTS[5]
        assert noise not in path.read_bytes()


# -- a full disk -------------------------------------------------------------------------------------------


class FullDisk(sqlite3.Connection):
    """Fails writes the way SQLite does when the disk is full: at each statement, or only at COMMIT."""

    full: str | None = None

    def _fail(self, sql: str) -> None:
        verb = sql.lstrip().split(None, 1)[0].upper()
        if (self.full == "commit" and verb == "COMMIT") or (
            self.full == "statement" and verb in ("INSERT", "UPDATE", "DELETE", "REPLACE")
        ):
            raise sqlite3.OperationalError("database or disk is full")

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        self._fail(sql)
        return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        self._fail(sql)
        return super().executemany(sql, parameters)


@pytest.mark.parametrize("where", ["statement", "commit"])
def test_a_full_disk_raises_store_error_and_changes_nothing(store_path: Path, where: str) -> None:
    """#14 item 9: add_many, update, delete and forget_user on a full disk raise StoreError ("disk ... full")."""
    store = SQLiteStore(store_path, factory=FullDisk)
    memories = Memories(store, embedder=FakeEmbedder())
    try:
        kept = memories.add_many("alice", ["alice drinks green tea", "alice walks by the river"])
        db = store.db
        assert isinstance(db, FullDisk)
        db.full = where
        writes = {
            "add_many": lambda: memories.add_many("alice", ["alice owns a red bicycle"]),
            "update": lambda: memories.update(kept[0].id, {"text": "alice drinks black coffee"}),
            "delete": lambda: memories.delete(kept[1].id),
            "forget_user": lambda: memories.forget_user("alice"),
        }
        for name, write in writes.items():
            with pytest.raises(StoreError, match=r"disk .*is full.*Free some space") as info:
                write()
            assert not isinstance(info.value, StoreCorruptError), name
        assert memories.search("alice", "green tea", k=1)[0].memory.id == kept[0].id  # reads still work
        db.full = None
        assert sorted(m.text for m in memories.list("alice")) == sorted(m.text for m in kept)
        memories.add_many("alice", ["alice owns a red bicycle"])  # no transaction was left open
        assert memories.store.count("alice") == 3
    finally:
        memories.close()


def test_sqlite_max_page_count_full_raises_store_error(store_path: Path) -> None:
    """#14 item 9: SQLite's own SQLITE_FULL (the database may not grow) is a StoreError saying the disk is full."""
    store = SQLiteStore(store_path)
    memories = Memories(store, embedder=FakeEmbedder())
    try:
        memories.add_many("alice", ["alice drinks green tea"])
        pages = int(store.db.execute("PRAGMA page_count").fetchone()[0])
        store.db.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StoreError, match="is full"):
            memories.add_many("alice", [f"{t} {'padding ' * 200}" for t in TEXTS[:50]])
        assert memories.store.count("alice") == 1
    finally:
        memories.close()


FILE_SIZE_LIMIT = """
import resource, signal, sys
from persona import Persona, StoreError
from persona.testing import FakeEmbedder
with Persona(sys.argv[1], embedder=FakeEmbedder()) as p:
    p.add_many("alice", [f"alice wrote note {i} about topic {i % 7}" for i in range(300)])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    print("hits", len(p.search("alice", "note about topic 3", k=3)))
    try:
        p.add("alice", "alice bought a kayak")
        print("added")
    except StoreError as exc:
        print("StoreError", exc)
"""


def test_a_failed_index_file_write_never_fails_a_search(store_path: Path) -> None:
    """#14 item 9: FAISS failing to write the index file (a file size limit: EFBIG) does not fail the search."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FILE_SIZE_LIMIT), str(store_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "hits 3", result.stdout + result.stderr
    assert lines[1].startswith("StoreError"), result.stdout  # the database could not grow either
    assert not list((store_path / "index").glob("*.faiss"))


# -- an unusable index directory, a read-only store ----------------------------------------------------------


def test_an_index_path_that_is_a_file_refuses_erasing_and_says_why(store_path: Path) -> None:
    """#14 item 10: with a regular file named index/, forget_user, delete, check(repair) and reembed raise
    StoreError before erasing anything; searches work; check() reports the problem."""
    with Persona(store_path, embedder=FakeEmbedder()) as p:
        kept = p.add_many("alice", ["alice drinks green tea", "alice walks by the river"])
        p.add("bob", "bob keeps bees")
        shutil.rmtree(store_path / "index", ignore_errors=True)
        (store_path / "index").write_text("not a directory")
        assert p.search("alice", "green tea", k=1)[0].memory.id == kept[0].id
        for call in (
            lambda: p.forget_user("alice"),
            lambda: p.delete(kept[1].id),
            lambda: p.check(repair=True),
            lambda: p.reembed(),
        ):
            with pytest.raises(StoreError, match=r"is not a directory.*Move it away"):
                call()
        assert p.count("alice") == 2  # nothing was erased
        report = p.check()
        assert report.index_problem is not None and "not a directory" in report.index_problem
        (store_path / "index").unlink()
        assert p.forget_user("alice") == 2
        assert p.check(repair=True).index_problem is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories: nothing to refuse")
def test_a_read_only_index_directory_refuses_erasing(store_path: Path) -> None:
    """#14 item 10: a read-only index/ makes forget_user raise StoreError before erasing anything."""
    with Persona(store_path, embedder=FakeEmbedder()) as p:
        p.add_many("alice", ["alice drinks green tea", "alice walks by the river"])
        p.search("alice", "tea", k=1)
        (store_path / "index").chmod(0o555)
        try:
            with pytest.raises(StoreError, match="not writable"):
                p.forget_user("alice")
            assert p.count("alice") == 2
        finally:
            (store_path / "index").chmod(0o755)


class ReadOnlyFileSystem(sqlite3.Connection):
    """Opens the database as SQLite does on a read-only file system (``mode=ro``): real SQLITE_READONLY."""

    def __init__(self, database: str, *args: Any, **kwargs: Any) -> None:
        kwargs["uri"] = True
        super().__init__(f"{Path(database).as_uri()}?mode=ro", *args, **kwargs)


def test_a_read_only_store_is_called_read_only_not_corrupt(store_path: Path) -> None:
    """#14 item 11: a read-only store is reported as read-only, with how to fix it, never as corrupt."""
    with Persona(store_path, embedder=FakeEmbedder()) as p:
        p.add("alice", "alice drinks green tea")
    with pytest.raises(StoreError, match=r"read-only.*writable") as info:
        SQLiteStore(store_path, factory=ReadOnlyFileSystem)
    assert not isinstance(info.value, StoreCorruptError)
    assert "Move it away" not in str(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root opens read-only files for writing")
def test_a_chmod_read_only_store_is_called_read_only(store_path: Path) -> None:
    """#14 item 11: file permissions that forbid writing give the read-only message."""
    with Persona(store_path, embedder=FakeEmbedder()) as p:
        p.add("alice", "alice drinks green tea")
    for f in store_path.rglob("*"):
        f.chmod(0o444 if f.is_file() else 0o555)
    store_path.chmod(0o555)
    try:
        with pytest.raises(StoreError, match="read-only") as info:
            Persona(store_path, embedder=FakeEmbedder())
        assert not isinstance(info.value, StoreCorruptError)
    finally:
        store_path.chmod(0o755)
        for f in store_path.rglob("*"):
            f.chmod(0o644 if f.is_file() else 0o755)


# -- a damaged database ------------------------------------------------------------------------------------


def test_a_damaged_page_raises_store_corrupt_error_and_check_reports_it(store_path: Path) -> None:
    """#14 item 12: list, search and get on a damaged page raise StoreCorruptError; check() reports it."""
    with Persona(store_path, embedder=FakeEmbedder()) as p:
        p.add_many("alice", TEXTS)
    db_file = store_path / "persona.db"
    data = bytearray(db_file.read_bytes())
    page = 4096
    pages = len(data) // page
    assert pages > 20
    rng = np.random.default_rng(3)
    for n in range(pages // 2, pages):  # the later pages: memories and history, not the schema or meta
        data[n * page : (n + 1) * page] = rng.integers(0, 256, page, dtype=np.uint8).tobytes()
    db_file.write_bytes(bytes(data))
    with Persona(store_path, embedder=FakeEmbedder()) as p:
        with pytest.raises(StoreCorruptError, match="damaged"):
            p.list("alice", limit=1000)
        with pytest.raises(StoreCorruptError, match="damaged"):
            p.search("alice", "harbour", k=3)
        report = p.check()
        assert report.integrity != "ok" and not report.ok


def test_an_empty_database_beside_index_files_is_refused(store_path: Path) -> None:
    """#14 item 12: a 0-byte persona.db next to a populated index/ does not open as an empty store."""
    with Persona(store_path, embedder=FakeEmbedder()) as p:
        p.add_many("alice", TEXTS[:10])
        p.search("alice", "harbour", k=1)
    (store_path / "persona.db").write_bytes(b"")
    with pytest.raises(StoreCorruptError, match=r"empty.*index files.*Restore"):
        Persona(store_path, embedder=FakeEmbedder())
    assert (store_path / "persona.db").stat().st_size == 0  # nothing was written over it


def test_two_processes_creating_one_store_at_once_both_open_it(tmp_path: Path) -> None:
    """#14 item 18: two processes opening a new, empty store directory at the same moment both succeed."""
    trials = [(str(tmp_path / f"new{trial}"), 0.0) for trial in range(TRIALS)]
    outcomes = _race(("open", "open"), trials)
    assert [o for o in outcomes if o[1] != "ok"] == []
    for path, _delay in trials:
        with Persona(path, embedder=FakeEmbedder()) as p:
            assert p.check().integrity == "ok"
