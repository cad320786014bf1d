"""The bandit section of ``report.md`` and ``bandit_regret.png``, from the ``bandit_<task>.json`` files.

Per task: what ran, then per group (each user type, and ``all``: the mixed population) cumulative regret per
user at the last turn for auto, random, the best fixed arm in hindsight and every fixed arm; the targets (after
`TARGET_AFTER` turns auto within 5% of the best fixed arm per type, and below every fixed arm across the mixed
population) with the figures behind them; and which arms auto chose.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .bandit import TARGET_AFTER, GroupSummary, summarize_regret

__all__ = ["PLOT_FILE", "bandit_section", "read_bandit", "write_bandit_plot"]

PLOT_FILE = "bandit_regret.png"
_TASK_ORDER = ("simulated", "locomo", "prefeval")


def read_bandit(out: Path) -> list[dict[str, Any]]:
    """The bandit results in ``out`` (simulated first)."""
    found = [json.loads(p.read_text("utf-8")) for p in sorted(out.glob("bandit_*.json"))]
    return sorted(found, key=lambda r: _TASK_ORDER.index(r["task"]) if r["task"] in _TASK_ORDER else 99)


def _f(value: float, digits: int = 1) -> str:
    return f"{value:.{digits}f}"


def _table(head: list[str], body: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in body]


def _gap(s: GroupSummary) -> float:
    """How far auto's probability of a good rating is below the best fixed arm's, relative (negative: above)."""
    if not s.has_auto:
        return float("nan")
    auto, best = (1 + s.mean_reward_late["auto"]) / 2, (1 + s.mean_reward_late["best in hindsight"]) / 2
    return (best - auto) / max(1e-9, best)


def _group_lines(s: GroupSummary, arms: Sequence[str]) -> list[str]:
    best = s.mean_reward_late["best in hindsight"]
    head = "mixed population" if s.group == "all" else f"user type `{s.group}`"
    lines = [f"#### {head} ({s.users} users x {s.turns} turns)", ""]
    if not s.has_auto:
        lines += [f"Best fixed arm in hindsight: `{s.best_arm}` (mean expected rating {_f(best, 3)}).", ""]
    else:
        auto, gap = s.mean_reward_late["auto"], _gap(s)
        lines += [
            f"Best fixed arm in hindsight: `{s.best_arm}`. {_late(s)}, mean expected rating per turn: "
            f"auto {_f(auto, 3)}, best fixed {_f(best, 3)} (auto's good-rating probability "
            f"{_f(100 * abs(gap), 1)}% {'below' if gap > 0 else 'above'} the best's; target within 5%: "
            f"**{'met' if s.within_5pct else 'missed'}**). auto explored in {_f(100 * s.exploring)}% of turns.",
            "",
        ]
    if s.group == "all" and s.has_auto:
        worse = [a for a in arms if s.regret["auto"] >= s.regret[a]]
        lines += [
            f"Target, auto's regret below every fixed arm's: **{'met' if s.beats_every_arm else 'missed'}**"
            + (f" (not below {', '.join(f'`{a}`' for a in worse)})" if worse else "")
            + ".",
            "",
        ]
    order = [*(["auto"] if s.has_auto else []), "random", "best in hindsight"]
    order += sorted(arms, key=lambda a: s.regret[a])
    body = [
        [
            f"`{p}`" if p in arms else p,
            _f(s.regret[p]),
            _f(s.mean_reward_late[p], 3) if p in s.mean_reward_late else "–",
        ]
        for p in order
    ]
    lines += _table(["policy", "cumulative regret / user", f"mean reward, {_late(s).lower()}"], body)
    if not s.has_auto:
        return [*lines, ""]
    picks = ", ".join(f"`{a}` {_f(100 * v)}%" for a, v in list(s.auto_arms.items())[:4])
    return [*lines, "", f"auto's choices, {_late(s).lower()} (top 4): {picks}.", ""]


def _overview(summaries: Sequence[GroupSummary]) -> list[str]:
    body = [
        [
            "all (mixed)" if s.group == "all" else s.group,
            f"`{s.best_arm}`",
            _f(s.regret["auto"]) if s.has_auto else "–",
            _f(s.regret["best in hindsight"]),
            _f(s.regret["random"]),
            f"{_f(-100 * _gap(s), 1)}%" if s.has_auto else "–",
            _verdict(s.within_5pct, s.has_auto),
            _verdict(s.beats_every_arm, s.has_auto) if s.group == "all" else "",
        ]
        for s in summaries
    ]
    head = ["group", "best fixed arm", "regret auto", "regret best fixed", "regret random",
            "auto vs best, late", "within 5%", "below every arm"]
    return [*_table(head, body), ""]


def _verdict(met: bool, ran: bool) -> str:
    return "met" if met else "missed" if ran else "not run"


def _late(s: GroupSummary) -> str:
    return f"After {s.late_from} turns" if s.late_from else f"Over all turns (a run of at most {TARGET_AFTER})"


def bandit_section(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """The report's ``## bandit`` section (nothing when no bandit task ran)."""
    if not results:
        return []
    lines = [
        "## bandit",
        "",
        "`strategy=\"auto\"` against fixed arms (strategy@budget). Regret at a turn: the expected rating of the "
        "turn's best arm minus the policy's (pseudo-regret, from expectations). Every arm's expected rating per "
        "(user, question) comes from rendering that arm's prompt once; random is its expectation (the mean "
        "over arms); auto runs through `chat` and `feedback`. Ratings are +1/-1 draws whose probability "
        "depends only on what reached the prompt (the memories shown, the memory tokens), never on the "
        f"arm's name. The plot: `{PLOT_FILE}`.",
        "",
    ]
    for result in results:
        lines += [f"### {result['task']}", ""]
        if "skipped" in result:
            lines += [f"Skipped: {result['skipped']}", ""]
            continue
        lines += [f"Ran: {result['ran']}.", ""]
        secs = result.get("seconds", {})
        if secs:
            lines += ["Seconds: " + ", ".join(f"{k} {_f(v)}" for k, v in secs.items()) + ".", ""]
        summaries = summarize_regret(result)
        lines += [
            f"Cumulative regret per user at turn {result['turns']}; auto vs best: auto's probability of a good "
            f"rating relative to the best fixed arm's, after {TARGET_AFTER} turns.",
            "",
            *_overview(summaries),
        ]
        for summary in summaries:
            lines += _group_lines(summary, result["arms"])
    return lines


