"""What must survive: restarts, concurrent processes, kill -9 mid-write, lost caches; and what must not: erased text.

The tests that take ``location`` run on both store engines (tests/_stores.py)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from persona import EmbedderInfo, EmbedderMismatchError, Persona, StoreCorruptError
from persona.testing import FakeEmbedder


def run_child(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


WRITER = """
import sys
from persona import Persona
from persona.testing import FakeEmbedder
path, user, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with Persona(path, embedder=FakeEmbedder()) as p:
    for i in range(n):
        p.add(user, f"{user} remembers item {i}", kind="episode")
"""


def test_persistence_across_a_process_restart(location: str) -> None:
    run_child(WRITER, location, "alice", "20")
    with Persona(location, embedder=FakeEmbedder()) as p:
        assert len(p.list("alice")) == 20
        assert p.search("alice", "item 7", k=1)[0].memory.text == "alice remembers item 7"


def test_two_processes_writing_at_once_lose_nothing(location: str) -> None:
    Persona(location, embedder=FakeEmbedder()).close()
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, location, user, "150"], stderr=subprocess.PIPE)
        for user in ("alice", "alice", "bob")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
    with Persona(location, embedder=FakeEmbedder()) as p:
        assert len(p.list("alice")) == 300 and len(p.list("bob")) == 150
        assert len(p.search("alice", "remembers", k=300)) == 300


def test_a_reader_sees_another_processes_writes(location: str) -> None:
    with Persona(location, embedder=FakeEmbedder()) as p:
        p.add("alice", "first memory about violins", kind="episode")
        assert len(p.search("alice", "violins", k=10)) == 1  # index now cached in this process
        run_child(WRITER, location, "alice", "5")  # appended elsewhere
        assert len(p.search("alice", "remembers", k=10)) == 6
        other = p.list("alice")[0]
        run_child(
            """
            import sys
            from persona import Persona
            from persona.testing import FakeEmbedder
            with Persona(sys.argv[1], embedder=FakeEmbedder()) as q:
                q.delete(sys.argv[2])
            """,
            location,
            other.id,
        )  # deleted elsewhere: the cached index must not return it
        assert other.id not in {h.memory.id for h in p.search("alice", "remembers", k=10)}
        assert len(p.search("alice", "remembers", k=10)) == 5


KILLED = """
import sys
from persona import Persona
from persona.testing import FakeEmbedder
path = sys.argv[1]
with Persona(path, embedder=FakeEmbedder(dim=128)) as p:
    batch = 0
    while True:
        p.add_many("u", [{"text": f"batch {batch} item {i} " + "pad " * 40, "kind": "episode",
                          "metadata": {"batch": batch}} for i in range(400)])
        print(batch, flush=True)
        batch += 1
