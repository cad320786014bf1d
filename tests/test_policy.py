"""The ``strategy="auto"`` bandit (#16): arms, rewards, the pooled prior, what the store keeps, on both engines."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from _governance import MOCK, Clock

from persona import Arm, InvalidInputError, NotFoundError, Persona
from persona.learning.policy import (
    SIBLING_WEIGHT,
    ArmEvidence,
    check_arms,
    choose,
    context_of,
    default_arms,
    implicit_reward,
    policy_of,
)
from persona.testing import FakeEmbedder


@pytest.fixture
def ap(location: str) -> Iterator[Persona]:
    with Persona(location, embedder=FakeEmbedder(), clock=Clock(), seed=7, model=MOCK) as p:
        yield p


def _chat(p: Persona, user: str, message: str = "What should I cook tonight?") -> object:
    return p.chat(user, message, strategy="auto", mock_response="Try a risotto.")


def _stats(p: Persona, user: str) -> dict[str, tuple[int, int, float]]:
    return {a.arm: (a.pulls, a.rewards, a.estimate) for a in p.policy(user).arms}


def test_default_arms_are_six_strategies_at_two_budgets() -> None:
    arms = default_arms()
    assert len(arms) == 12 and len({a.name for a in arms}) == 12
    assert Arm("hybrid", 1024).name == "hybrid@1024" and Arm("hybrid", 1024) in arms


@pytest.mark.parametrize(
    "arms",
    [[], [Arm("hybrid", 1024), Arm("hybrid", 1024)], [Arm("nope", 1024)], [Arm("hybrid", 0)], "hybrid"],
)
def test_bad_arms_are_refused(arms: object, tmp_path: object) -> None:
    with pytest.raises(InvalidInputError):
        check_arms(arms)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        Persona(str(tmp_path), embedder=FakeEmbedder(), arms=arms)  # type: ignore[arg-type]


def test_auto_with_max_prompt_tokens_conflicts(ap: Persona) -> None:
    with pytest.raises(InvalidInputError, match="conflict"):
        ap.prompt("u", "hi", strategy="auto", max_prompt_tokens=500)


def test_auto_picks_among_configured_arms(location: str) -> None:
    arms = [Arm("none", 300), Arm("recent", 600)]
    with Persona(location, embedder=FakeEmbedder(), clock=Clock(), seed=1, model=MOCK, arms=arms) as p:
        seen = set()
        for _ in range(12):
            reply = _chat(p, "u")
            assert reply.arm in {"none@300", "recent@600"}  # type: ignore[attr-defined]
            assert reply.prompt.budget == int(reply.arm.split("@")[1])  # type: ignore[attr-defined]
            assert reply.to_dict()["arm"] == reply.arm  # type: ignore[attr-defined]
            seen.add(reply.arm)  # type: ignore[attr-defined]
        assert seen == {"none@300", "recent@600"}
        fixed = p.chat("u", "hello", mock_response="hi")
        assert fixed.arm is None and fixed.exploring is False and fixed.prompt.arm is None
        assert sum(a.pulls for a in p.policy("u").arms) == 12


def test_feedback_credits_the_arm_and_a_second_rating_replaces_the_first(ap: Persona) -> None:
    reply = _chat(ap, "u")
    arm = reply.arm  # type: ignore[attr-defined]
    ap.feedback(reply.id, 1.0)  # type: ignore[attr-defined]
    pulls, rewards, good = _stats(ap, "u")[arm]
    assert (pulls, rewards) == (1, 1) and good > 0.5
    ap.feedback(reply.id, -1.0)  # type: ignore[attr-defined]
    pulls, rewards, bad = _stats(ap, "u")[arm]
    assert (pulls, rewards) == (1, 1) and bad < 0.5  # replaced, not counted twice


def test_auto_without_learning_keeps_only_the_reply_record_so_feedback_still_credits_the_arm(ap: Persona) -> None:
    reply = ap.chat("u", "What should I cook tonight?", strategy="auto", learn=False, mock_response="Risotto.")
    assert reply.learned is False and ap.list("u") == []  # no episode, no transcript
    ap.feedback(reply.id, 1.0)
    assert _stats(ap, "u")[reply.arm][:2] == (1, 1)
    plain = ap.chat("u", "And tomorrow?", strategy="hybrid", learn=False, mock_response="Soup.")
    with pytest.raises(NotFoundError):
        ap.feedback(plain.id, 1.0)  # a fixed strategy with learn=False keeps nothing


def test_a_late_rating_credits_the_arm_of_its_reply(ap: Persona) -> None:
    first = _chat(ap, "u")
    for topic in ("owls", "tides", "volcanoes", "comets", "glaciers"):
        _chat(ap, "u", f"I wonder about {topic} sometimes")  # neither a repeat nor a correction
    ap.feedback(first.id, 1.0)  # type: ignore[attr-defined]
    credited = {arm for arm, (_p, rewards, _e) in _stats(ap, "u").items() if rewards}
    assert credited == {first.arm}  # type: ignore[attr-defined]


def test_implicit_signals() -> None:
    q = "What time does the museum open on Sunday?"
    assert implicit_reward(q, "No, I said the science museum") == -1.0
    assert implicit_reward(q, "That's wrong, it opens at ten") == -1.0
    assert implicit_reward(q, "not what I asked") == -1.0
    assert implicit_reward(q, "What time does the museum open on Sunday??") == -1.0  # a near-repeat
    assert implicit_reward(q, "Thanks, that helps!") == 1.0
    assert implicit_reward(q, "And what about the café there?") == 1.0
    assert implicit_reward(q, "I want to plan a trip to Rome") is None
    assert context_of("What do you recommend for dinner?") == "advice"
    assert context_of("hi there") == "small_talk"


def test_an_implicit_signal_credits_half_and_an_explicit_rating_overrides_it(ap: Persona) -> None:
    first = _chat(ap, "u", "What time does the museum open on Sunday?")
    _chat(ap, "u", "Thanks, that helps!")
    arm = first.arm  # type: ignore[attr-defined]
    row = {r.arm: r for r in ap._memories.store.policy_rows("u")}[arm]
    assert row.rewards == 1 and row.weight == 0.5 and row.reward == 0.5
    ap.feedback(first.id, -1.0)  # type: ignore[attr-defined]
    row = {r.arm: r for r in ap._memories.store.policy_rows("u")}[arm]
    assert row.rewards == 1 and row.weight == 1.0 and row.reward == 0.0


@pytest.mark.parametrize("delay", [0, 2])
def test_auto_converges_on_the_strategy_rated_well(tmp_path: object, delay: int) -> None:
    with Persona(str(tmp_path), embedder=FakeEmbedder(), clock=Clock(), seed=3, model=MOCK) as p:
        pending: list[tuple[str, float]] = []
        picks: list[str] = []
        for turn in range(200):
            reply = p.chat("u", f"question number {turn} about gardens", strategy="auto", mock_response="ok", learn=True)
            picks.append(reply.arm or "")
            pending.append((reply.id, 1.0 if reply.arm and reply.arm.startswith("profile@") else -1.0))
            while len(pending) > delay:
                reply_id, rating = pending.pop(0)
                p.feedback(reply_id, rating)
        late = picks[150:]
        assert sum(a.startswith("profile@") for a in late) >= 0.8 * len(late)


def test_the_pooled_prior_leans_a_new_user_to_what_worked_for_others(ap: Persona) -> None:
    for user in ("a", "b", "c"):
        for _ in range(12):
            reply = _chat(ap, user)
            ap.feedback(reply.id, 1.0 if reply.arm == "recent@2048" else -1.0)  # type: ignore[attr-defined]
    best = ap.policy("new").arms[0]
    assert best.arm == "recent@2048" and best.pulls == 0
    firsts = [_chat(ap, f"new{i}").arm for i in range(10)]  # type: ignore[attr-defined]
    assert firsts.count("recent@2048") >= 5


def test_choose_is_deterministic_and_exploring_means_not_the_best_mean() -> None:
    arms = default_arms()
    own = {"hybrid@1024": ArmEvidence(10, 10, 10.0, 9.0)}
    picks = [choose(arms, own, {}, random.Random(5)) for _ in range(3)]
    assert picks[0] == picks[1] == picks[2]
    policy = policy_of("u", arms, own, {})
    assert policy.arms[0].arm == "hybrid@1024"
    for seed in range(20):
        c = choose(arms, own, {}, random.Random(seed))
        assert c.exploring == (c.arm.name != "hybrid@1024")
    d = policy.to_dict()
    assert set(d) >= {"user_id", "arms", "prior"}
    assert set(d["arms"][0]) == {"arm", "strategy", "budget", "estimate", "uncertainty", "pulls", "rewards"}


def test_ratings_of_one_budget_count_for_the_same_strategy_at_the_others_at_sibling_weight() -> None:
    arms = default_arms()
    own = {"profile@1024": ArmEvidence(10, 10, 10.0, 10.0)}  # ten +1 ratings at 1,024 tokens
    by_arm = {a.arm: a for a in policy_of("u", arms, own, {}).arms}
    mine, sibling, other = by_arm["profile@1024"], by_arm["profile@2048"], by_arm["hybrid@2048"]
    assert mine.estimate == pytest.approx(11 / 12)  # Beta(1 + 10, 1): the sibling's 0 weight adds nothing
    assert sibling.estimate == pytest.approx((1 + 10 * SIBLING_WEIGHT) / (2 + 10 * SIBLING_WEIGHT))
    assert other.estimate == pytest.approx(0.5) and sibling.pulls == 0 and sibling.rewards == 0
    assert mine.estimate > sibling.estimate > other.estimate


def test_policy_of_an_unknown_user_is_empty_not_an_error(ap: Persona) -> None:
    policy = ap.policy("nobody")
    assert policy.user_id == "nobody" and len(policy.arms) == 12
    assert all(a.pulls == 0 and a.rewards == 0 for a in policy.arms)


def test_forget_and_reset_erase_the_policy_and_a_reopened_store_keeps_it(location: str) -> None:
    with Persona(location, embedder=FakeEmbedder(), clock=Clock(), seed=2, model=MOCK) as p:
        reply = _chat(p, "u")
        p.feedback(reply.id, 1.0)  # type: ignore[attr-defined]
        _chat(p, "v")
    with Persona(location, embedder=FakeEmbedder(), clock=Clock(), seed=2, model=MOCK) as p:
        assert _stats(p, "u")[reply.arm][:2] == (1, 1)  # type: ignore[attr-defined]
        p.reset_policy("u")
        assert all(a.pulls == 0 for a in p.policy("u").arms)
        p.forget_user("v")
        assert p._memories.store.policy_rows("v") == []
        assert p._memories.store.policy_pool() == []


def test_export_import_carries_the_policy_and_old_exports_still_import(location: str, tmp_path: object) -> None:
    with Persona(location, embedder=FakeEmbedder(), clock=Clock(), seed=4, model=MOCK) as p:
        reply = _chat(p, "u")
        p.feedback(reply.id, 1.0)  # type: ignore[attr-defined]
        data = p.export_user("u")
        before = p.policy("u").to_dict()
        p.forget_user("u")
        old = {k: v for k, v in data.items() if k != "policy"}
        p.import_user(old)
        assert all(a.pulls == 0 for a in p.policy("u").arms)
        p.forget_user("u")
        p.import_user(data)
        assert p.policy("u").to_dict() == before
    bad = dict(data, policy=[{"arm": "hybrid@1024", "pulls": -1}])
    with Persona(str(tmp_path), embedder=FakeEmbedder()) as q, pytest.raises(InvalidInputError):
        q.import_user(bad)


def test_cli_policy_shows_json_and_resets(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from persona.cli import app

    with Persona(str(tmp_path), embedder=FakeEmbedder(), clock=Clock(), seed=4, model=MOCK) as p:
        reply = _chat(p, "alice")
        p.feedback(reply.id, 1.0)  # type: ignore[attr-defined]
    monkeypatch.setenv("PERSONA_EMBEDDER", "fake")
    runner = CliRunner()
    out = runner.invoke(app, ["--store", str(tmp_path), "policy", "alice", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["user_id"] == "alice" and sum(a["pulls"] for a in data["arms"]) == 1
    table = runner.invoke(app, ["--store", str(tmp_path), "policy", "alice"])
    assert table.exit_code == 0 and "estimate" in table.stdout
    reset = runner.invoke(app, ["--store", str(tmp_path), "policy", "alice", "--reset", "--json"])
    assert reset.exit_code == 0 and sum(a["pulls"] for a in json.loads(reset.stdout)["arms"]) == 0
    prompt = runner.invoke(app, ["--store", str(tmp_path), "prompt", "alice", "hi", "--strategy", "auto", "--json"])
    assert prompt.exit_code == 0, prompt.output
    assert json.loads(prompt.stdout)["arm"]