def write_bandit_plot(out: Path, results: Sequence[Mapping[str, Any]]) -> Path | None:
    """``bandit_regret.png``: cumulative regret per user against turns, one panel per task and group."""
    ran = [r for r in results if "skipped" not in r]
    if not ran:
        return None
    try:
        import matplotlib
    except ImportError:
        warnings.warn("matplotlib is missing: no regret plot (pip install 'persona[eval]')", stacklevel=2)
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = [(r["task"], s) for r in ran for s in summarize_regret(r)]
    cols = min(3, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 4 * rows), squeeze=False)
    for i, (task, s) in enumerate(panels):
        ax = axes[i // cols][i % cols]
        arms = [p for p in s.curves if p not in ("auto", "random", "best in hindsight")]
        for arm in arms:
            ax.plot(s.curves[arm], color="0.75", linewidth=0.8)
        ax.plot([], [], color="0.75", linewidth=0.8, label="each fixed arm")
        ax.plot(s.curves["random"], color="tab:orange", label="random")
        ax.plot(s.curves["best in hindsight"], color="tab:green", label=f"best fixed ({s.best_arm})")
        if s.has_auto:
            ax.plot(s.curves["auto"], color="tab:blue", linewidth=2, label="auto")
        ax.axvline(TARGET_AFTER, color="0.5", linestyle=":", linewidth=0.8)
        ax.set_title(f"{task}: {'all users' if s.group == 'all' else s.group}")
        ax.set_xlabel("turn (per user)")
        ax.set_ylabel("cumulative regret per user")
        top = 1.5 * max(s.curves[p][-1] for p in ("random", "auto", "best in hindsight") if p in s.curves)
        ax.set_ylim(0, max(1.0, top))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for j in range(len(panels), rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.tight_layout()
    path = out / PLOT_FILE
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
