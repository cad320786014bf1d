"""The eval harness: cross a config's datasets x strategies x models x budgets, one row per question each.

For each dataset the store is built once (under ``<out>/stores/<dataset>``, reused by a resumed run) and
every strategy, model and budget reads it. Per question: the search at each k (R@k, MRR, nDCG, turn and
session level), then per configuration ``build_prompt`` (timed: ``prompt_ms``), which memories made it into
the prompt (``evidence_in_prompt``: all of the question's evidence did; ``evidence_share``: the part that
did), and, when ``answer`` is on, the model's answer (through the disk cache), its LoCoMo token F1 and the
judge's verdicts. Rows go to ``<out>/results.jsonl`` as they are made; a re-run skips the rows already there,
so an interrupted run resumes where it stopped. Then ``report.md`` and the plots are written from every row.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from persona.backends.base import Embedder
from persona.errors import ContextWindowExceededError, LLMResponseError, PersonaError

from .answers import ANSWER_INSTRUCTIONS, locomo_f1, token_f1
from .cases import Case, Suite, load_suite
from .config import DatasetSpec, EvalConfig
from .judge import Judge
from .llm_cache import LLMCache
from .metrics import dia_session, ndcg_at_k, recall_at_k, reciprocal_rank, session_recall_at_k
from .retrieval import CachingEmbedder, PersonaRetriever, _ask

__all__ = ["RESULTS_FILE", "RunSummary", "budget_label", "read_rows", "row_key", "run_eval"]

RESULTS_FILE = "results.jsonl"
LEARNING_FILE = "learning.json"


@dataclass(frozen=True)
class RunSummary:
    """What a run did: rows written now and before, LLM cache traffic, wall time and the files written."""

    out: Path
    rows_written: int
    rows_skipped: int
    llm_calls: int
    llm_cache_hits: int
    seconds: float
    files: tuple[Path, ...]


class _Clock:
    """The Persona's clock: set to the current user's "now" before each of their prompts."""

    def __init__(self) -> None:
        self.value = datetime(2024, 1, 1).astimezone()

    def __call__(self) -> datetime:
        return self.value


def budget_label(budget: int | None) -> str:
    return "default" if budget is None else str(budget)


def row_key(row: Mapping[str, Any]) -> tuple[str, str, str, str, str]:
    """What identifies a row: dataset, strategy, model, budget label, question id."""
    return (
        str(row["dataset"]),
        str(row["strategy"]),
        str(row["model"]),
        str(row["budget_label"]),
        str(row["question_id"]),
    )


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a results file; a torn last line (a run killed mid-write) is cut off the file."""
    if not path.is_file():
        return []
    raw = path.read_bytes()
    if raw and not raw.endswith(b"\n"):
        raw = raw[: raw.rfind(b"\n") + 1]
        path.write_bytes(raw)
    rows: list[dict[str, Any]] = []
    for line in raw.decode("utf-8").splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def _embedder(spec: str) -> Embedder:
    if spec == "fake":
        from persona.testing import FakeEmbedder

        return CachingEmbedder(FakeEmbedder())
    from persona.backends.embedders import resolve_embedder

    return CachingEmbedder(resolve_embedder(None if spec == "default" else spec))


class _Store:
    """One dataset's store: users are added on first use and recorded in ``built.json``."""

    def __init__(self, path: Path, suite: Suite, embedder: Embedder, clock: _Clock) -> None:
        self.suite = suite
        self.marker = path / "built.json"
        built: dict[str, Any] = json.loads(self.marker.read_text("utf-8")) if self.marker.is_file() else {}
        if built.get("embedder") != embedder.id and path.exists():
            shutil.rmtree(path)  # built by another embedder (or never finished): start over
            built = {}
        path.mkdir(parents=True, exist_ok=True)
        self.users: set[str] = set(built.get("users", []))
        self.embedder_id = embedder.id
        self.retriever = PersonaRetriever(path, embedder=embedder, key_field=suite.key_field, clock=clock)
        self.persona = self.retriever.persona
        self._keys: dict[str, dict[str, str]] = {}

    def ensure(self, user: str) -> dict[str, str]:
        """Add ``user``'s documents unless they are there; the user's memory id -> document key map."""
        if user not in self.users:
            self.persona.forget_user(user)  # a half-built user from an interrupted run
            docs = self.suite.documents(user)
            if all(kind == "episode" for _, kind in docs):
                self.retriever.add(user, [d for d, _ in docs])  # the retrieval protocol, as it is
            else:
                self.persona.add_many(
                    user,
                    [
                        {
                            "text": d.text,
                            "kind": kind,
                            "created_at": d.created_at,
                            "metadata": {self.suite.key_field: d.key, **d.metadata},
                        }
                        for d, kind in docs
                    ],
                )
            self.users.add(user)
            if not self.suite.transient_users:
                self._save()
        if user not in self._keys:
            self._keys[user] = {
                m.id: str(m.metadata.get(self.suite.key_field)) for m in self.persona.list(user)
            }
        return self._keys[user]

    def drop(self, user: str) -> None:
        self.persona.forget_user(user)
        self.users.discard(user)
        self._keys.pop(user, None)

    def _save(self) -> None:
        tmp = self.marker.with_suffix(".tmp")
        tmp.write_text(json.dumps({"embedder": self.embedder_id, "users": sorted(self.users)}), "utf-8")
        tmp.replace(self.marker)

    def close(self) -> None:
        self.retriever.close()


