"""The ``persona eval`` command: run an evaluation config and write results.jsonl, report.md and plots."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from ._output import JsonFlag, console, emit_json

__all__ = ["register"]

PANEL = "Evaluation"


def evaluate(
    config: Annotated[
        Path,
        typer.Argument(
            metavar="CONFIG",
            dir_okay=False,
            show_default=False,
            help="A TOML or YAML run config. Example: eval/configs/smoke.toml",
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="DIR",
            file_okay=False,
            show_default=False,
            help="Write results.jsonl, report.md and the plots here (default: eval/out/<config name>); "
            "an earlier run there is resumed. Example: --out runs/smoke",
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            "-n",
            min=1,
            show_default=False,
            help="Only the first N questions of each dataset. Example: --limit 20",
        ),
    ] = None,
    no_llm: Annotated[
        bool,
        typer.Option(
            "--no-llm",
            help="Skip answering and judging: retrieval, evidence in prompt, tokens and latency only. "
            "Example: --no-llm",
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars. Example: --quiet")] = False,
    json: JsonFlag = False,
) -> None:
    """Compare prompt strategies end to end on LoCoMo, PrefEval or synthetic users, as a config says.

    The config crosses datasets x strategies x models x token budgets. Runs offline with the local model;
    LLM answers are cached on disk, and a re-run with the same --out resumes where it stopped.

    JSON: {"out", "rows_written", "rows_skipped", "llm_calls", "llm_cache_hits", "seconds", "files": [...]}.

    Example: persona eval eval/configs/smoke.toml --out /tmp/smoke
    """
    from persona.evaluation.config import load_config
    from persona.evaluation.runner import run_eval

    cfg = load_config(config).with_limit(limit)
    if no_llm:
        cfg = dataclasses.replace(cfg, answer=False, judge_model=None)
    summary = run_eval(cfg, out or Path("eval/out") / config.stem, progress=not quiet)
    if json:
        data = dataclasses.asdict(summary)
        data["out"] = str(summary.out)
        data["files"] = [str(f) for f in summary.files]
        emit_json(data)
        return
    err = console(stderr=True)
    err.print(
        f"{summary.rows_written} rows written ({summary.rows_skipped} already there), "
        f"{summary.llm_calls} LLM calls ({summary.llm_cache_hits} from the cache) in {summary.seconds:.1f} s",
        markup=False,
    )
    for file in summary.files:
        typer.echo(str(file))


def register(app: typer.Typer) -> None:
    """Add ``persona eval`` to ``app``."""
    app.command("eval", rich_help_panel=PANEL)(evaluate)
