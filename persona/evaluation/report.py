"""``report.md`` from the rows of ``results.jsonl``: per dataset, retrieval quality, then strategies compared.

Every figure is recomputed from the rows, so a resumed run's report covers every row, old and new.
Percentages are of questions; "–" means not measured (no evidence labels, no answers, no judge).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import EvalConfig
from .metrics import mean, percentile

__all__ = ["ConfigSummary", "render_report", "summarize", "write_report"]

LOCAL_MODEL_NOTE = (
    "`local/...` models are small (SmolLM2-135M by default) and run offline on a CPU: their answers show that "
    "the pipeline works and how cost grows with the prompt, not how well a strategy serves a capable model. "
    "Compare strategies by evidence-in-prompt (LLM-free) and use a stronger model for answer quality."
)


@dataclass(frozen=True)
class ConfigSummary:
    """One strategy x model x budget on one dataset (or on one category of it)."""

    dataset: str
    strategy: str
    model: str
    budget: str
    n: int
    evidence_in_prompt: float
    evidence_share: float
    tokens_mean: float
    tokens_p95: float
    prompt_p50_ms: float
    prompt_p95_ms: float
    llm_p50_ms: float
    llm_p95_ms: float
    f1: float
    judge_correct: float
    follows: float
    checks: dict[str, float]
    errors: int


def _values(rows: Iterable[Mapping[str, Any]], key: str) -> list[float]:
    return [
        float(r[key])
        for r in rows
        if isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool)
    ]


def _rate(rows: Iterable[Mapping[str, Any]], key: str) -> float:
    flags = [bool(r[key]) for r in rows if isinstance(r.get(key), bool)]
    return sum(flags) / len(flags) if flags else math.nan


def _summary(
    dataset: str, strategy: str, model: str, budget: str, rows: list[dict[str, Any]]
) -> ConfigSummary:
    tokens = _values(rows, "prompt_tokens")
    prompt_ms, llm_ms = _values(rows, "prompt_ms"), _values(rows, "latency_ms")
    return ConfigSummary(
        dataset=dataset,
        strategy=strategy,
        model=model,
        budget=budget,
        n=len(rows),
        evidence_in_prompt=_rate(rows, "evidence_in_prompt"),
        evidence_share=mean(_values(rows, "evidence_share")),
        tokens_mean=mean(tokens),
        tokens_p95=percentile(tokens, 95),
        prompt_p50_ms=percentile(prompt_ms, 50),
        prompt_p95_ms=percentile(prompt_ms, 95),
        llm_p50_ms=percentile(llm_ms, 50),
        llm_p95_ms=percentile(llm_ms, 95),
        f1=mean(_values(rows, "f1")),
        judge_correct=_rate(rows, "judge_correct"),
        follows=_rate(rows, "follows"),
        checks={c: _rate(rows, c) for c in ("acknowledges", "hallucinates", "violates", "helpful")},
        errors=sum(1 for r in rows if r.get("error")),
    )


def summarize(rows: Sequence[Mapping[str, Any]], *, by_category: bool = False) -> list[ConfigSummary]:
    """One summary per dataset x strategy x model x budget (x category), in the order rows first appear."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        key: tuple[str, ...] = (
            str(r["dataset"]),
            str(r["strategy"]),
            str(r["model"]),
            str(r["budget_label"]),
        )
        if by_category:
            key += (str(r.get("category")),)
        groups.setdefault(key, []).append(dict(r))
    return [
        _summary(k[0], k[1] if not by_category else f"{k[1]}|{k[4]}", k[2], k[3], g)
        for k, g in groups.items()
    ]


def _pct(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:.1f}"


def _num(value: float, digits: int = 0) -> str:
    return "–" if math.isnan(value) else f"{value:,.{digits}f}"


def _table(head: list[str], body: list[list[str]], left: int = 1) -> list[str]:
    return [
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" if i < left else "---:" for i in range(len(head))) + "|",
        *("| " + " | ".join(row) + " |" for row in body),
    ]


