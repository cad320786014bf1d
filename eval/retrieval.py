"""Retrieval quality on LoCoMo and PrefEval: ``Persona.search`` and the reference baselines, as tables.

    python eval/retrieval.py                                   # Persona.search, LoCoMo + PrefEval
    python eval/retrieval.py --dataset locomo --variant dated --baseline dense --baseline bm25 --baseline rrf
    python eval/retrieval.py --dataset prefeval --setting topic --limit 50

The data is read from $PERSONA_DATA_DIR (default ../shared/data next to the repository). The protocol is
described in persona/evaluation/retrieval.py, the baselines' exact settings in persona/evaluation/baselines.py.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
from pathlib import Path

from persona.backends.base import Embedder
from persona.errors import InvalidInputError, PersonaError
from persona.evaluation import datasets
from persona.evaluation.baselines import BASELINES, MiniLMEmbedder, make_baseline
from persona.evaluation.retrieval import (
    DEFAULT_KS,
    LOCOMO_VARIANTS,
    PREFEVAL_SETTINGS,
    CachingEmbedder,
    PersonaRetriever,
    RetrievalReport,
    Retriever,
    evaluate_locomo,
    evaluate_prefeval,
    render_summary,
)
from persona.store.opening import is_dsn


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python eval/retrieval.py",
        description="Measure retrieval recall on LoCoMo and PrefEval (Persona.search and baselines).",
    )
    parser.add_argument("--dataset", choices=["locomo", "prefeval", "all"], default="all")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions of each dataset")
    parser.add_argument(
        "--variant",
        action="append",
        choices=LOCOMO_VARIANTS,
        help="LoCoMo memory text: plain 'Speaker: text' (default) or dated '(date) Speaker: text' (repeatable)",
    )
    parser.add_argument(
        "--setting",
        action="append",
        choices=PREFEVAL_SETTINGS,
        help="PrefEval: one user per preference (item) or per topic (topic); default both (repeatable)",
    )
    parser.add_argument(
        "--baseline",
        action="append",
        choices=BASELINES,
        default=[],
        help="run a reference retriever instead of Persona.search (repeatable)",
    )
    parser.add_argument(
        "--persona", action="store_true", help="also run Persona.search when --baseline is given"
    )
    parser.add_argument("--k", default=",".join(map(str, DEFAULT_KS)), help="cut-offs, comma-separated")
    parser.add_argument(
        "--data-dir", default=None, help=f"benchmark data directory (default ${datasets.DATA_DIR_ENV})"
    )
    parser.add_argument(
        "--store",
        default=None,
        help="keep the Persona stores under this directory, one per run (default: temporary), or a PostgreSQL DSN "
        "(one schema per run, eval_<label>)",
    )
    parser.add_argument("--per-group", action="store_true", help="also print per-category / per-topic tables")
    parser.add_argument(
        "--json", dest="json_path", default=None, help="write the reports as JSON to this file"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def _systems(args: argparse.Namespace) -> list[str]:
    systems = list(dict.fromkeys(args.baseline))
    if not systems or args.persona:
        systems.insert(0, "persona")
    return systems


def _retriever(
    system: str, key_field: str, label: str, args: argparse.Namespace, cache: dict[str, Embedder]
) -> Retriever:
    if system == "persona":
        if "persona" not in cache:
            from persona.backends.embedders import default_embedder

            cache["persona"] = CachingEmbedder(default_embedder())
            cache["persona"].embed(["load the model before anything is timed"])
        if args.store and is_dsn(args.store):  # PostgreSQL: one fresh schema per dataset
            schema = "eval_" + re.sub(r"[^a-z0-9_]", "_", label.lower())
            dsn = args.store + ("&" if "?" in args.store else "?") + f"schema={schema}"
            retriever = PersonaRetriever(dsn, embedder=cache["persona"], key_field=key_field)
            if retriever.persona.count():
                retriever.close()
                raise InvalidInputError(
                    f"schema {schema} of --store already holds memories; drop it (DROP SCHEMA {schema} CASCADE)"
                )
            return retriever
        where = Path(args.store) / label if args.store else None
        if where is not None and where.exists():
            raise InvalidInputError(f"{where} already exists; give --store a fresh directory")
        return PersonaRetriever(where, embedder=cache["persona"], key_field=key_field)
    if system == "bm25":
        return make_baseline(system)
    if "baseline" not in cache:
        cache["baseline"] = CachingEmbedder(MiniLMEmbedder())
        cache["baseline"].embed(["load the model before anything is timed"])
    return make_baseline(system, cache["baseline"])


def _close(retriever: Retriever) -> None:
    close = getattr(retriever, "close", None)
    if callable(close):
        close()


def run(args: argparse.Namespace) -> list[RetrievalReport]:
    ks = tuple(int(k) for k in args.k.split(",") if k.strip())
    progress = not args.quiet
    cache: dict[str, Embedder] = {}
    reports: list[RetrievalReport] = []
    if args.dataset in ("locomo", "all"):
        conversations = datasets.load_locomo(args.data_dir)
        for variant in args.variant or ["plain"]:
            for system in _systems(args):
                retriever = _retriever(system, "dia_id", f"locomo-{variant}", args, cache)
                try:
                    reports.append(
                        evaluate_locomo(
                            retriever,
                            conversations,
                            variant=variant,
                            ks=ks,
                            limit=args.limit,
                            progress=progress,
                        )
                    )
                finally:
                    _close(retriever)
    if args.dataset in ("prefeval", "all"):
        items = datasets.load_prefeval_explicit(args.data_dir)
        filler = datasets.load_prefeval_filler(args.data_dir)
        for setting in args.setting or list(PREFEVAL_SETTINGS):
            for system in _systems(args):
                retriever = _retriever(system, "turn_id", f"prefeval-{setting}", args, cache)
                try:
                    reports.append(
                        evaluate_prefeval(
                            retriever,
                            items,
                            filler,
                            setting=setting,
                            ks=ks,
                            limit=args.limit,
                            progress=progress,
                        )
                    )
                finally:
                    _close(retriever)
    return reports


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        reports = run(args)
    except PersonaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(render_summary(reports))
    if args.per_group:
        for report in reports:
            print()
            print(report.to_markdown())
    if args.json_path:
        Path(args.json_path).write_text(json.dumps([r.to_dict() for r in reports], indent=2) + "\n")
    shown = [re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", a) for a in argv]  # no DSN password in the output
    print(f"\nReproduce: python eval/retrieval.py {shlex.join(shown)}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
