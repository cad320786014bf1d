"""How well the built-in PII detectors work: precision and recall per detector on persona's labelled set,
and the share of ordinary chat turns (LoCoMo dev) they flag.

    python eval/pii.py                 # the labelled set (eval/data/pii.jsonl) and LoCoMo dev turns
    python eval/pii.py --json          # the same figures as JSON
    python eval/pii.py --show-errors   # every false positive and miss of the labelled set

A detected span counts as a true positive when a labelled value of the same detector overlaps it; a
labelled value no span of its detector overlaps is a miss. LoCoMo turns (from ``$PERSONA_DATA_DIR``, default
../shared/data) hold no real PII (the benchmark's dialogues are generated), so every turn flagged there is a
false positive; the target is at most 2% of turns. Without the data, that part is skipped with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from persona.pii import BUILTIN_DETECTORS, detect

ROOT = Path(__file__).resolve().parents[1]
SET = ROOT / "eval" / "data" / "pii.jsonl"
DATA = Path(
    os.environ.get("PERSONA_DATA_DIR")
    or next((d for d in (ROOT.parent / "shared" / "data", ROOT.parents[1] / "shared" / "data") if d.is_dir()), "")
    or ROOT.parent / "shared" / "data"
)


def load_set(path: Path = SET) -> list[dict[str, Any]]:
    lines = path.read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines[1:] if line.strip()]  # line 1 describes the set


def score(rows: list[dict[str, Any]]) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Per detector and overall: tp, fp, fn, precision, recall; and a line per error."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    errors: list[str] = []
    for row in rows:
        text = row["text"]
        spans = detect(text)
        wanted = []
        for item in row["pii"]:
            start = text.index(item["value"])
            wanted.append((item["detector"], start, start + len(item["value"])))
        matched: set[int] = set()
        for span in spans:
            hit = next(
                (
                    i
                    for i, (det, s, e) in enumerate(wanted)
                    if det == span.detector and span.start < e and s < span.end and i not in matched
                ),
                None,
            )
            if hit is None:
                fp[span.detector] += 1
                errors.append(f"FP {span.detector:11} {text[span.start : span.end]!r} in {text!r}")
            else:
                matched.add(hit)
                tp[span.detector] += 1
        for i, (det, s, e) in enumerate(wanted):
            if i not in matched:
                fn[det] += 1
                errors.append(f"FN {det:11} {text[s:e]!r} in {text!r}")
    out: dict[str, dict[str, float]] = {}
    for name in [*BUILTIN_DETECTORS, "overall"]:
        t, f, n = (
            (sum(tp.values()), sum(fp.values()), sum(fn.values()))
            if name == "overall"
            else (tp[name], fp[name], fn[name])
        )
        out[name] = {
            "tp": t,
            "fp": f,
            "fn": n,
            "precision": t / (t + f) if t + f else 1.0,
            "recall": t / (t + n) if t + n else 1.0,
        }
    return out, errors


def locomo_turns() -> list[str] | str:
    """The dev turns' texts, or why they cannot be read."""
    path = DATA / "locomo" / "locomo_dev.json"
    if not path.exists():
        return f"LoCoMo dev turns not found at {path} (set PERSONA_DATA_DIR to the benchmark data directory)"
    data = json.loads(path.read_text("utf-8"))
    texts: list[str] = []
    for conversation in data:
        sessions = conversation.get("conversation", {})
        for key, turns in sessions.items():
            if key.startswith("session_") and isinstance(turns, list):
                texts += [str(t.get("text", "")) for t in turns if isinstance(t, dict)]
    return texts


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--show-errors", action="store_true", help="list every false positive and miss")
    args = parser.parse_args(argv)
    rows = load_set()
    figures, errors = score(rows)
    report: dict[str, Any] = {
        "set": {"sentences": len(rows), "with_pii": sum(1 for r in rows if r["pii"]), "detectors": figures}
    }
    turns = locomo_turns()
    if isinstance(turns, str):
        report["locomo"] = {"skipped": turns}
    else:
        flagged = [t for t in turns if detect(t)]
        by = Counter(s.detector for t in flagged for s in detect(t))
        report["locomo"] = {
            "turns": len(turns),
            "flagged": len(flagged),
            "rate": len(flagged) / len(turns) if turns else 0.0,
            "by_detector": dict(by),
            "examples": [t[:120] for t in flagged[:10]],
        }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"labelled set: {len(rows)} sentences, {report['set']['with_pii']} with PII ({SET.relative_to(ROOT)})")
    print(f"{'detector':12} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>10} {'recall':>8}")
    for name, f in figures.items():
        print(f"{name:12} {f['tp']:>4} {f['fp']:>4} {f['fn']:>4} {f['precision']:>10.3f} {f['recall']:>8.3f}")
    loc = report["locomo"]
    if "skipped" in loc:
        print(f"LoCoMo: skipped: {loc['skipped']}")
    else:
        print(f"LoCoMo dev turns flagged: {loc['flagged']} of {loc['turns']} ({loc['rate']:.2%}; target <= 2%)")
        for example in loc["examples"]:
            print(f"  {example!r}")
    if args.show_errors:
        print("\n".join(errors))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
