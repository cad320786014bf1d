"""Ranking ablations on the LoCoMo development half, and the re-phrased temporal questions, over one ingest.

    python eval/ablation.py                        # every row of ABLATIONS
    python eval/ablation.py --row default --row "round 3"
    python eval/ablation.py --group hop            # the default and the multi-hop candidates only

Each conversation is ingested once exactly as eval/retrieval.py does (one episode per turn through
``add_many``, "Speaker: text [image: caption]", ``created_at`` the session date, metadata
``dia_id``/``session``/``speaker``); each row then sets ``Persona.ranking`` and asks every question with
``Persona.search`` (each k asked separately). The re-phrased set (eval/data/locomo_dev_temporal_rephrased.json,
written for this project: a span or relative phrase instead of the question's date) is asked in both forms:
its original question and the re-phrasing, against the same evidence turns. The relative re-phrasings
count from the session after the evidence (``now`` in the file), as a live user would ask them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from persona.evaluation import datasets
from persona.evaluation.metrics import recall_at_k
from persona.evaluation.retrieval import CachingEmbedder, PersonaRetriever, evaluable, locomo_documents
from persona.retrieval.config import RankingConfig

DEFAULT = RankingConfig()
ABLATIONS: dict[str, RankingConfig] = {
    "round 3": replace(DEFAULT, span_boost=0.0, date_boost=0.2),
    "default": DEFAULT,
    "without span": replace(DEFAULT, span_boost=0.0),
    "span + round-3 date boost": replace(DEFAULT, date_boost=0.2),
    "span 0.1": replace(DEFAULT, span_boost=0.1),
    "span 0.3": replace(DEFAULT, span_boost=0.3),
    "span, told 3 days": replace(DEFAULT, span_told_days=3.0),
    # each mechanism of the default removed (multi-hop / open-domain, round 4)
    "without sentence keys": replace(DEFAULT, segment_keys=False),
    "without context keys": replace(DEFAULT, context_mix=0.0),
    "without conversation centroid": replace(DEFAULT, conversation_dense=0.0),
    "without neighbour BM25": replace(DEFAULT, neighbour_lexical=0.0, next_lexical=0.0),
    "without mention boost": replace(DEFAULT, mention_boost=0.0),
    "without question penalty": replace(DEFAULT, question_penalty=0.0),
    "without length prior": replace(DEFAULT, length_prior=0.0),
    # candidates for multi-hop / open-domain added (persona.retrieval.secondpass, off by default)
    "+ second hop 0.05": replace(DEFAULT, hop_weight=0.05),
    "+ second hop 0.1": replace(DEFAULT, hop_weight=0.1),
    "+ second hop 0.2": replace(DEFAULT, hop_weight=0.2),
    "+ neighbour credit 0.2": replace(DEFAULT, neighbour_credit=0.2),
    "+ neighbour credit 0.4": replace(DEFAULT, neighbour_credit=0.4),
    "+ session penalty 0.02": replace(DEFAULT, session_penalty=0.02),
    "+ session penalty 0.05": replace(DEFAULT, session_penalty=0.05),
}
GROUPS: dict[str, list[str]] = {
    "span": [r for r in ABLATIONS if r.startswith(("round", "default", "span", "without span"))],
    "removed": ["default", *(r for r in ABLATIONS if r.startswith("without") and r != "without span")],
    "hop": ["default", *(r for r in ABLATIONS if r.startswith("+"))],
}
REPHRASED = Path(__file__).parent / "data" / "locomo_dev_temporal_rephrased.json"
CATEGORIES = ("multi-hop", "temporal", "open-domain", "single-hop")


def _recall(p: Any, user: str, query: str, evidence: tuple[str, ...], k: int) -> float:
    keys = [str(h.memory.metadata["dia_id"]) for h in p.search(user, query, k=k)]
    return recall_at_k(tuple(keys), evidence, k)


def run(rows: list[str], data_dir: str | None) -> list[dict[str, Any]]:
    from persona.backends.embedders import default_embedder

    conversations = datasets.load_locomo(data_dir)
    rephrased = json.loads(REPHRASED.read_text("utf-8"))["questions"]
    asked_at: list[datetime] = []  # the clock of the Persona: the real time unless a question sets it

    def clock() -> datetime:
        return asked_at[-1] if asked_at else datetime.now(timezone.utc)

    retriever = PersonaRetriever(
        None, embedder=CachingEmbedder(default_embedder()), key_field="dia_id", clock=clock
    )
    p = retriever.persona
    try:
        for conv in conversations:
            retriever.add(conv.sample_id, locomo_documents(conv))
        out: list[dict[str, Any]] = []
        for row in rows:
            p.ranking = ABLATIONS[row]
            scores: dict[str, list[float]] = {}
            for conv in conversations:
                for qa in conv.qa:
                    if not evaluable(qa):
                        continue
                    for k in (5, 10):
                        r = _recall(p, conv.sample_id, qa.question, qa.evidence, k)
                        scores.setdefault(f"R@{k}", []).append(r)
                        if k == 10:
                            scores.setdefault(qa.category_name, []).append(r)
            original: list[float] = []
            again: list[float] = []
            for item in rephrased:
                evidence = tuple(item["evidence"])
                original.append(_recall(p, item["sample_id"], item["original"], evidence, 10))
                asked_at.append(datetime.fromisoformat(item["now"]))  # relative phrases count from here
                again.append(_recall(p, item["sample_id"], item["rephrased"], evidence, 10))
                asked_at.clear()
            result = {name: 100 * sum(v) / len(v) for name, v in scores.items()}
            result["original"] = 100 * sum(original) / len(original)
            result["rephrased"] = 100 * sum(again) / len(again)
            result["row"] = row
            out.append(result)
            print(_line(result), flush=True)
        return out
    finally:
        retriever.close()


def _line(r: dict[str, Any]) -> str:
    cells = [r["row"], *(f"{r[c]:.1f}" for c in ("R@5", "R@10", *CATEGORIES, "original", "rephrased"))]
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python eval/ablation.py", description=__doc__.split("\n")[0])
    parser.add_argument("--row", action="append", choices=list(ABLATIONS), help="rows to run (default all)")
    parser.add_argument(
        "--group",
        choices=list(GROUPS),
        help="a named set of rows: span (round 4's time rows), removed (each default mechanism off), "
        "hop (the multi-hop candidates on)",
    )
    parser.add_argument("--data-dir", default=None, help=f"benchmark data (default ${datasets.DATA_DIR_ENV})")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print(
        "| ranking | R@5 | R@10 | multi-hop R@10 | temporal | open-domain | single-hop "
        "| re-phrased set: original R@10 | re-phrased R@10 |"
    )
    print("|---|" + "---:|" * 8)
    rows = args.row or (GROUPS[args.group] if args.group else list(ABLATIONS))
    run(list(dict.fromkeys(rows)), args.data_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
