"""Benchmark the default embedder against raw sentence-transformers, side by side on the same texts.

Texts are LoCoMo conversation turns (documents) and LoCoMo questions (queries), read from the dataset file.
The two runtimes alternate round by round, so both see the same machine load. Prints texts/s for batched
encoding, single-query latency p50/p95, the largest absolute difference between the vectors, and the
command line that reproduces the run. Runs in well under two minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_DATA = Path("/work/shared/data/locomo/locomo_dev.json")


def load_texts(path: Path) -> tuple[list[str], list[str]]:
    """(conversation turns, questions) from a LoCoMo-format JSON file, in file order, non-empty only."""
    with path.open(encoding="utf-8") as f:
        samples = json.load(f)
    turns: list[str] = []
    questions: list[str] = []
    for sample in samples:
        for value in sample["conversation"].values():
            if isinstance(value, list):
                turns.extend(t["text"] for t in value if t.get("text", "").strip())
        questions.extend(q["question"] for q in sample["qa"] if str(q.get("question", "")).strip())
    return turns, questions


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="LoCoMo-format JSON file")
    parser.add_argument("--texts", type=int, default=512, help="number of turns to encode in batch")
    parser.add_argument("--queries", type=int, default=200, help="number of single queries to time")
    parser.add_argument("--rounds", type=int, default=2, help="alternating batched rounds per runtime")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size for both runtimes")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")
    parser.add_argument("--cache-dir", type=Path, default=None, help="ONNX cache (default: persona's)")
    args = parser.parse_args(argv)

    from persona._env import ensure_offline_env
    from persona.backends.embedders import default_embedder
    from persona.backends.hf_models import bundled_model_dir
    from persona.backends.onnx_embedder import OnnxEmbedder

    ensure_offline_env()
    turns, questions = load_texts(args.data)
    texts = turns[: args.texts]
    queries = questions[: args.queries]

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # before transformers is imported
    import torch
    from sentence_transformers import SentenceTransformer

    started = time.perf_counter()
    st = SentenceTransformer(str(bundled_model_dir()), device="cpu")
    st_load = time.perf_counter() - started

    if args.threads is not None or args.cache_dir is not None:
        kwargs: dict[str, Any] = {"batch_size": args.batch_size, "cache_dir": args.cache_dir}
        if args.threads is not None:
            kwargs["threads"] = args.threads
        embedder: Any = OnnxEmbedder(**kwargs)
    else:
        embedder = default_embedder()
        embedder.batch_size = args.batch_size
    started = time.perf_counter()
    embedder.embed(["warm-up"])
    default_load = time.perf_counter() - started

    def st_encode(items: list[str]) -> Any:
        return st.encode(
            items, batch_size=args.batch_size, normalize_embeddings=True, show_progress_bar=False
        )

    st_name, default_name = "sentence-transformers (torch)", f"default: {embedder!r}"
    runtimes: dict[str, Callable[[list[str]], Any]] = {st_name: st_encode, default_name: embedder.embed}
    for encode in runtimes.values():  # warm both up on one batch
        encode(texts[: args.batch_size])

    rates: dict[str, list[float]] = {name: [] for name in runtimes}
    outputs: dict[str, Any] = {}
    for _ in range(args.rounds):
        for name, encode in runtimes.items():
            started = time.perf_counter()
            outputs[name] = encode(texts)
            rates[name].append(len(texts) / (time.perf_counter() - started))

    latencies: dict[str, list[float]] = {name: [] for name in runtimes}
    for query in queries:  # alternate per query, so both see the same load
        for name, encode in runtimes.items():
            started = time.perf_counter()
            encode([query])
            latencies[name].append((time.perf_counter() - started) * 1000)

    batch_diff = float(np.abs(np.asarray(outputs[st_name]) - outputs[default_name]).max())
    query_diff = max(
        float(np.abs(np.asarray(st_encode([q])) - embedder.embed([q])).max()) for q in queries[:50]
    )
    export = getattr(embedder, "export_seconds", None)

    print(f"texts: {len(texts)} LoCoMo turns, {len(queries)} LoCoMo questions from {args.data}")
    print(f"batch size {args.batch_size}; torch threads {torch.get_num_threads()}; rounds {args.rounds}")
    print(f"load: sentence-transformers {st_load:.2f}s; default {default_load:.2f}s", end="")
    print(f" (ONNX export {export:.1f}s)" if export else " (cached ONNX file)")
    print()
    width = max(len(name) for name in runtimes)
    print(f"{'runtime':<{width}}  {'texts/s (median; all rounds)':<34}  {'query p50 ms':>12}  {'p95 ms':>7}")
    for name in runtimes:
        all_rates = ", ".join(f"{r:.0f}" for r in rates[name])
        rate = f"{statistics.median(rates[name]):7.0f}  ({all_rates})"
        p50, p95 = percentile(latencies[name], 50), percentile(latencies[name], 95)
        print(f"{name:<{width}}  {rate:<34}  {p50:>12.2f}  {p95:>7.2f}")
    ratio = statistics.median(rates[default_name]) / statistics.median(rates[st_name])
    print()
    print(f"batched throughput, default / sentence-transformers: {ratio:.2f}")
    print(f"max abs diff: {batch_diff:.2e} (batched), {query_diff:.2e} (single queries)")
    print()
    print("reproduce:", shlex.join([sys.executable, *sys.argv]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
