"""The bandit dataset's tasks for the harness: simulated users, or LoCoMo / PrefEval questions with the proxy
reward (evidence in prompt), each run by `persona.evaluation.bandit.run_bandit` into ``bandit_<task>.json``.

A dataset entry of a config (``name = "bandit"``) picks the task with ``setting``: ``simulated`` (``users``
per type, ``seed``; ``limit`` keeps the first users, types taking turns), ``locomo`` (``users`` conversations) or ``prefeval`` (``users`` topics, one user per
topic holding its preferences and the filler turns; for both, ``limit`` caps each user's question pool, the
first questions with evidence in file order); ``turns`` is the number of turns per user. A benchmark
whose files are missing is skipped, and the file records why.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from persona.errors import DatasetNotFoundError

from .bandit import BanditUser, proxy_reward, run_bandit
from .bandit_users import simulate
from .config import BANDIT_SETTINGS, DatasetSpec, EvalConfig
from .datasets import check_dataset

__all__ = ["BANDIT_SETTINGS", "bandit_file", "benchmark_users", "run_bandit_spec"]


def bandit_file(setting: str) -> str:
    return f"bandit_{setting}.json"


def benchmark_users(spec: DatasetSpec, data_dir: str | None) -> tuple[list[BanditUser], str]:
    """LoCoMo or PrefEval (``spec.setting``) users with their questions that have evidence, and the key field."""
    from .cases import load_suite

    bench = spec.setting
    suite = load_suite(DatasetSpec(name=bench, setting="topic", topics=spec.topics), data_dir)
    order = list(dict.fromkeys(c.user_id for c in suite.cases if c.evidence))[: spec.users]
    users = []
    for uid in order:
        memories = tuple(
            {
                "text": d.text,
                "kind": kind,
                "created_at": d.created_at,
                "metadata": {suite.key_field: d.key, **d.metadata},
            }
            for d, kind in suite.documents(uid)
        )
        questions = tuple((c.id, c.question, c.evidence) for c in suite.cases if c.user_id == uid and c.evidence)
        questions = questions[: spec.limit] if spec.limit else questions
        users.append(BanditUser(uid, bench, memories, questions, suite.now(uid)))
    return users, suite.key_field


def run_bandit_spec(
    spec: DatasetSpec, config: EvalConfig, out_dir: Path, embedder: Any, progress: bool
) -> Path:
    """Run one bandit dataset entry into ``out_dir / bandit_<setting>.json`` (a skip records its reason)."""
    path = out_dir / bandit_file(spec.setting)
    common: dict[str, Any] = {
        "strategies": config.strategies,
        "budgets": config.budgets,
        "turns": spec.turns,
        "seed": spec.seed,
        "model": config.models[0],
        "embedder": embedder,
        "progress": progress,
    }
    if spec.setting == "simulated":
        sims = [BanditUser.from_sim(u) for u in simulate(spec.users, spec.seed)][: spec.limit]
        result = run_bandit("simulated", sims, **common)
    else:
        try:
            check_dataset(spec.setting, config.data_dir, spec.topics)
        except DatasetNotFoundError as exc:
            path.write_text(json.dumps({"task": spec.setting, "skipped": str(exc)}, indent=2) + "\n", "utf-8")
            return path
        users, key_field = benchmark_users(spec, config.data_dir)
        result = run_bandit(spec.setting, users, key_field=key_field, reward=proxy_reward, **common)
        result = replace(
            result,
            ran=result.ran + "; reward = all of the question's evidence in the prompt (a proxy, not a user's rating)",
        )
    path.write_text(json.dumps(result.to_dict()) + "\n", "utf-8")
    return path
