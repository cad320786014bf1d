"""Cold and warm search of one user with 10,000 memories (LoCoMo turns, FakeEmbedder vectors of 384 dims).

    python eval/bench_cold.py /tmp/cold-store 3          # a directory (built once), 3 cold opens
    python eval/bench_cold.py 'postgresql://...?schema=cold' 3

Each round opens a new Persona (an empty index cache) and times its first search (wall and CPU time) (the cold build of the
user's index from the store, with its snapshot once one is saved) and then 50 warm searches. Run it with
another checkout first on PYTHONPATH (and another store location) to compare two versions in one run.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_store import locomo_texts

from persona import Persona
from persona.testing import FakeEmbedder


def main() -> None:
    where, rounds = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3
    turns, questions = locomo_texts()
    texts = [turns[i % len(turns)] + ("" if i < len(turns) else f" (#{i // len(turns)})") for i in range(10_000)]
    with Persona(where, embedder=FakeEmbedder(dim=384)) as p:
        if p.count("t") == 0:
            p.add_many("t", [{"text": t, "kind": "episode"} for t in texts])
    colds: list[float] = []
    cpus: list[float] = []  # this process's CPU time per cold search (its threads included): less sensitive to load
    warms: list[float] = []
    for attempt in range(rounds):
        with Persona(where, embedder=FakeEmbedder(dim=384)) as p:
            t, c = time.perf_counter(), time.process_time()
            p.search("t", questions[attempt], k=10)
            colds.append((time.perf_counter() - t) * 1000)
            cpus.append((time.process_time() - c) * 1000)
            for q in questions[:50]:
                t = time.perf_counter()
                p.search("t", q, k=10)
                warms.append((time.perf_counter() - t) * 1000)
    warms.sort()
    print(json.dumps({"cold_ms": colds, "cold_cpu_ms": cpus, "warm_p50_ms": warms[len(warms) // 2], "warm_p95_ms": warms[int(len(warms) * 0.95)]}))


if __name__ == "__main__":
    main()