def _retrieval_section(rows: list[dict[str, Any]], ks: Sequence[int]) -> list[str]:
    first: dict[str, dict[str, Any]] = {}
    for r in rows:
        first.setdefault(str(r["question_id"]), r)
    scored = [r for r in first.values() if isinstance(r.get("recall"), dict)]
    if not scored:
        return ["No question of this dataset has evidence labels: no retrieval scores.", ""]
    sessions = any(isinstance(r.get("session_recall"), dict) for r in scored)
    order = list(dict.fromkeys(str(r.get("category")) for r in scored))
    head = ["category", "n", *(f"R@{k}" for k in ks), "MRR", "nDCG@10"]
    head += [f"session R@{k}" for k in ks if sessions and k in (1, 5, 10)]
    body = []
    for name, group in [
        *((c, [r for r in scored if str(r.get("category")) == c]) for c in order),
        ("overall", scored),
    ]:
        row = [name, str(len(group))]
        row += [_pct(mean(float(r["recall"][str(k)]) for r in group if str(k) in r["recall"])) for k in ks]
        row += [_pct(mean(_values(group, "mrr"))), _pct(mean(_values(group, "ndcg_at_10")))]
        if sessions:
            row += [
                _pct(
                    mean(
                        float(r["session_recall"][str(k)])
                        for r in group
                        if str(k) in r.get("session_recall", {})
                    )
                )
                for k in ks
                if k in (1, 5, 10)
            ]
        body.append(row)
    search = _values(first.values(), "search_ms")
    return [
        *_table(head, body),
        "",
        f"Search (`Persona.search`, k={max(ks)}): p50 {_num(percentile(search, 50), 1)} ms, "
        f"p95 {_num(percentile(search, 95), 1)} ms over {len(search)} questions. R@k counts the questions "
        "with resolvable evidence (LoCoMo: categories 1-4, as the retrieval evaluation does).",
        "",
    ]


def _strategy_section(rows: list[dict[str, Any]]) -> list[str]:
    summaries = summarize(rows)
    answered = any(r.get("answer") is not None for r in rows)
    judged_qa = any("judge_correct" in r for r in rows)
    judged_pref = any("follows" in r for r in rows)
    head = ["strategy", "model", "budget", "n", "evidence in prompt %", "evidence share %"]
    head += ["tokens mean", "tokens p95", "prompt p50 ms", "prompt p95 ms"]
    if answered:
        head += ["LLM p50 ms", "LLM p95 ms"]
        head += ["F1"] if any("f1" in r for r in rows) else []
    head += ["judge correct %"] if judged_qa else []
    head += ["follows %", "ack %", "halluc %", "violates %", "helpful %"] if judged_pref else []
    head += ["errors"]
    body = []
    for s in summaries:
        row = [s.strategy, s.model, s.budget, str(s.n), _pct(s.evidence_in_prompt), _pct(s.evidence_share)]
        row += [_num(s.tokens_mean), _num(s.tokens_p95), _num(s.prompt_p50_ms, 1), _num(s.prompt_p95_ms, 1)]
        if answered:
            row += [_num(s.llm_p50_ms), _num(s.llm_p95_ms)]
            row += [_pct(s.f1)] if "F1" in head else []
        row += [_pct(s.judge_correct)] if judged_qa else []
        if judged_pref:
            row += [
                _pct(s.follows),
                *(_pct(s.checks[c]) for c in ("acknowledges", "hallucinates", "violates", "helpful")),
            ]
        row.append(str(s.errors))
        body.append(row)
    return [*_table(head, body, left=3), ""]


