"""What an evaluation run crosses: datasets x strategies x models x token budgets, read from TOML or YAML.

A config file (``eval/configs/smoke.toml`` is a small one)::

    name = "smoke"
    strategies = ["none", "retrieved", "hybrid"]
    models = ["local/smollm2"]          # answer with these (and count tokens with their tokenizers)
    budgets = [512, "default"]          # max_prompt_tokens; "default" = the model's default budget
    ks = [1, 5, 10, 25]
    answer = true                       # false: LLM-free (retrieval, evidence-in-prompt, tokens, latency)
    judge_model = "local/smollm2"       # omit for no judge
    max_tokens = 64                     # the answer's length limit
    embedder = "default"                # or "fake" (tests), or a sentence-transformers model name

    [[datasets]]
    name = "locomo"                     # locomo | prefeval | synthetic
    limit = 5                           # the first N questions (in file order); omit for all

YAML files (``.yaml``/``.yml``, needs ``pyyaml`` from the ``eval`` extra) hold the same keys. Unknown keys are
refused, so a typo cannot silently change a run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from persona.errors import InvalidInputError, MissingDependencyError

from .datasets import check_dataset

__all__ = ["BANDIT_SETTINGS", "DATASETS", "DatasetSpec", "EvalConfig", "load_config", "parse_config"]

DATASETS = ("locomo", "prefeval", "synthetic", "learning", "bandit")
BANDIT_SETTINGS = ("simulated", "locomo", "prefeval")
_TOP_KEYS = {
    "name",
    "datasets",
    "strategies",
    "models",
    "budgets",
    "ks",
    "answer",
    "judge_model",
    "max_tokens",
    "temperature",
    "embedder",
    "data_dir",
    "cache_dir",
}
_DATASET_KEYS = {"name", "limit", "setting", "users", "seed", "topics", "turns"}


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset of a run. ``setting`` is PrefEval's ``item`` (one user per preference, the benchmark's
    layout) or ``topic``, or the learning benchmark's split (``all``, ``dev``, ``heldout``, ``fresh``,
    ``fresh2``, ``fresh3``; ``limit`` users), or the bandit task (``simulated``, ``locomo``, ``prefeval``; ``turns`` per user); ``users``/``seed`` size the
    synthetic set (and the bandit's: users per type, or benchmark users); ``topics`` narrows PrefEval."""

    name: str
    limit: int | None = None
    setting: str = "item"
    users: int = 4
    seed: int = 0
    topics: tuple[str, ...] | None = None
    turns: int = 500


@dataclass(frozen=True)
class EvalConfig:
    """A parsed config: every field has a working default except ``datasets``."""

    datasets: tuple[DatasetSpec, ...]
    name: str = "eval"
    strategies: tuple[str, ...] = ("none", "retrieved", "hybrid")
    models: tuple[str, ...] = ("local/smollm2",)
    budgets: tuple[int | None, ...] = (None,)
    """``max_prompt_tokens`` values; None is the model's default budget."""
    ks: tuple[int, ...] = (1, 5, 10, 25)
    answer: bool = True
    judge_model: str | None = None
    max_tokens: int = 64
    temperature: float = 0.0
    embedder: str = "default"
    data_dir: str | None = None
    cache_dir: str | None = None
    """Where the LLM cache lives (default: ``llm_cache.sqlite`` in the output directory)."""
    source: str = field(default="", compare=False)

    def check_data(self) -> None:
        """Raise `DatasetNotFoundError` unless every dataset's benchmark files exist (``run_eval`` calls this
        before doing any work, so a missing file fails the run at once, not half-way through)."""
        for spec in self.datasets:
            if spec.name != "bandit":  # the bandit's benchmark tasks are skipped (with the reason) instead
                check_dataset(spec.name, self.data_dir, spec.topics)

    def with_limit(self, limit: int | None) -> EvalConfig:
        """The same run with every dataset cut to its first ``limit`` questions (None: unchanged)."""
        if limit is None:
            return self
        return replace(self, datasets=tuple(replace(d, limit=limit) for d in self.datasets))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "datasets": [
                {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(d).items()}
                for d in self.datasets
            ],
            "strategies": list(self.strategies),
            "models": list(self.models),
            "budgets": ["default" if b is None else b for b in self.budgets],
            "ks": list(self.ks),
            "answer": self.answer,
            "judge_model": self.judge_model,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "embedder": self.embedder,
        }


def _fail(source: str, message: str) -> InvalidInputError:
    return InvalidInputError(f"{source}: {message}")


def _str_list(raw: Mapping[str, Any], key: str, default: tuple[str, ...], source: str) -> tuple[str, ...]:
    value = raw.get(key, list(default))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise _fail(source, f"{key} must be a non-empty list of strings, got {value!r}")
    return tuple(value)


