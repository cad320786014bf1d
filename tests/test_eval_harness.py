"""The eval harness (`persona eval`): configs, answer scoring, the judge, the LLM cache, the synthetic set,
and whole runs on synthetic users with the fake embedder and litellm's ``mock_response`` (no network, no
model). The run on the real benchmark files is skipped when the data directory is absent."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from persona.cli import app
from persona.errors import DatasetNotFoundError, InvalidInputError
from persona.evaluation import answers, judge, synthetic
from persona.evaluation.config import DatasetSpec, EvalConfig, load_config, parse_config
from persona.evaluation.datasets import DATA_FILES
from persona.evaluation.llm_cache import LLMCache, cache_key
from persona.evaluation.runner import read_rows, run_eval
from persona.testing import FakeEmbedder

MODEL = "openai/gpt-4o-mini"  # counted with tiktoken (bundled, offline); answered by mock_response only
MOCK = {"mock_response": "No information available."}
REQUIRED = {
    "dataset",
    "strategy",
    "model",
    "question_id",
    "category",
    "evidence_in_prompt",
    "prompt_tokens",
    "latency_ms",
}


def _config(**changes: Any) -> EvalConfig:
    base = EvalConfig(
        datasets=(DatasetSpec("synthetic", users=2, seed=1),),
        name="test",
        strategies=("none", "retrieved", "hybrid"),
        models=(MODEL,),
        budgets=(400,),
        ks=(1, 5, 10),
        embedder="fake",
    )
    return dataclasses.replace(base, **changes)


# -- config ----------------------------------------------------------------------------------------------------


def test_toml_and_yaml_configs_parse_the_same(tmp_path: Path) -> None:
    toml = tmp_path / "run.toml"
    toml.write_text(
        'name = "x"\nstrategies = ["none", "hybrid"]\nbudgets = [256, "default"]\n'
        '[[datasets]]\nname = "synthetic"\nusers = 2\n',
        "utf-8",
    )
    yaml = tmp_path / "run.yaml"
    yaml.write_text(
        "name: x\nstrategies: [none, hybrid]\nbudgets: [256, default]\ndatasets:\n  - name: synthetic\n    users: 2\n",
        "utf-8",
    )
    a, b = load_config(toml), load_config(yaml)
    assert a == b
    assert a.budgets == (256, None) and a.strategies == ("none", "hybrid") and a.datasets[0].users == 2
    assert a.with_limit(3).datasets[0].limit == 3


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"datasets": [{"name": "locomo"}], "stratgies": ["none"]}, "unknown key"),
        ({"datasets": [{"name": "mmlu"}]}, "dataset name must be one of"),
        ({"datasets": []}, "at least one dataset"),
        ({"datasets": ["locomo"], "budgets": [0]}, "positive integer"),
        ({"datasets": [{"name": "prefeval", "setting": "all"}]}, "setting"),
    ],
)
def test_bad_configs_are_refused_with_the_key_named(raw: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidInputError, match=fragment):
        parse_config(raw, "bad.toml")


def test_shipped_configs_parse() -> None:
    root = Path(__file__).resolve().parents[1] / "eval" / "configs"
    found = sorted(root.glob("*.toml")) + sorted(root.glob("*.yaml"))
    assert {p.name for p in found} >= {"smoke.toml", "locomo_dev.toml", "prefeval_dev.toml"}
    smoke = load_config(root / "smoke.toml")
    assert {"none", "retrieved", "hybrid"} <= set(smoke.strategies)
    for path in found:
        load_config(path)


def test_smoke_config_needs_no_benchmark_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's ~30 s offline smoke run works on a fresh clone: no dataset that reads $PERSONA_DATA_DIR."""
    smoke = load_config(Path(__file__).resolve().parents[1] / "eval" / "configs" / "smoke.toml")
    assert smoke.datasets and not [d.name for d in smoke.datasets if d.name in DATA_FILES]
    assert smoke.models == ("local/smollm2",) and smoke.answer
    monkeypatch.setenv("PERSONA_DATA_DIR", str(tmp_path / "nothing-here"))
    smoke.check_data()