def _retrieval_fields(store: _Store, case: Case, ks: tuple[int, ...], sessions: bool) -> dict[str, Any]:
    timings: list[float] = []
    ranked = _ask(store.retriever, case.user_id, case.question, ks, timings)
    out: dict[str, Any] = {"search_ms": timings[-1] if timings else None}
    if not (case.recall_scored and case.evidence):
        return out
    deepest = ranked[max(ks)]
    out["recall"] = {str(k): recall_at_k(ranked[k], case.evidence, k) for k in ks}
    out["mrr"] = reciprocal_rank(deepest, case.evidence)
    out["ndcg_at_10"] = ndcg_at_k(ranked.get(10, deepest), case.evidence, 10)
    if sessions:
        out["session_recall"] = {
            str(k): session_recall_at_k(ranked[k], case.evidence, k, dia_session) for k in ks
        }
    return out


class _Answerer:
    def __init__(self, config: EvalConfig, cache: LLMCache, options: Mapping[str, Any]) -> None:
        self.config = config
        self.cache = cache
        self.options = dict(options)
        self.judge = Judge(config.judge_model, cache, **self.options) if config.judge_model else None

    def __call__(
        self, suite: Suite, case: Case, model: str, messages: list[dict[str, str]]
    ) -> dict[str, Any]:
        asked = [*messages[:-1], {"role": "user", "content": messages[-1]["content"] + ANSWER_INSTRUCTIONS}]
        params = {
            "max_tokens": self.config.max_tokens,
            "temperature": self.config.temperature,
            **self.options,
        }
        reply = self.cache.complete(model, asked, **params)
        out: dict[str, Any] = {
            "answer": reply.text,
            "latency_ms": reply.latency_ms,
            "completion_tokens": reply.usage.get("completion_tokens"),
            "cached": reply.cached,
        }
        if suite.answer_kind == "qa":
            if case.locomo_category is not None:
                out["f1"] = locomo_f1(reply.text, case.answer, case.locomo_category)
            elif case.answer is not None:
                out["f1"] = token_f1(reply.text, case.answer)
        if self.judge is None:
            return out
        if suite.answer_kind == "qa":
            verdict, prompt_id, ms = self.judge.locomo(case.question, case.answer, reply.text)
            out |= {"judge_correct": verdict.correct}
        else:
            pref, prompt_id, ms = self.judge.prefeval(case.preference or "", case.question, reply.text)
            out |= {
                "acknowledges": pref.acknowledges,
                "hallucinates": pref.hallucinates,
                "violates": pref.violates,
                "helpful": pref.helpful,
                "follows": pref.follows,
            }
        return out | {"judge_model": self.judge.model, "judge_prompt": prompt_id, "judge_ms": ms}


def _bar(total: int, desc: str, progress: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="prompt", disable=not progress, dynamic_ncols=True)


