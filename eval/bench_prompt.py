"""Prompt assembly at 10,000 memories, and the local model's speed.

    python eval/bench_prompt.py                        # 10,000 memories, default embedder, local/smollm2
    python eval/bench_prompt.py --fake-embedder        # quicker: the hashing test embedder
    python eval/bench_prompt.py --skip-llm --out eval/results/bench_prompt.json

1. builds (once, reused from ``--store``) a store with one user holding ``--memories`` memories: LoCoMo turns
   (from ../shared/data) as episodes, plus facts and preferences;
2. prompt assembly = retrieve + render + count, for each strategy, over ``--queries`` LoCoMo questions:
   p50/p95 in milliseconds (the first, cold call that loads the index and the tokenizer, reported apart),
   with the tokens and memories per prompt;
3. the local model (``local/smollm2``): time to the first token of a hybrid prompt (prompt reading speed in
   tokens/s) and decode speed in tokens/s, over ``--generations`` streamed answers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("PERSONA_DATA_DIR", ROOT.parent / "shared" / "data"))
STRATEGIES = ("hybrid", "none", "recent", "retrieved", "profile", "full")
THINGS = [
    "jazz",
    "hiking",
    "sushi",
    "tea",
    "coffee",
    "chess",
    "yoga",
    "painting",
    "cycling",
    "baking",
    "poetry",
    "opera",
    "camping",
    "gardening",
    "pottery",
    "tennis",
    "sci-fi novels",
    "board games",
    "spicy food",
]
CITIES = ["Lisbon", "Porto", "Berlin", "Paris", "Oslo", "Madrid", "Rome", "Vienna", "Prague", "Dublin"]


def corpus(n: int, seed: int = 7) -> tuple[list[dict[str, Any]], list[str]]:
    """``n`` memories (LoCoMo turns as episodes, plus facts and preferences) and the LoCoMo questions."""
    data = json.loads((DATA / "locomo" / "locomo_dev.json").read_text("utf-8"))
    turns: list[str] = []
    questions: list[str] = []
    for conv in data:
        c = conv["conversation"]
        for key in sorted(k for k in c if k.startswith("session_") and not k.endswith("date_time")):
            turns += [f"{t['speaker']}: {t['text']}" for t in c[key]]
        questions += [q["question"] for q in conv["qa"]]
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    items: list[dict[str, Any]] = []
    for i in range(n):
        at = start + timedelta(minutes=37 * i)
        if i % 6 == 0:  # one in six: a fact or a preference
            thing, city = rng.choice(THINGS), rng.choice(CITIES)
            text, kind = rng.choice(
                [
                    (f"The user likes {thing} (note {i}).", "preference"),
                    (f"The user doesn't like {thing} (note {i}).", "preference"),
                    (f"The user visited {city} and enjoyed the {thing} there (note {i}).", "fact"),
                    (f"The user's friend in {city} is into {thing} (note {i}).", "fact"),
                ]
            )
            items.append({"text": text, "kind": kind, "created_at": at})
        else:
            turn = turns[i % len(turns)]
            role = "user" if i % 2 else "assistant"
            items.append({"text": turn, "kind": "episode", "metadata": {"role": role}, "created_at": at})
    for i, text in ((0, "The user's name is Sam."), (6, "The user lives in Lisbon.")):
        if i < n:
            items[i] = {"text": text, "kind": "profile", "created_at": start}
    return items, questions


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def open_store(path: Path, n: int, fake: bool) -> Any:
    from persona import Persona

    embedder = None
    if fake:
        from persona.testing import FakeEmbedder

        embedder = FakeEmbedder(dim=384)
    p = Persona(path, embedder=embedder, clock=lambda: datetime(2025, 1, 1, tzinfo=timezone.utc))
    have = len(p.list("bench"))
    if have < n:
        items, _ = corpus(n)
        t = time.perf_counter()
        for i in range(have, n, 1000):
            p.add_many("bench", items[i : min(n, i + 1000)])
        print(f"built the store: {n - have} memories in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return p


def bench_prompts(p: Any, questions: list[str], model: str, queries: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for strategy in STRATEGIES:
        t = time.perf_counter()
        first = p.prompt("bench", questions[0], strategy=strategy, model=model)
        cold = (time.perf_counter() - t) * 1000
        times, tokens, kept = [], [], []
        for q in questions[1 : queries + 1]:
            t = time.perf_counter()
            r = p.prompt("bench", q, strategy=strategy, model=model)
            times.append((time.perf_counter() - t) * 1000)
            tokens.append(r.tokens)
            kept.append(len(r.memory_ids))
        out[strategy] = {
            "p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(pct(times, 95), 2),
            "cold_ms": round(cold, 1),
            "tokens_mean": round(statistics.mean(tokens)),
            "budget": first.budget,
            "memories_mean": round(statistics.mean(kept), 1),
            "tokenizer": first.tokenizer,
        }
        print(
            f"{strategy:>10}: p50 {out[strategy]['p50_ms']:.1f} ms, p95 {out[strategy]['p95_ms']:.1f} ms",
            file=sys.stderr,
        )
    return out


def bench_local(p: Any, questions: list[str], generations: int, max_tokens: int) -> dict[str, Any]:
    from persona.backends import llm
    prompt = p.prompt("bench", questions[0], strategy="hybrid", model="local/smollm2")
    llm.complete("local/smollm2", [{"role": "user", "content": "hi"}], max_tokens=1)  # load once
    first_token, prefill, decode, produced = [], [], [], []
    for q in questions[1 : generations + 1]:
        prompt = p.prompt("bench", q, strategy="hybrid", model="local/smollm2")
        t0 = time.perf_counter()
        stream = llm.stream("local/smollm2", prompt.messages, max_tokens=max_tokens, temperature=0)
        stamps = [time.perf_counter() for _ in stream]
        if len(stamps) < 2:
            continue
        first_token.append(stamps[0] - t0)
        prefill.append(prompt.tokens / (stamps[0] - t0))
        decode.append((len(stamps) - 1) / (stamps[-1] - stamps[0]))
        produced.append(len(stamps))
    return {
        "prompt_tokens_mean": prompt.tokens,
        "first_token_s_median": round(statistics.median(first_token), 2),
        "prefill_tokens_per_s_median": round(statistics.median(prefill)),
        "decode_tokens_per_s_median": round(statistics.median(decode), 1),
        "decode_tokens_per_s_min": round(min(decode), 1),
        "answer_tokens_mean": round(statistics.mean(produced)),
        "n": len(decode),
        "threads": os.environ.get("PERSONA_LOCAL_THREADS", "llama.cpp default (half the cores)"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--model", default="local/smollm2", help="whose tokenizer and context window to use")
    parser.add_argument("--store", type=Path, default=Path("/tmp/persona-bench-prompt"))
    parser.add_argument("--fake-embedder", action="store_true")
    parser.add_argument("--skip-llm", action="store_true")
    parser.add_argument("--generations", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    store = args.store.with_name(
        args.store.name + ("-fake" if args.fake_embedder else "") + f"-{args.memories}"
    )
    p = open_store(store, args.memories, args.fake_embedder)
    _, questions = corpus(1)
    report: dict[str, Any] = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "memories": len(p.list("bench")),
        "embedder": p.embedder.id,
        "model": args.model,
        "prompt_assembly": bench_prompts(p, questions, args.model, args.queries),
    }
    if not args.skip_llm:
        report["local_model"] = bench_local(p, questions, args.generations, args.max_tokens)
    p.close()
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
