"""What PII screening costs `add_many`: the same texts written with ``pii="keep"`` (no detection: the write path
as before #17), ``"label"`` (the default) and ``"mask"``, side by side in one run, rounds alternating.

    python eval/bench_pii.py                       # LoCoMo dev turns and the PII set, FakeEmbedder
    python eval/bench_pii.py --embedder default    # with the bundled sentence embedder (slower, realistic)

Each round writes every text once per policy (``--batch`` texts per `add_many` call, fresh users, one store per
policy); the figure is the median over ``--rounds`` of each policy's total time, and the overhead is relative
to ``keep``. The FakeEmbedder makes embedding nearly free, so its overhead is the worst case. LoCoMo texts come
from ``$PERSONA_DATA_DIR`` (default ../shared/data); without them only the PII set is used.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from persona import Persona
from persona.pii import detect
from persona.testing import FakeEmbedder

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(
    os.environ.get("PERSONA_DATA_DIR")
    or next((d for d in (ROOT.parent / "shared" / "data", ROOT.parents[1] / "shared" / "data") if d.is_dir()), "")
    or ROOT.parent / "shared" / "data"
)
POLICIES = ("keep", "label", "mask")


def corpora(limit: int) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    path = DATA / "locomo" / "locomo_dev.json"
    if path.exists():
        texts = [
            str(t["text"])
            for conv in json.loads(path.read_text("utf-8"))
            for key, turns in conv["conversation"].items()
            if key.startswith("session_") and isinstance(turns, list)
            for t in turns
            if isinstance(t, dict) and str(t.get("text", "")).strip()
        ]
        out["locomo"] = texts[:limit]
    else:
        print(f"LoCoMo not found at {path}: only the PII set is used", file=sys.stderr)
    lines = (ROOT / "eval" / "data" / "pii.jsonl").read_text("utf-8").splitlines()[1:]
    pii = [json.loads(line)["text"] for line in lines]
    out["pii_set"] = (pii * (limit // len(pii) + 1))[:limit]
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=2000, help="texts per corpus (default 2000)")
    parser.add_argument("--batch", type=int, default=200, help="texts per add_many call (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--embedder", default="fake", help="'fake' (default) or 'default' (the bundled one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as root:
        stores = {
            name: Persona(
                Path(root) / name,
                embedder=FakeEmbedder() if args.embedder == "fake" else None,
                pii=name,
            )
            for name in POLICIES
        }
        try:
            for name, texts in corpora(args.texts).items():
                times: dict[str, list[float]] = {p: [] for p in POLICIES}
                for r in range(args.rounds + 1):  # round 0 warms up (model load, caches)
                    order = POLICIES if r % 2 else POLICIES[::-1]
                    for policy in order:
                        p = stores[policy]
                        start = time.perf_counter()
                        for i in range(0, len(texts), args.batch):
                            items = [{"text": t, "kind": "episode"} for t in texts[i : i + args.batch]]
                            p.add_many(f"{name}-{r}-{i}", items, supersede=False)
                        if r:
                            times[policy].append(time.perf_counter() - start)
                keep = statistics.median(times["keep"])
                alone = []
                for _ in range(args.rounds):
                    start = time.perf_counter()
                    for t in texts:
                        detect(t)
                    alone.append(time.perf_counter() - start)
                print(f"{name}: {len(texts)} texts, batches of {args.batch}, embedder {args.embedder}")
                print(f"  detection alone {statistics.median(alone) * 1e6 / len(texts):6.1f} us/text")
                for policy in POLICIES:
                    med = statistics.median(times[policy])
                    print(
                        f"  pii={policy:6} {med * 1000:8.1f} ms  ({len(texts) / med:7.0f} texts/s)  "
                        f"{(med / keep - 1) * 100:+6.1f}% vs keep"
                    )
        finally:
            for p in stores.values():
                p.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