@pytest.mark.parametrize(
    ("dataset", "missing"),
    [
        (DatasetSpec("locomo"), "locomo/locomo_dev.json"),
        (DatasetSpec("prefeval"), "prefeval/filtered_inter_turns.json"),
        (DatasetSpec("prefeval", topics=("travel",)), "prefeval/explicit_preference/travel.json"),
    ],
)
def test_missing_benchmark_data_fails_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dataset: DatasetSpec, missing: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    if dataset.topics:  # everything but the topic's file
        (data / "prefeval" / "explicit_preference").mkdir(parents=True)
        (data / "prefeval" / "explicit_preference" / "food.json").write_text("[]", "utf-8")
        (data / "prefeval" / "filtered_inter_turns.json").write_text("[]", "utf-8")
    monkeypatch.setenv("PERSONA_DATA_DIR", str(data))
    out = tmp_path / "run"
    embedder = FakeEmbedder()
    # synthetic first: before the check, it was run (store built, model asked) and only then did locomo fail
    config = _config(datasets=(DatasetSpec("synthetic", users=1), dataset), judge_model=MODEL)
    with pytest.raises(DatasetNotFoundError) as info:
        run_eval(config, out, progress=False, llm_options=MOCK, embedder=embedder)
    message = str(info.value)
    assert repr(dataset.name) in message and str(data) in message and missing in message
    assert "PERSONA_DATA_DIR" in message and "drop" in message
    assert not out.exists() and embedder.calls == []  # no store, no results, no LLM cache, nothing embedded


def test_cli_eval_with_missing_data_exits_with_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSONA_DATA_DIR", str(tmp_path))  # empty
    config = tmp_path / "c.toml"
    config.write_text(
        f'models = ["{MODEL}"]\nembedder = "fake"\n[[datasets]]\nname = "synthetic"\n'
        '[[datasets]]\nname = "locomo"\n',
        "utf-8",
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["eval", str(config), "--out", str(out), "--quiet"])
    assert result.exit_code == 1
    assert "dataset 'locomo'" in result.output and "PERSONA_DATA_DIR" in result.output
    assert "Traceback" not in result.output and not out.exists()


# -- answer scoring ----------------------------------------------------------------------------------------------


def test_token_f1_follows_locomo() -> None:
    assert answers.token_f1("The Eiffel Tower", "eiffel tower") == 1.0
    assert answers.token_f1("walked to Paris", "walking to paris") == 1.0  # stemmed
    assert answers.token_f1("", "paris") == 0.0
    assert 0 < answers.token_f1("Paris in May", "Paris") < 1
    # open-domain: only the gold before ';' counts; multi-hop: per comma-separated part
    assert answers.locomo_f1("painting", "painting; she also sings", 3) == 1.0
    assert answers.locomo_f1("hiking, pottery", "pottery, hiking", 1) == 1.0
    assert answers.locomo_f1("hiking", "pottery, hiking", 1) == 0.5


def test_adversarial_rule_credits_saying_it_is_not_there() -> None:
    assert answers.locomo_f1("No information available.", None, 5) == 1.0
    assert answers.locomo_f1("That was not mentioned in our chats.", "anything", 5) == 1.0
    assert answers.locomo_f1("Her name is Maria.", None, 5) == 0.0


# -- judge -------------------------------------------------------------------------------------------------------


def test_judge_prompts_are_pinned_and_versioned() -> None:
    for task in ("locomo", "prefeval"):
        template, prompt_id = judge.judge_prompt(task)
        assert (
            prompt_id.startswith(f"{task}_judge_{judge.JUDGE_VERSION}@") and len(prompt_id.split("@")[1]) == 8
        )
    template, _ = judge.judge_prompt("locomo")
    text = template.substitute(question="Q?", gold="G", answer="A")
    assert "Q?" in text and "CORRECT or WRONG" in text


