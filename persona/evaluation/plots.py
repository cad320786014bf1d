"""PNG plots of a run: answer quality (or evidence in prompt) against prompt tokens per strategy, R@k curves.

Needs matplotlib (the ``eval`` extra); without it no plot is written and the report still is.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .metrics import mean
from .report import summarize

__all__ = ["write_plots"]


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        warnings.warn("matplotlib is missing: no plots (pip install 'persona[eval]')", stacklevel=3)
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _quality_vs_tokens(plt: Any, out: Path, rows: Sequence[Mapping[str, Any]]) -> Path | None:
    summaries = summarize(rows)
    datasets = list(dict.fromkeys(s.dataset for s in summaries))
    if not datasets:
        return None
    answered = any(isinstance(r.get("f1"), (int, float)) for r in rows)
    metrics = [("evidence_in_prompt", "evidence in prompt")] + ([("f1", "token F1")] if answered else [])
    fig, axes = plt.subplots(
        len(metrics), len(datasets), figsize=(5 * len(datasets), 4 * len(metrics)), squeeze=False
    )
    for col, dataset in enumerate(datasets):
        for row, (attr, label) in enumerate(metrics):
            ax = axes[row][col]
            for strategy, model in dict.fromkeys(
                (s.strategy, s.model) for s in summaries if s.dataset == dataset
            ):
                points = sorted(
                    (s.tokens_mean, getattr(s, attr))
                    for s in summaries
                    if s.dataset == dataset
                    and s.strategy == strategy
                    and s.model == model
                    and not math.isnan(s.tokens_mean)
                    and not math.isnan(getattr(s, attr))
                )
                if points:
                    xs, ys = zip(*points, strict=True)
                    ax.plot(xs, [100 * y for y in ys], marker="o", label=f"{strategy} ({model})")
            ax.set_title(f"{dataset}: {label}")
            ax.set_xlabel("prompt tokens per query (mean)")
            ax.set_ylabel(f"{label} (%)")
            ax.set_ylim(-2, 102)
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize="small")
    fig.tight_layout()
    path = out / "quality_vs_tokens.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _recall_curves(plt: Any, out: Path, rows: Sequence[Mapping[str, Any]], ks: Sequence[int]) -> Path | None:
    first: dict[tuple[str, str], Mapping[str, Any]] = {}
    for r in rows:
        if isinstance(r.get("recall"), dict):
            first.setdefault((str(r["dataset"]), str(r["question_id"])), r)
    datasets = list(dict.fromkeys(d for d, _ in first))
    if not datasets:
        return None
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 4), squeeze=False)
    for col, dataset in enumerate(datasets):
        ax = axes[0][col]
        scored = [r for (d, _), r in first.items() if d == dataset]
        categories = list(dict.fromkeys(str(r.get("category")) for r in scored))
        groups = [(c, [r for r in scored if str(r.get("category")) == c]) for c in categories]
        if len(categories) > 6:
            groups = []
        for name, group in [*groups, ("overall", scored)]:
            ys = [100 * mean(float(r["recall"][str(k)]) for r in group if str(k) in r["recall"]) for k in ks]
            ax.plot(
                list(ks),
                ys,
                marker="o",
                label=f"{name} (n={len(group)})",
                linewidth=3 if name == "overall" else 1.5,
            )
        ax.set_xscale("log")
        ax.set_xticks(list(ks))
        ax.set_xticklabels([str(k) for k in ks])
        ax.set_title(f"{dataset}: R@k (Persona.search)")
        ax.set_xlabel("k")
        ax.set_ylabel("R@k (%)")
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    path = out / "recall_at_k.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_plots(out: Path, rows: Sequence[Mapping[str, Any]], ks: Sequence[int]) -> list[Path]:
    """Write ``quality_vs_tokens.png`` and ``recall_at_k.png`` into ``out``; the paths written."""
    plt = _pyplot()
    if plt is None:
        return []
    written = [_quality_vs_tokens(plt, out, rows), _recall_curves(plt, out, rows, ks)]
    return [p for p in written if p is not None]