"""


@pytest.mark.parametrize("delay", [0.3, 1.1])
def test_kill_9_in_the_middle_of_add_many(location: str, delay: float) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED, location], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    committed = [int(proc.stdout.readline())]  # at least one batch committed
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    committed += [int(line) for line in proc.stdout.read().split()]
    with Persona(location, embedder=FakeEmbedder(dim=128)) as p:
        memories = p.list("u")
        counts: dict[int, int] = {}
        for m in memories:
            counts[m.metadata["batch"]] = counts.get(m.metadata["batch"], 0) + 1
        assert set(counts.values()) == {400}, counts  # no part of the interrupted batch is visible
        assert set(committed) <= set(counts)  # every committed batch is there
        last = max(counts)
        hits = p.search("u", f"batch {last} item 3", k=5, filters={"batch": last})
        assert len(hits) == 5
    with Persona(location, embedder=FakeEmbedder(dim=128)) as p:
        assert p.check().integrity == "ok"


def test_missing_stale_or_truncated_index_files_are_rebuilt(store_path: Path) -> None:
    with Persona(store_path, embedder=FakeEmbedder()) as p:
        p.add_many("u", [f"memory {i} about rivers" for i in range(100)])
        expected = [h.memory.id for h in p.search("u", "memory 42", k=5)]
    files = list((store_path / "index").glob("*.faiss"))
    assert len(files) == 1
    for damage in ("truncate", "garbage", "delete", "stale"):
        if damage == "truncate":
            files[0].write_bytes(files[0].read_bytes()[:100])
        elif damage == "garbage":
            files[0].write_bytes(b"not an index at all")
        elif damage == "delete":
            files[0].unlink()
        else:
            with Persona(store_path, embedder=FakeEmbedder()) as p:
                p.add("u", "a fresh memory about memory 42 rivers")
                expected = [h.memory.id for h in p.search("u", "memory 42", k=5)]
        with Persona(store_path, embedder=FakeEmbedder()) as p:
            assert [h.memory.id for h in p.search("u", "memory 42", k=5)] == expected, damage
        assert files[0].exists()


def _all_bytes(path: Path) -> bytes:
    return b"".join(f.read_bytes() for f in sorted(path.rglob("*")) if f.is_file())


def test_forget_user_leaves_no_trace_on_disk(store_path: Path) -> None:
    marker = "zanzibar-flamingo-7731"
    with Persona(store_path, embedder=FakeEmbedder()) as p:
        p.add_many("victim", [f"{marker} secret {i} " + "x" * 300 for i in range(200)])
        m = p.add("victim", f"{marker} preference", kind="preference")
        p.update(m.id, text=f"{marker} preference updated")
        p.add("keeper", "a memory that must stay")
        p.search("victim", marker, k=3)  # writes an index file
        assert marker.encode() in _all_bytes(store_path)
        assert p.forget_user("victim") == 201
        assert p.users() == ["keeper"]
        assert p.search("victim", marker, k=3) == []
        assert marker.encode() not in _all_bytes(store_path)
        assert b"victim" not in _all_bytes(store_path)
    assert marker.encode() not in _all_bytes(store_path)


def test_delete_leaves_no_text_on_disk(store_path: Path) -> None:
    marker = "quetzal-lantern-5512"
    with Persona(store_path, embedder=FakeEmbedder()) as p:
        m = p.add("u", f"{marker} first version")
        p.update(m.id, text=f"{marker} second version")
        p.add("u", "something else")
        p.delete(m.id)
        assert marker.encode() not in _all_bytes(store_path)


def test_embedder_mismatch_is_refused_with_the_fix(store_path: Path) -> None:
    with Persona(store_path, embedder=FakeEmbedder(dim=64)) as p:
        p.add("u", "built with the 64-dim fake")
    with pytest.raises(EmbedderMismatchError, match="reembed=True"):
        Persona(store_path, embedder=FakeEmbedder(dim=32))
    with Persona(store_path, embedder=FakeEmbedder(dim=32), reembed=True) as p:
        assert p.search("u", "fake", k=1)[0].memory.text == "built with the 64-dim fake"
        assert p.stats().embedder == EmbedderInfo("fake-bow-32", 32)


def test_opening_without_an_embedder_uses_the_recorded_one(store_path: Path) -> None:
    with Persona(store_path, embedder=FakeEmbedder()) as p:
        p.add("u", "x")
    with Persona(store_path) as p:  # no model loaded for inspection
        assert [m.text for m in p.list("u")] == ["x"]
        assert p.stats().to_dict()["embedder"]["id"] == "fake-bow-64"


def test_foreign_and_corrupt_stores_are_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    db = sqlite3.connect(foreign / "persona.db")
    db.execute("CREATE TABLE notes(x)")
    db.commit()
    db.close()
    with pytest.raises(StoreCorruptError, match="not a persona store"):
        Persona(foreign, embedder=FakeEmbedder())
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "persona.db").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreCorruptError, match="not a usable persona store"):
        Persona(corrupt, embedder=FakeEmbedder())
    assert (corrupt / "persona.db").read_bytes() == b"this is not sqlite at all" * 100


def test_migrations_are_named_and_recorded(store_path: Path) -> None:
    Persona(store_path, embedder=FakeEmbedder()).close()
    Persona(store_path, embedder=FakeEmbedder()).close()
    db = sqlite3.connect(store_path / "persona.db")
    assert [r[0] for r in db.execute("SELECT name FROM _migrations")] == [
        "001_initial",
        "002_memories_user_kind_time",
        "003_memory_key_embeddings",
        "004_memory_transcript",
        "005_store_clock",
        "006_index_snapshots",
        "007_event_times",
        "008_sensitivity",
        "009_governance",
        "010_policy",
    ]


def test_import_persona_stays_light() -> None:
    out = run_child(
        """
        import sys, json, time
        t = time.perf_counter()
        import persona
        from persona import Persona
        elapsed = time.perf_counter() - t
        heavy = [m for m in ("torch", "sentence_transformers", "faiss", "litellm", "onnxruntime", "transformers")
                 if m in sys.modules]
        print(json.dumps({"heavy": heavy, "elapsed": elapsed}))
        """
    )
    result = json.loads(out.stdout)
    assert result["heavy"] == []


def test_check_reports_and_repairs_stale_indexes(store_path: Path) -> None:
    with Persona(store_path, embedder=FakeEmbedder()) as p:
        p.add_many("u", [f"memory {i}" for i in range(10)])
        report = p.check()
        assert report.integrity == "ok" and report.missing_embeddings == 0 and report.ok
        assert report.stale_indexes == ["u"]  # never searched: no index file yet
        assert p.check(repair=True).repaired == ["u"]
        assert p.check().stale_indexes == []
        assert p.count("u") == 10 and p.count() == 10