def test_judge_replies_are_parsed() -> None:
    assert judge.parse_locomo("CORRECT\nbecause ...").correct is True
    assert judge.parse_locomo("The answer is wrong.").correct is False
    assert judge.parse_locomo("I cannot tell").correct is None
    v = judge.parse_prefeval("acknowledges: yes\nhallucinates: no\nviolates: no\n**helpful**: yes")
    assert (v.acknowledges, v.hallucinates, v.violates, v.helpful, v.follows) == (
        True,
        False,
        False,
        True,
        True,
    )
    assert judge.parse_prefeval("violates: yes\nhelpful: yes").follows is False
    assert judge.parse_prefeval("no idea").follows is None


def test_judge_goes_through_the_cache(tmp_path: Path) -> None:
    cache = LLMCache(tmp_path / "c.sqlite")
    j = judge.Judge(MODEL, cache, mock_response="CORRECT")
    verdict, prompt_id, _ = j.locomo("Where?", "Paris", "In Paris")
    assert verdict.correct is True and prompt_id.startswith("locomo_judge_v1@")
    j.locomo("Where?", "Paris", "In Paris")
    assert (cache.misses, cache.hits) == (1, 1)


# -- LLM cache ---------------------------------------------------------------------------------------------------


def test_llm_cache_is_keyed_by_model_messages_and_params(tmp_path: Path) -> None:
    msgs = [{"role": "user", "content": "hi"}]
    assert cache_key("m", msgs, {"t": 0}) == cache_key("m", [dict(msgs[0])], {"t": 0})
    assert cache_key("m", msgs, {"t": 0}) != cache_key("m", msgs, {"t": 1})
    assert cache_key("m", msgs, {}) != cache_key("n", msgs, {})
    cache = LLMCache(tmp_path / "c.sqlite")
    first = cache.complete(MODEL, msgs, mock_response="hello")
    assert not first.cached and first.text == "hello"
    cache.close()
    reopened = LLMCache(tmp_path / "c.sqlite")  # on disk: survives the process
    again = reopened.complete(MODEL, msgs, mock_response="hello")
    assert again.cached and again.text == "hello" and again.latency_ms == first.latency_ms
    assert len(reopened) == 1


# -- synthetic ---------------------------------------------------------------------------------------------------


def test_synthetic_users_are_deterministic_and_consistent() -> None:
    a, b = synthetic.generate(3, seed=7), synthetic.generate(3, seed=7)
    assert a == b and a != synthetic.generate(3, seed=8)
    for user in a:
        keys = {m.key for m in user.memories}
        for q in user.questions:
            assert set(q.evidence) <= keys
            if q.answer is not None:
                (evidence,) = q.evidence
                text = next(m.text for m in user.memories if m.key == evidence)
                assert q.answer in text


# -- whole runs --------------------------------------------------------------------------------------------------


def test_run_writes_rows_report_and_plots_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    config = _config(judge_model=MODEL)
    summary = run_eval(config, out, progress=False, llm_options=MOCK, embedder=FakeEmbedder())
    rows = read_rows(out / "results.jsonl")
    questions = 2 * len(synthetic.generate(1)[0].questions)
    assert summary.rows_written == len(rows) == questions * 3
    assert all(set(r) >= REQUIRED for r in rows)
    by = {(r["strategy"], r["question_id"]): r for r in rows}
    for r in rows:
        assert r["prompt_tokens"] <= 400
        if r["category"] == "adversarial":
            assert (
                r["evidence_in_prompt"] is None and r["f1"] == 1.0
            )  # the mock abstains: LoCoMo's rule credits it
        else:
            assert isinstance(r["evidence_in_prompt"], bool) and "recall" in r
        assert r["judge_prompt"].startswith("locomo_judge_v1@")
    assert not any(r["evidence_in_prompt"] for r in rows if r["strategy"] == "none")
    hybrid = [r["evidence_in_prompt"] for r in rows if r["strategy"] == "hybrid" and r["evidence"]]
    assert sum(hybrid) > 0 and by[("none", rows[0]["question_id"])]["memories_in_prompt"] == 0
    report = (out / "report.md").read_text("utf-8")
    assert "R@1" in report and "R@10" in report and "evidence in prompt" in report and "| hybrid |" in report
    assert (out / "quality_vs_tokens.png").stat().st_size > 0 and (out / "recall_at_k.png").stat().st_size > 0

    again = run_eval(config, out, progress=False, llm_options=MOCK, embedder=FakeEmbedder())
    assert again.rows_written == 0 and again.rows_skipped == len(rows) and again.llm_calls == 0
    assert len(read_rows(out / "results.jsonl")) == len(rows)


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path: Path) -> None:
    out = tmp_path / "run"
    config = _config(answer=False)
    run_eval(config, out, progress=False, embedder=FakeEmbedder())
    results = out / "results.jsonl"
    lines = results.read_text("utf-8").splitlines(keepends=True)
    results.write_text("".join(lines[:5]) + lines[5][:20], "utf-8")  # killed mid-row
    resumed = run_eval(config, out, progress=False, embedder=FakeEmbedder())
    assert resumed.rows_skipped == 5 and resumed.rows_written == len(lines) - 5
    rows = read_rows(results)
    assert len(rows) == len(lines) and len({(r["strategy"], r["question_id"]) for r in rows}) == len(lines)


