"""What ``strategy="auto"`` adds to prompt assembly: the arm choice, timed against the arm it chose.

    python eval/bench_bandit.py                          # 2,000 memories, default embedder, 400 pairs
    python eval/bench_bandit.py --fake-embedder --iterations 200 --json

One user holds ``--memories`` memories (the simulated users' small talk and facts); their policy is trained
with ``--train`` rated turns first (so the posteriors are not flat). Then, ``--iterations`` times, over
varied questions: ``prompt(strategy="auto")`` and ``prompt(strategy=<the arm it chose>, max_prompt_tokens=<its
budget>)`` on the same question, in alternating order (whichever runs second finds the query's embedding
cached, so each goes first half of the time). Reported: p50/p95 of each, and p50/p95 of the paired
difference (auto minus fixed), the cost of the choice. Target: at most 1 ms.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from persona import Persona  # noqa: E402
from persona.evaluation.bandit_users import simulate  # noqa: E402

QUESTIONS = [
    "What should I cook for dinner tonight?",
    "Any advice on that?",
    "What is the capital of Australia?",
    "Who did I lend my novel to?",
    "How far can I get on a single charge?",
    "What did I plant at my allotment?",
    "Can you help me think this through?",
    "Why is the sky blue?",
]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def run(memories: int, iterations: int, train: int, fake: bool, model: str) -> dict[str, Any]:
    users = simulate(4, seed=1, filler=max(1, memories // 16))
    items = [m for u in users for m in u.memories][:memories]
    now = max(m["created_at"] for m in items) + timedelta(hours=1)
    embedder: Any = None
    if fake:
        from persona.testing import FakeEmbedder

        embedder = FakeEmbedder()
    rng = random.Random(0)
    with (
        tempfile.TemporaryDirectory(prefix="persona-bench-bandit-") as tmp,
        Persona(Path(tmp) / "store", embedder=embedder, clock=lambda: now) as p,
    ):
        p.add_many("u", items, supersede=False)
        for i in range(train):
            reply = p.chat("u", QUESTIONS[i % len(QUESTIONS)], strategy="auto", model=model,
                           learn=False, mock_response="ok")
            p.feedback(reply.id, 1.0 if reply.arm.startswith(("hybrid", "retrieved")) else -1.0)
        for q in QUESTIONS:  # warm: index, tokenizer, templates
            p.prompt("u", q, strategy="auto", model=model)
        auto_ms: list[float] = []
        fixed_ms: list[float] = []
        diff: list[float] = []
        arms: dict[str, int] = {}
        last = "hybrid@1024"
        for i in range(iterations):
            q = f"{QUESTIONS[i % len(QUESTIONS)]} ({rng.randrange(10**6)})"

            def timed_auto(q: str = q) -> tuple[float, Any]:
                t = time.perf_counter()
                out = p.prompt("u", q, strategy="auto", model=model)
                return 1000 * (time.perf_counter() - t), out

            def timed_fixed(strategy: str, budget: int | None, q: str = q) -> float:
                t = time.perf_counter()
                p.prompt("u", q, strategy=strategy, model=model, max_prompt_tokens=budget)
                return 1000 * (time.perf_counter() - t)

            if i % 2 == 0:
                a, rendered = timed_auto()
                strategy, _, budget = str(rendered.arm).partition("@")
                f = timed_fixed(strategy, None if budget == "default" else int(budget))
            else:  # the arm auto will choose is not known yet: time the fixed call on the previous arm's
                strategy, _, budget = last.partition("@")
                f = timed_fixed(strategy, None if budget == "default" else int(budget))
                a, rendered = timed_auto()
            last = str(rendered.arm)
            arms[last] = arms.get(last, 0) + 1
            auto_ms.append(a)
            fixed_ms.append(f)
            diff.append(a - f)
    return {
        "memories": len(items),
        "iterations": iterations,
        "embedder": "fake" if fake else "default",
        "model": model,
        "auto_p50_ms": _pct(auto_ms, 50),
        "auto_p95_ms": _pct(auto_ms, 95),
        "fixed_p50_ms": _pct(fixed_ms, 50),
        "fixed_p95_ms": _pct(fixed_ms, 95),
        "diff_p50_ms": _pct(diff, 50),
        "diff_p95_ms": _pct(diff, 95),
        "diff_mean_ms": statistics.fmean(diff),
        "p50_difference_ms": _pct(auto_ms, 50) - _pct(fixed_ms, 50),
        "arms_chosen": dict(sorted(arms.items(), key=lambda x: -x[1])),
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--memories", type=int, default=2000)
    parser.add_argument("--iterations", type=int, default=400)
    parser.add_argument("--train", type=int, default=60, help="rated auto turns before timing")
    parser.add_argument("--fake-embedder", action="store_true", help="the hashing test embedder (quicker)")
    parser.add_argument("--model", default="gpt-4o-mini", help="counts tokens; never called")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    import persona

    if not hasattr(persona, "Arm"):
        print("this persona has no strategy='auto' (#16: persona.Arm is missing); nothing to time", file=sys.stderr)
        return 2
    out = run(args.memories, args.iterations, args.train, args.fake_embedder, args.model)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"{out['memories']} memories, {out['iterations']} pairs, embedder {out['embedder']}")
        for what in ("auto", "fixed", "diff"):
            print(f"  {what:5}  p50 {out[what + '_p50_ms']:7.3f} ms   p95 {out[what + '_p95_ms']:7.3f} ms")
        print(f"  p50(auto) - p50(fixed) = {out['p50_difference_ms']:.3f} ms (target <= 1 ms)")
        print(f"  arms chosen: {out['arms_chosen']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
