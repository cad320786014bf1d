"""What governance costs (issue #17): the retention sweep when nothing expired, and the disclosure insert.

    python eval/bench_governance.py /tmp/gov-store               # SQLite (built once: 100,000 memories)
    python eval/bench_governance.py 'postgresql://...?schema=gov'

The store holds 100 users x 1,000 memories (episodes and facts, all younger than the policy) and 2,000
replies. Printed, as one JSON object:

* ``sweep_ms``: `Persona.sweep()` with a policy on every kind (nothing expired), median of 30 calls;
  ``open_ms``: opening the store with sweep-on-open vs without, alternating, medians of 7 each;
* ``prompt_ms``: one user's prompt (1,000 memories, hybrid strategy, gpt-4o-mini's tokenizer) the way
  `Persona.prompt` built it before #17 (`build_prompt` alone) and now (consent read, `build_prompt`, the
  disclosure insert), alternating in one process, 300 each: median and p95 of each;
  ``insert_ms``: the disclosure insert alone (`record_disclosure`), median of 300.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone

from persona import Disclosure, Persona
from persona.prompting.builder import build_prompt
from persona.testing import FakeEmbedder

USERS, PER_USER, REPLIES = 100, 1_000, 2_000
POLICY = {"episode": "365d", "fact": "365d", "preference": "365d", "profile": "365d", "reply": "365d", "disclosure": "365d"}
MODEL = "gpt-4o-mini"


def build(where: str) -> None:
    now = datetime.now(timezone.utc)
    with Persona(where, embedder=FakeEmbedder(), sweep_on_open=False) as p:
        if p.count() >= USERS * PER_USER:
            return
        words = ["tea", "jazz", "lisbon", "peanuts", "violin", "hiking", "chess", "python", "sushi", "paris"]
        for u in range(USERS):
            items = [
                {
                    "text": f"note {i} of user {u} about {words[i % 10]} and {words[(i * 7) % 10]}",
                    "kind": "episode" if i % 3 else "fact",
                    "created_at": now - timedelta(days=i % 300, minutes=i),
                }
                for i in range(PER_USER)
            ]
            p.add_many(f"u{u}", items, supersede=False)
        for r in range(REPLIES):
            p._memories.store.record_reply(f"r{r}", f"u{r % USERS}", MODEL, [], now - timedelta(hours=r))


def median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 3)


def p95_ms(values: list[float]) -> float:
    return round(sorted(values)[int(len(values) * 0.95)] * 1000, 3)


def main() -> None:
    where = sys.argv[1]
    build(where)
    out: dict[str, object] = {"store": where.split("?")[0] if "://" not in where else "postgresql", "memories": USERS * PER_USER}
    opens: dict[bool, list[float]] = {True: [], False: []}
    for _round in range(7):
        for sweep in (False, True):
            t = time.perf_counter()
            Persona(where, embedder=FakeEmbedder(), retention=POLICY, sweep_on_open=sweep).close()
            opens[sweep].append(time.perf_counter() - t)
    out["open_ms"] = {"without_sweep": median_ms(opens[False]), "with_sweep": median_ms(opens[True])}
    with Persona(where, embedder=FakeEmbedder(), retention=POLICY, sweep_on_open=False) as p:
        sweeps = []
        for _ in range(30):
            t = time.perf_counter()
            result = p.sweep()
            sweeps.append(time.perf_counter() - t)
            assert result.total == 0, result
        out["sweep_ms"] = median_ms(sweeps)
        print(json.dumps(out), file=sys.stderr, flush=True)  # what is measured so far
        message = "what should I drink with my sushi?"
        p.search("u0", message, k=10)  # the user's cold index, outside the render deadline
        for _ in range(20):  # warm: the user's index, litellm, tiktoken
            p.prompt("u0", message, model=MODEL)
        before: list[float] = []
        after: list[float] = []
        for _ in range(300):
            t = time.perf_counter()
            build_prompt(p._memories.for_model(MODEL), "u0", message, model=MODEL, template_dirs=[])  # Persona.prompt before #17
            before.append(time.perf_counter() - t)
            t = time.perf_counter()
            p.prompt("u0", message, model=MODEL)  # now: consent, build_prompt, one disclosure insert
            after.append(time.perf_counter() - t)
        out["prompt_ms"] = {
            "before_median": median_ms(before),
            "after_median": median_ms(after),
            "before_p95": p95_ms(before),
            "after_p95": p95_ms(after),
        }
        inserts = []
        store = p._memories.store
        for i in range(300):
            d = Disclosure("bench", datetime.now(timezone.utc), MODEL, "openai", [f"m{i}", f"n{i}"], None)
            t = time.perf_counter()
            store.record_disclosure(d)
            inserts.append(time.perf_counter() - t)
        out["insert_ms"] = median_ms(inserts)
        p.forget_user("bench")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