def _run_suite(
    suite: Suite,
    config: EvalConfig,
    store: _Store,
    clock: _Clock,
    answerer: _Answerer | None,
    done: set[tuple[str, str, str, str, str]],
    sink: Any,
    progress: bool,
) -> tuple[int, int]:
    combos = [(m, b, s) for m in config.models for b in config.budgets for s in config.strategies]
    todo: list[tuple[Case, list[tuple[str, int | None, str]]]] = []
    skipped = 0
    for case in suite.cases:
        left = [c for c in combos if (suite.name, c[2], c[0], budget_label(c[1]), case.id) not in done]
        skipped += len(combos) - len(left)
        if left:
            todo.append((case, left))
    written = 0
    with _bar(sum(len(left) for _, left in todo), suite.name, progress) as bar:
        for n, (case, left) in enumerate(todo):
            keys = store.ensure(case.user_id)
            clock.value = suite.now(case.user_id)
            shared = {
                "dataset": suite.name,
                "question_id": case.id,
                "user_id": case.user_id,
                "category": case.category,
                "question": case.question,
                "gold": case.answer,
                "evidence": list(case.evidence),
                **_retrieval_fields(store, case, config.ks, suite.sessions),
            }
            for model, budget, strategy in left:
                started = time.perf_counter()
                row: dict[str, Any] = {
                    **shared,
                    "strategy": strategy,
                    "model": model,
                    "budget_label": budget_label(budget),
                }
                try:
                    rendered = store.persona.prompt(
                        case.user_id,
                        case.question,
                        strategy=strategy,
                        model=model,
                        max_prompt_tokens=budget,
                    )
                except PersonaError as exc:
                    row |= {"error": f"prompt: {exc}", "evidence_in_prompt": None, "prompt_tokens": None}
                else:
                    shown = {keys.get(mid, "") for mid in rendered.memory_ids}
                    found = [e for e in case.evidence if e in shown]
                    row |= {
                        "budget": rendered.budget,
                        "prompt_ms": 1000 * (time.perf_counter() - started),
                        "prompt_tokens": rendered.tokens,
                        "section_tokens": rendered.section_tokens,
                        "memories_in_prompt": len(rendered.memory_ids),
                        "evidence_in_prompt": len(found) == len(case.evidence) if case.evidence else None,
                        "evidence_share": len(found) / len(case.evidence) if case.evidence else None,
                        "latency_ms": None,
                    }
                    if answerer is not None:
                        try:
                            row |= answerer(suite, case, model, rendered.messages)
                        except (ContextWindowExceededError, LLMResponseError) as exc:
                            row["error"] = f"llm: {exc}"
                sink.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
                sink.flush()
                written += 1
                bar.update(1)
            if suite.transient_users and (n + 1 == len(todo) or todo[n + 1][0].user_id != case.user_id):
                store.drop(case.user_id)
    return written, skipped


def _run_learning(spec: DatasetSpec, out_dir: Path, embedder: Embedder, progress: bool) -> None:
    """The learning benchmark (`persona.evaluation.learning`) into ``learning.json`` (the report shows it)."""
    from .learning import load_learning, run_learning

    users = load_learning(split=spec.setting)
    report = run_learning(users[: spec.limit] if spec.limit else users, embedder=embedder, progress=progress)
    (out_dir / LEARNING_FILE).write_text(json.dumps(report.to_dict(), indent=2) + "\n", "utf-8")


def run_eval(
    config: EvalConfig,
    out: str | Path,
    *,
    progress: bool = True,
    llm_options: Mapping[str, Any] | None = None,
    embedder: Embedder | None = None,
) -> RunSummary:
    """Run ``config`` into the directory ``out`` (created; resumed when it holds an earlier run's rows).

    ``llm_options`` go to every LLM call (``api_base``, or litellm's ``mock_response`` in tests); they are
    part of the cache key. ``embedder`` overrides the config's embedder (an `Embedder` object).

    Raises `DatasetNotFoundError` before writing anything when a dataset's benchmark files are missing.
    """
    config.check_data()  # first: nothing is created, embedded or asked before the data is known to be there
    from .plots import write_plots
    from .report import write_report

    started = time.perf_counter()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n", "utf-8")
    results = out_dir / RESULTS_FILE
    done = {row_key(r) for r in read_rows(results)}
    cache = LLMCache(Path(config.cache_dir) if config.cache_dir else out_dir / "llm_cache.sqlite")
    answerer = _Answerer(config, cache, llm_options or {}) if config.answer else None
    chosen = CachingEmbedder(embedder) if embedder is not None else _embedder(config.embedder)
    written = skipped = 0
    try:
        with results.open("a", encoding="utf-8") as sink:
            for spec in config.datasets:
                if spec.name == "learning":  # not questions: a scripted chat per user, scored at the end
                    _run_learning(spec, out_dir, chosen, progress)
                    continue
                if spec.name == "bandit":  # strategy="auto" against fixed arms (bandit_<setting>.json)
                    from .bandit_tasks import run_bandit_spec

                    run_bandit_spec(spec, config, out_dir, chosen, progress)
                    continue
                suite = load_suite(spec, config.data_dir)
                clock = _Clock()
                store = _Store(out_dir / "stores" / suite.name, suite, chosen, clock)
                try:
                    w, s = _run_suite(suite, config, store, clock, answerer, done, sink, progress)
                finally:
                    store.close()
                written, skipped = written + w, skipped + s
    finally:
        hits, misses = cache.hits, cache.misses
        cache.close()
    rows = read_rows(results)
    files = [results, write_report(out_dir, rows, config)]
    files += write_plots(out_dir, rows, config.ks)
    from .bandit_report import read_bandit, write_bandit_plot

    regret_plot = write_bandit_plot(out_dir, read_bandit(out_dir))
    files += [regret_plot] if regret_plot is not None else []
    return RunSummary(out_dir, written, skipped, misses, hits, time.perf_counter() - started, tuple(files))
