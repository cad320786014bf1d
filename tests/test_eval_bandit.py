"""The bandit evaluation (#16): simulated users, the reward models, regret, and a tiny run end to end."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

import persona
from persona.errors import InvalidInputError
from persona.evaluation.bandit import BanditUser, _schedule, regret_table, summarize_regret
from persona.evaluation.bandit_report import PLOT_FILE, bandit_section
from persona.evaluation.bandit_users import (
    P_HIT,
    P_MISS,
    SIM_KEY,
    TYPES,
    expected_reward,
    memory_tokens,
    sample_rating,
    simulate,
)
from persona.evaluation.config import parse_config
from persona.evaluation.runner import run_eval
from persona.testing import FakeEmbedder


def test_simulated_users_load_with_every_type_and_resolvable_needs() -> None:
    users = simulate(2, seed=0)
    assert len(users) == 8
    assert [u.type for u in users[:4]] == list(TYPES)
    for u in users:
        keys = {m["metadata"][SIM_KEY] for m in u.memories}
        assert len(u.questions) >= 6
        assert len(u.memories) > 100
        for q in u.questions:
            assert set(q.needs) <= keys, (u.id, q)
            assert (q.needs == ()) == (u.type == "private")
        assert all(m["created_at"] < u.now for m in u.memories)
    recent = next(u for u in users if u.type == "recent")
    newest = max(recent.memories, key=lambda m: m["created_at"])
    assert newest["metadata"][SIM_KEY] == "latest"


def test_simulation_is_deterministic_given_a_seed() -> None:
    assert simulate(2, seed=3) == simulate(2, seed=3)
    assert simulate(2, seed=3) != simulate(2, seed=4)
    user = BanditUser.from_sim(simulate(1, seed=3)[0])
    assert _schedule(user, 50, 7) == _schedule(user, 50, 7)
    assert _schedule(user, 50, 7) != _schedule(user, 50, 8)
    draws = [sample_rating(0.2, random.Random(5)) for _ in range(3)]
    assert draws == [sample_rating(0.2, random.Random(5))] * 3


def test_reward_reads_the_prompt_not_the_arm() -> None:
    assert expected_reward("episode", ["ep1"], {"ep1", "talk3"}, 0) == pytest.approx(2 * P_HIT - 1)
    assert expected_reward("episode", ["ep1"], {"talk3"}, 0) == pytest.approx(2 * P_MISS - 1)
    # longer prompts cost a little, for everyone
    assert expected_reward("profile", ["fact0"], {"fact0"}, 1000) < expected_reward("profile", ["fact0"], {"fact0"}, 100)
    # a user who wants no personalization: falls with memory tokens, to P_MISS
    private = [expected_reward("private", [], set(), n) for n in (0, 100, 300, 600, 5000)]
    assert private == sorted(private, reverse=True)
    assert private[0] == pytest.approx(2 * P_HIT - 1) and private[-1] == pytest.approx(2 * P_MISS - 1)
    assert memory_tokens({"instructions": 50, "message": 9, "profile": 30, "recent": 12, "conversation": 4}) == 42
    mean = sum(sample_rating(0.5, random.Random(i)) for i in range(4000)) / 4000
    assert mean == pytest.approx(0.5, abs=0.05)


def test_regret_on_a_hand_made_table() -> None:
    table = {"a": [1.0, 0.0, 1.0, 0.0], "b": [0.0, 1.0, 1.0, 1.0], "c": [0.5, 0.5, 0.5, 0.5]}
    curves = regret_table(table, auto=[0.0, 1.0, 0.5, 1.0])
    # per-turn best: 1, 1, 1, 1
    assert curves["a"] == [0.0, 1.0, 1.0, 2.0]
    assert curves["b"] == [1.0, 1.0, 1.0, 1.0]
    assert curves["c"] == [0.5, 1.0, 1.5, 2.0]
    assert curves["best in hindsight"] == curves["b"]  # b earns 3, a 2, c 2
    assert curves["random"] == pytest.approx([0.5, 1.0, 7 / 6, 5 / 3])  # gaps 1/2, 1/2, 1/6, 1/2
    assert curves["auto"] == [1.0, 1.0, 1.5, 1.5]


def _fake_result() -> dict[str, object]:
    def user(uid: str, kind: str, good: str, auto_arm: str, n: int) -> dict[str, object]:
        table = {arm: [1.0 if arm == good else -1.0] * n for arm in ("x@1", "y@1")}
        auto = [{"arm": auto_arm if t >= 10 else "x@1", "exploring": t < 10, "expected": 1.0 if (auto_arm if t >= 10 else "x@1") == good else -1.0, "rating": 1.0} for t in range(n)]
        return {"id": uid, "type": kind, "questions": ["q"] * n, "table": table, "auto": auto}

    return {
        "task": "simulated",
        "arms": ["x@1", "y@1"],
        "turns": 200,
        "users": [user("u1", "a", "x@1", "x@1", 200), user("u2", "b", "y@1", "y@1", 200)],
        "ran": "hand-made",
    }


def test_summaries_and_the_report_section_on_a_hand_made_run() -> None:
    groups = {s.group: s for s in summarize_regret(_fake_result())}
    assert set(groups) == {"a", "b", "all"}
    assert groups["a"].regret["auto"] == 0 and groups["a"].regret["y@1"] == 400
    assert groups["b"].regret["auto"] == 20  # 10 turns on the wrong arm, 2 each
    # the oracle is each user's own best arm: one fixed arm for everyone loses 200 x 2 / 2 users per user
    assert groups["all"].best_arm in ("x@1", "y@1") and groups["all"].regret["auto"] == 10
    assert groups["all"].regret["x@1"] == groups["all"].regret["y@1"] == 200
    assert groups["all"].beats_every_arm and groups["a"].within_5pct and groups["b"].within_5pct
    assert groups["b"].auto_arms == {"y@1": 1.0}
    text = "\n".join(bandit_section([_fake_result(), {"task": "locomo", "skipped": "no data here"}]))
    for needle in ("## bandit", "### simulated", "#### user type `a`", "#### mixed population", "### locomo",
                   "Skipped: no data here", "best in hindsight", "random", "**met**"):
        assert needle in text


def test_a_run_without_auto_reports_the_table_policies_only() -> None:
    result = _fake_result()
    for u in result["users"]:  # type: ignore[attr-defined]
        u["auto"] = None
    groups = {s.group: s for s in summarize_regret(result)}
    assert not groups["all"].has_auto and "auto" not in groups["all"].curves
    assert groups["all"].regret["random"] == pytest.approx(200)
    text = "\n".join(bandit_section([result]))
    assert "not run" in text and "| auto |" not in text


def test_config_accepts_the_bandit_dataset() -> None:
    config = parse_config({"datasets": [{"name": "bandit", "setting": "locomo", "turns": 40, "users": 1}]})
    spec = config.datasets[0]
    assert (spec.name, spec.setting, spec.turns, spec.users) == ("bandit", "locomo", 40, 1)
    assert parse_config({"datasets": [{"name": "bandit"}]}).datasets[0].setting == "simulated"
    with pytest.raises(InvalidInputError, match="setting"):
        parse_config({"datasets": [{"name": "bandit", "setting": "item"}]})
    with pytest.raises(InvalidInputError, match="turns"):
        parse_config({"datasets": [{"name": "bandit", "turns": 0}]})


def test_shipped_config_parses() -> None:
    from persona.evaluation.config import load_config

    config = load_config(Path(__file__).resolve().parents[1] / "eval" / "configs" / "bandit.toml")
    assert {d.setting for d in config.datasets} == {"simulated", "locomo", "prefeval"}
    assert all(d.turns >= 500 for d in config.datasets)
    assert len(config.strategies) * len(config.budgets) == 12


def test_a_tiny_run_end_to_end(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    config = parse_config(
        {
            "name": "tiny-bandit",
            "strategies": ["none", "retrieved", "hybrid"],
            "budgets": [1024],
            "models": ["gpt-4o-mini"],
            "answer": False,
            "embedder": "fake",
            "data_dir": str(tmp_path / "no-data"),
            "datasets": [
                {"name": "bandit", "setting": "simulated", "users": 1, "limit": 2, "turns": 30, "seed": 1},
                {"name": "bandit", "setting": "locomo", "users": 1, "turns": 30},
            ],
        }
    )
    started = time.perf_counter()
    summary = run_eval(config, tmp_path / "out", progress=False, embedder=FakeEmbedder())
    assert time.perf_counter() - started < 60
    out = tmp_path / "out"
    result = json.loads((out / "bandit_simulated.json").read_text("utf-8"))
    assert [u["type"] for u in result["users"]] == ["profile", "episode"]
    assert result["arms"] == ["none@1024", "retrieved@1024", "hybrid@1024"]
    assert all(len(u["questions"]) == 30 and len(u["table"]["hybrid@1024"]) == 30 for u in result["users"])
    # the profile user's question needs an old fact that hybrid shows and none never does
    profile = result["users"][0]["table"]
    assert sum(profile["hybrid@1024"]) > sum(profile["none@1024"])
    if hasattr(persona, "Arm"):  # strategy="auto" (#16)
        assert all(len(u["auto"]) == 30 for u in result["users"])
        assert {step["arm"] for u in result["users"] for step in u["auto"]} <= set(result["arms"])
    else:
        assert all(u["auto"] is None for u in result["users"]) and "did NOT run" in result["ran"]
    skipped = json.loads((out / "bandit_locomo.json").read_text("utf-8"))
    assert "locomo" in skipped["skipped"].lower()
    report = (out / "report.md").read_text("utf-8")
    for needle in ("## bandit", "### simulated", "user type `profile`", "mixed population", "### locomo", "Skipped"):
        assert needle in report
    assert (out / PLOT_FILE).stat().st_size > 1000
    assert out / PLOT_FILE in summary.files