def test_llm_free_run_has_no_answers(tmp_path: Path) -> None:
    run_eval(_config(answer=False, budgets=(200, None)), tmp_path, progress=False, embedder=FakeEmbedder())
    rows = read_rows(tmp_path / "results.jsonl")
    assert {r["budget_label"] for r in rows} == {"200", "default"}
    assert all(r["latency_ms"] is None and "answer" not in r for r in rows)
    assert "none (LLM-free run)" in (tmp_path / "report.md").read_text("utf-8")


def test_cli_eval_runs_a_config(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f'strategies = ["none", "hybrid"]\nmodels = ["{MODEL}"]\nbudgets = [300]\nembedder = "fake"\n'
        'answer = false\n[[datasets]]\nname = "synthetic"\nusers = 1\n',
        "utf-8",
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["eval", str(config), "--out", str(out), "--limit", "3", "--quiet", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["rows_written"] == 6 and str(out / "report.md") in data["files"]
    bad = CliRunner().invoke(app, ["eval", str(tmp_path / "missing.toml")])
    assert bad.exit_code == 1 and "does not exist" in bad.output


def test_run_on_the_real_benchmarks(tmp_path: Path, data_dir: Path) -> None:
    """Skipped (by the ``data_dir`` fixture) when ../shared/data is absent."""
    config = _config(
        datasets=(DatasetSpec("locomo", limit=4), DatasetSpec("prefeval", limit=2)),
        data_dir=str(data_dir),
        answer=False,
    )
    run_eval(config, tmp_path, progress=False, embedder=FakeEmbedder())
    rows = read_rows(tmp_path / "results.jsonl")
    assert {r["dataset"] for r in rows} == {"locomo", "prefeval"} and len(rows) == 6 * 3
    locomo = [r for r in rows if r["dataset"] == "locomo"]
    assert all(r["question_id"].startswith("conv-26/") for r in locomo)
    assert any("session_recall" in r for r in locomo)
    report = (tmp_path / "report.md").read_text("utf-8")
    assert "## locomo" in report and "## prefeval" in report and "session R@5" in report


def test_the_learning_dataset_runs_in_persona_eval(tmp_path: Path) -> None:
    config = parse_config({"datasets": [{"name": "learning", "limit": 2, "setting": "dev"}], "answer": False})
    assert config.datasets[0].setting == "dev"
    with pytest.raises(InvalidInputError, match="setting"):
        parse_config({"datasets": [{"name": "learning", "setting": "item"}]})
    out = tmp_path / "run"
    run_eval(config, out, progress=False, embedder=FakeEmbedder())
    learned = json.loads((out / "learning.json").read_text("utf-8"))
    assert learned["totals"]["all"]["users"] == 2 and learned["totals"]["all"]["leaked"] == 0
    report = (out / "report.md").read_text("utf-8")
    assert "## learning" in report and "| dev | 2 |" in report