def _category_section(rows: list[dict[str, Any]]) -> list[str]:
    per = summarize(rows, by_category=True)
    categories = list(dict.fromkeys(s.strategy.split("|", 1)[1] for s in per))
    configs = list(dict.fromkeys((s.strategy.split("|", 1)[0], s.model, s.budget) for s in per))
    answered = any("f1" in r for r in rows)
    cells = {(s.strategy, s.model, s.budget): s for s in per}
    body = []
    for strategy, model, budget in configs:
        row = [strategy, model, budget]
        for c in categories:
            s = cells.get((f"{strategy}|{c}", model, budget))
            if s is None:
                row.append("")
            else:
                row.append(_pct(s.evidence_in_prompt) + (f" / {_pct(s.f1)}" if answered else ""))
        body.append(row)
    what = "evidence in prompt % / F1" if answered else "evidence in prompt %"
    return [
        f"Per category ({what}):",
        "",
        *_table(["strategy", "model", "budget", *categories], body, left=3),
        "",
    ]


def learning_section(learning: Mapping[str, Any] | None) -> list[str]:
    """The learning benchmark's totals per split (`persona.evaluation.learning`), or nothing."""
    if not learning:
        return []
    lines = [
        "## learning",
        "",
        "Scripted users chat (replies from the script, no model); their current facts are compared with the "
        "expected ones. Precision/recall of current facts, stale: changed or retracted facts still current, "
        "leaked: memories made of the assistant's words.",
        "",
    ]
    body = [
        [
            split,
            str(int(t["users"])),
            _pct(t["precision"]),
            _pct(t["recall"]),
            _pct(t["stale"]),
            str(int(t["leaked"])),
        ]
        for split, t in learning["totals"].items()
    ]
    return [*lines, *_table(["split", "users", "precision", "recall", "stale", "leaked"], body), ""]


def render_report(
    rows: Sequence[Mapping[str, Any]],
    config: EvalConfig,
    learning: Mapping[str, Any] | None = None,
    bandit: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The whole report as markdown (with the learning benchmark's ``learning.json`` and the bandit's
    ``bandit_<task>.json`` results when they ran)."""
    from persona import __version__

    from .bandit_report import bandit_section

    data = [dict(r) for r in rows]
    models = sorted({str(r["model"]) for r in data if r.get("answer") is not None})
    judges = sorted(
        {f"{r['judge_model']} (prompt {r['judge_prompt']})" for r in data if r.get("judge_model")}
    )
    lines = [
        f"# persona eval: {config.name}",
        "",
        f"persona {__version__}; {len(data)} rows; strategies {', '.join(config.strategies)}; "
        f"budgets {', '.join('default' if b is None else str(b) for b in config.budgets)} tokens.",
        "",
        f"Answers by: {', '.join(models) if models else 'none (LLM-free run)'}. "
        f"Judge: {', '.join(judges) if judges else 'none'}.",
        "",
    ]
    if any(m.startswith("local/") for m in models):
        lines += [f"> {LOCAL_MODEL_NOTE}", ""]
    lines += [
        "Evidence in prompt: the share of questions whose evidence memories all made it into the rendered "
        "prompt (LLM-free; comparable across strategies and budgets). Tokens: the rendered prompt, counted "
        "with the model's tokenizer. Prompt ms: `build_prompt` wall time (retrieval, packing, rendering).",
        "",
    ]
    lines += learning_section(learning)
    lines += bandit_section(bandit)
    for dataset in dict.fromkeys(str(r["dataset"]) for r in data):
        subset = [r for r in data if r["dataset"] == dataset]
        lines += [f"## {dataset}", "", "### Retrieval", "", *_retrieval_section(subset, config.ks)]
        lines += ["### Strategies", "", *_strategy_section(subset), *_category_section(subset)]
    return "\n".join(lines).rstrip() + "\n"


def write_report(out: Path, rows: Sequence[Mapping[str, Any]], config: EvalConfig) -> Path:
    """Write ``report.md`` into ``out``; returns its path."""
    path = out / "report.md"
    found = out / "learning.json"
    learning = json.loads(found.read_text("utf-8")) if found.exists() else None
    from .bandit_report import read_bandit

    path.write_text(render_report(rows, config, learning, read_bandit(out)), "utf-8")
    return path