def _positive(value: Any, what: str, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(source, f"{what} must be a positive integer, got {value!r}")
    return value


def _budgets(raw: Mapping[str, Any], source: str) -> tuple[int | None, ...]:
    value = raw.get("budgets", ["default"])
    if not isinstance(value, list):
        value = [value]
    out: list[int | None] = []
    for b in value:
        out.append(None if b in ("default", None) else _positive(b, "each budget", source))
    if not out:
        raise _fail(source, "budgets must not be empty; use ['default'] for the model's default budget")
    return tuple(dict.fromkeys(out))


def _dataset(raw: Any, source: str) -> DatasetSpec:
    if isinstance(raw, str):
        raw = {"name": raw}
    if not isinstance(raw, Mapping):
        raise _fail(source, f"each dataset must be a table with a name, got {raw!r}")
    unknown = set(raw) - _DATASET_KEYS
    if unknown:
        raise _fail(source, f"unknown dataset key(s) {sorted(unknown)}; allowed: {sorted(_DATASET_KEYS)}")
    name = raw.get("name")
    if name not in DATASETS:
        raise _fail(source, f"dataset name must be one of {', '.join(DATASETS)}, got {name!r}")
    setting = raw.get("setting", {"learning": "all", "bandit": "simulated"}.get(str(name), "item"))
    splits = ("all", "dev", "heldout", "fresh", "fresh2", "fresh3")
    allowed = {"learning": splits, "bandit": BANDIT_SETTINGS}.get(str(name), ("item", "topic"))
    if setting not in allowed:
        raise _fail(source, f"setting must be one of {', '.join(map(repr, allowed))}, got {setting!r}")
    limit = raw.get("limit")
    topics = raw.get("topics")
    if topics is not None and (not isinstance(topics, list) or not all(isinstance(t, str) for t in topics)):
        raise _fail(source, f"topics must be a list of PrefEval topic names, got {topics!r}")
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise _fail(source, f"seed must be an integer, got {seed!r}")
    return DatasetSpec(
        name=str(name),
        limit=None if limit is None else _positive(limit, "limit", source),
        setting=str(setting),
        users=_positive(raw.get("users", 4), "users", source),
        seed=seed,
        topics=tuple(topics) if topics is not None else None,
        turns=_positive(raw.get("turns", 500), "turns", source),
    )


def parse_config(raw: Mapping[str, Any], source: str = "config") -> EvalConfig:
    """Check and convert a config's parsed mapping; errors name ``source`` and the offending key."""
    if not isinstance(raw, Mapping):
        raise _fail(source, "the file must hold a table (mapping) of settings")
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise _fail(source, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}")
    datasets = raw.get("datasets")
    if not isinstance(datasets, list) or not datasets:
        raise _fail(source, "datasets must list at least one dataset, e.g. [[datasets]] name = 'locomo'")
    ks = raw.get("ks", [1, 5, 10, 25])
    if not isinstance(ks, list) or not ks:
        raise _fail(source, f"ks must be a non-empty list of positive integers, got {ks!r}")
    judge = raw.get("judge_model")
    if judge is not None and (not isinstance(judge, str) or not judge):
        raise _fail(source, f"judge_model must be a model name, got {judge!r}")
    answer = raw.get("answer", True)
    if not isinstance(answer, bool):
        raise _fail(source, f"answer must be true or false, got {answer!r}")
    temperature = raw.get("temperature", 0.0)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise _fail(source, f"temperature must be a number, got {temperature!r}")
    for key in ("name", "embedder", "data_dir", "cache_dir"):
        if key in raw and not isinstance(raw[key], str):
            raise _fail(source, f"{key} must be a string, got {raw[key]!r}")
    return EvalConfig(
        datasets=tuple(_dataset(d, source) for d in datasets),
        name=str(raw.get("name", Path(source).stem or "eval")),
        strategies=_str_list(raw, "strategies", ("none", "retrieved", "hybrid"), source),
        models=_str_list(raw, "models", ("local/smollm2",), source),
        budgets=_budgets(raw, source),
        ks=tuple(sorted({_positive(k, "each k", source) for k in ks})),
        answer=answer,
        judge_model=judge,
        max_tokens=_positive(raw.get("max_tokens", 64), "max_tokens", source),
        temperature=float(temperature),
        embedder=str(raw.get("embedder", "default")),
        data_dir=raw.get("data_dir"),
        cache_dir=raw.get("cache_dir"),
        source=source,
    )


def load_config(path: str | os.PathLike[str]) -> EvalConfig:
    """Read a ``.toml``, ``.yaml`` or ``.yml`` config file."""
    file = Path(path)
    if not file.is_file():
        raise InvalidInputError(f"config file {str(file)!r} does not exist; see eval/configs/ for examples")
    suffix = file.suffix.lower()
    if suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError as exc:  # Python 3.10
            raise MissingDependencyError("TOML configs need Python 3.11+; write the config as YAML") from exc
        try:
            raw: Any = tomllib.loads(file.read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise _fail(str(file), f"not valid TOML: {exc}") from exc
    elif suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as exc:
            raise MissingDependencyError(
                "YAML configs need pyyaml: pip install 'persona[eval]' (or write the config as TOML)"
            ) from exc
        try:
            raw = yaml.safe_load(file.read_text("utf-8"))
        except yaml.YAMLError as exc:
            raise _fail(str(file), f"not valid YAML: {exc}") from exc
    else:
        raise InvalidInputError(f"{file}: a config must end in .toml, .yaml or .yml")
    return parse_config(raw, str(file))
