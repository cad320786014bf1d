"""The bandit evaluation: cumulative regret of ``strategy="auto"`` against every fixed arm, the best fixed arm
in hindsight and uniform random, on simulated users (`persona.evaluation.bandit_users`) and on LoCoMo and
PrefEval questions.

Per task the users' memories go into one store, each user gets a fixed schedule of ``turns`` questions (drawn
with replacement from their pool, seeded), and then:

* **The table.** Every distinct (user, question, arm) is rendered once with ``Persona.prompt(strategy=arm's
  strategy, max_prompt_tokens=arm's budget)``; the user's reward model turns what reached the prompt into the
  expected rating. Fixed arms, random (its expectation: the mean over arms) and the oracle (the per-turn best
  arm) read the table; they need no model call and no feedback.
* **auto.** Every turn goes through ``Persona.chat(user, question, strategy="auto", learn=False,
  mock_response=...)`` (litellm's offline mock: no model quality is measured), the reply's own prompt is
  scored by the same reward model, a noisy rating is drawn from that expectation (seeded) and given back with
  ``Persona.feedback(reply.id, rating)``. Users take turns round-robin, so the pooled prior sees every user.

Regret at turn t is the oracle's expected rating minus the policy's (pseudo-regret: expectations, not the
noisy draws, so the curves are smooth and fixed arms need no sampling).
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .bandit_users import P_HIT, P_MISS, SimUser, expected_reward, memory_tokens, sample_rating

__all__ = ["BanditResult", "BanditUser", "arm_name", "regret_table", "run_bandit", "summarize_regret"]

MOCK_REPLY = "Noted."
TARGET_AFTER = 100
"""The targets compare turns after this many (auto may explore before)."""


def arm_name(strategy: str, budget: int | None) -> str:
    """``strategy@budget``, as `persona.Arm.name` spells it."""
    return f"{strategy}@{'default' if budget is None else budget}"


@dataclass(frozen=True)
class BanditUser:
    """A user of a task: their type (the reward model), memories to add, question pool and clock."""

    id: str
    type: str
    memories: tuple[dict[str, Any], ...]
    questions: tuple[tuple[str, str, tuple[str, ...]], ...]
    """(question id, text, the keys of the memories it needs)."""
    now: datetime

    @classmethod
    def from_sim(cls, user: SimUser) -> BanditUser:
        return cls(user.id, user.type, user.memories, tuple((q.id, q.text, q.needs) for q in user.questions), user.now)


def proxy_reward(kind: str, needs: Sequence[str], shown: set[str], tokens: int) -> float:
    """LoCoMo/PrefEval's proxy: the expected rating when all of the question's evidence is in the prompt
    (``P_HIT``) or not (``P_MISS``); prompt length is free."""
    hit = all(n in shown for n in needs)
    return 2 * (P_HIT if hit else P_MISS) - 1


Reward = Callable[[str, Sequence[str], set[str], int], float]


@dataclass
class BanditResult:
    """One task's run: per user, the schedule's expected rewards per arm and auto's choices."""

    task: str
    arms: list[str]
    turns: int
    users: list[dict[str, Any]]
    """id, type, questions (the schedule's question ids), table {arm: [expected per turn]}, auto
    {arm, exploring, expected, rating per turn}."""
    seconds: dict[str, float] = field(default_factory=dict)
    ran: str = ""
    """What ran, in words (the report quotes it)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "arms": self.arms,
            "turns": self.turns,
            "users": self.users,
            "seconds": self.seconds,
            "ran": self.ran,
        }


def _schedule(user: BanditUser, turns: int, seed: int) -> list[int]:
    rng = random.Random(f"{seed}/schedule/{user.id}")
    return [rng.randrange(len(user.questions)) for _ in range(turns)]


def run_bandit(
    task: str,
    users: Sequence[BanditUser],
    *,
    strategies: Sequence[str],
    budgets: Sequence[int | None],
    turns: int,
    seed: int = 0,
    model: str = "gpt-4o-mini",
    embedder: Any = None,
    key_field: str = "sim",
    reward: Reward = expected_reward,
    store: str | Path | None = None,
    progress: bool = False,
) -> BanditResult:
    """Run one task (see the module docstring); ``store`` is a directory (a temporary one by default)."""
    from tqdm.auto import tqdm

    import persona

    contract: Any = getattr(persona, "Arm", None)  # strategy="auto" (#16); absent: fixed arms only
    plan = [(s, b) for s in strategies for b in budgets]
    names = [arm_name(s, b) for s, b in plan]
    options: dict[str, Any] = {} if contract is None else {"arms": [contract(s, b) for s, b in plan]}
    schedules = {u.id: _schedule(u, turns, seed) for u in users}
    clock = [users[0].now if users else datetime.now().astimezone()]
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="persona-bandit-") as tmp:
        path = Path(store) if store is not None else Path(tmp) / "store"
        with persona.Persona(path, embedder=embedder, clock=lambda: clock[0], **options) as p:
            started = time.perf_counter()
            keys: dict[str, dict[str, str]] = {}
            for u in tqdm(users, desc=f"{task}: add", unit="user", disable=not progress):
                p.forget_user(u.id)
                p.add_many(u.id, list(u.memories), supersede=False)
                keys[u.id] = {m.id: str(m.metadata.get(key_field)) for m in p.list(u.id)}
            seconds["store"] = time.perf_counter() - started

            def score(u: BanditUser, q: int, ids: Sequence[str], section_tokens: Mapping[str, int]) -> float:
                shown = {keys[u.id].get(i, "") for i in ids}
                return reward(u.type, u.questions[q][2], shown, memory_tokens(section_tokens))

            started = time.perf_counter()
            table: dict[tuple[str, int, str], float] = {}
            todo = [(u, q) for u in users for q in sorted(set(schedules[u.id]))]
            for u, q in tqdm(todo, desc=f"{task}: table", unit="question", disable=not progress):
                clock[0] = u.now
                for (strategy, budget), name in zip(plan, names, strict=True):
                    rendered = p.prompt(
                        u.id, u.questions[q][1], strategy=strategy, model=model, max_prompt_tokens=budget
                    )
                    table[(u.id, q, name)] = score(u, q, rendered.memory_ids, rendered.section_tokens)
            seconds["table"] = time.perf_counter() - started

            started = time.perf_counter()
            ratings = random.Random(f"{seed}/ratings/{task}")
            auto: dict[str, list[dict[str, Any]]] = {u.id: [] for u in users}
            played = turns if contract is not None else 0
            with tqdm(total=played * len(users), desc=f"{task}: auto", unit="turn", disable=not (progress and played)) as bar:
                for t in range(played):
                    for u in users:
                        q = schedules[u.id][t]
                        clock[0] = u.now
                        reply: Any = p.chat(
                            u.id,
                            u.questions[q][1],
                            strategy="auto",
                            model=model,
                            learn=False,
                            mock_response=MOCK_REPLY,
                        )
                        expected = score(u, q, reply.prompt.memory_ids, reply.prompt.section_tokens)
                        rating = sample_rating(expected, ratings)
                        p.feedback(reply.id, rating)
                        auto[u.id].append(
                            {"arm": reply.arm, "exploring": bool(reply.exploring), "expected": expected, "rating": rating}
                        )
                        bar.update(1)
            seconds["auto"] = time.perf_counter() - started
    out_users = [
        {
            "id": u.id,
            "type": u.type,
            "questions": [u.questions[q][0] for q in schedules[u.id]],
            "table": {a: [table[(u.id, q, a)] for q in schedules[u.id]] for a in names},
            "auto": auto[u.id] if contract is not None else None,
        }
        for u in users
    ]
    ran = (
        f"{len(users)} users x {turns} turns; {len(table)} prompts rendered for the table "
        f"({len(names)} arms: Persona.prompt per distinct question); "
    )
    if contract is None:
        ran += "auto did NOT run: this persona has no strategy='auto' (persona.Arm is missing)"
    else:
        ran += (
            f"auto: {turns * len(users)} calls of Persona.chat(strategy='auto', learn=False, "
            f"mock_response={MOCK_REPLY!r}) with model {model!r} (litellm's offline mock, no model quality "
            "measured) and Persona.feedback(reply.id, rating)"
        )
    return BanditResult(task, names, turns, out_users, seconds, ran)


# -- regret ------------------------------------------------------------------------------------------------


def regret_table(
    table: Mapping[str, Sequence[float]],
    auto: Sequence[float] | None = None,
    best: Sequence[float] | None = None,
) -> dict[str, list[float]]:
    """Cumulative regret per turn of each fixed arm, ``random`` (uniform over arms, in expectation),
    ``best in hindsight`` (the fixed arm with the most expected reward over all turns) and ``auto`` (its
    expected reward per turn, when given), against the per-turn best arm. ``table``: arm -> expected reward
    per turn (one user, or the turn-wise sum over a group's users; then ``best`` is the turn-wise sum of each
    user's own best arm's reward, since the per-turn best arm differs between users)."""
    arms = list(table)
    n = len(next(iter(table.values()))) if table else 0
    if best is None:
        best = [max(table[a][t] for a in arms) for t in range(n)]
    per_turn: dict[str, list[float]] = {a: [best[t] - table[a][t] for t in range(n)] for a in arms}
    per_turn["random"] = [best[t] - sum(table[a][t] for a in arms) / len(arms) for t in range(n)]
    hindsight = max(arms, key=lambda a: (sum(table[a]), -arms.index(a))) if arms else None
    if hindsight is not None:
        per_turn["best in hindsight"] = per_turn[hindsight]
    if auto is not None:
        per_turn["auto"] = [best[t] - auto[t] for t in range(n)]
    out: dict[str, list[float]] = {}
    for name, gaps in per_turn.items():
        total, curve = 0.0, []
        for g in gaps:
            total += g
            curve.append(total)
        out[name] = curve
    return out


def _group_sum(
    users: Sequence[Mapping[str, Any]], arms: Sequence[str]
) -> tuple[dict[str, list[float]], list[float] | None, list[float]]:
    """Turn-wise sums over ``users``: each arm's expected reward, auto's (None: auto did not run), and each
    user's per-turn best."""
    n = len(users[0]["table"][arms[0]]) if users and arms else 0
    table = {a: [sum(u["table"][a][t] for u in users) for t in range(n)] for a in arms}
    ran = all(u.get("auto") is not None for u in users)
    auto = [sum(u["auto"][t]["expected"] for u in users) for t in range(n)] if ran else None
    best = [sum(max(u["table"][a][t] for a in arms) for u in users) for t in range(n)]
    return table, auto, best


@dataclass(frozen=True)
class GroupSummary:
    """One group (a user type, or ``all``): each policy's regret and the targets' figures."""

    group: str
    users: int
    turns: int
    best_arm: str
    late_from: int
    """The turn the late figures start at: `TARGET_AFTER`, or 0 when the run is not longer than that."""
    regret: dict[str, float]
    """Cumulative regret per user at the last turn, per policy."""
    mean_reward_late: dict[str, float]
    """Mean expected reward per user-turn from ``late_from``: auto, best in hindsight, random, each arm."""
    auto_arms: dict[str, float]
    """Share of auto's choices per arm from ``late_from``."""
    exploring: float
    within_5pct: bool
    beats_every_arm: bool
    has_auto: bool
    """Whether auto ran (False: this persona has no ``strategy="auto"``; only the table's policies)."""
    curves: dict[str, list[float]]
    """Cumulative regret per user, per turn."""


def summarize_regret(result: Mapping[str, Any]) -> list[GroupSummary]:
    """Per user type and ``all`` (the mixed population): regret, late mean rewards and the targets."""
    arms: list[str] = list(result["arms"])
    users: list[dict[str, Any]] = list(result["users"])
    groups = [(t, [u for u in users if u["type"] == t]) for t in dict.fromkeys(u["type"] for u in users)]
    if len(groups) > 1:
        groups.append(("all", users))
    out: list[GroupSummary] = []
    for name, members in groups:
        table, auto, best = _group_sum(members, arms)
        curves = regret_table(table, auto, best)
        k = len(members)
        n = len(best)
        hindsight = max(arms, key=lambda a: (sum(table[a]), -arms.index(a)))
        late_from = TARGET_AFTER if n > TARGET_AFTER else 0  # a short run: every turn
        late = range(late_from, n)
        span = max(1, len(late)) * k

        def late_mean(values: Sequence[float], late: range = late, span: int = span) -> float:
            return sum(values[t] for t in late) / span

        mean_late = {"best in hindsight": late_mean(table[hindsight])}
        if auto is not None:
            mean_late["auto"] = late_mean(auto)
        mean_late |= {a: late_mean(table[a]) for a in arms}
        mean_late["random"] = sum(mean_late[a] for a in arms) / len(arms)
        chosen: dict[str, int] = {}
        explored = 0
        for u in members if auto is not None else ():
            for step in u["auto"][late_from:]:
                chosen[step["arm"]] = chosen.get(step["arm"], 0) + 1
            explored += sum(1 for step in u["auto"] if step["exploring"])
        total_chosen = max(1, sum(chosen.values()))
        # within 5%: auto's probability of a good rating, (1 + r) / 2, at least 95% of the best fixed arm's
        within = auto is not None and (1 + mean_late["auto"]) / 2 >= 0.95 * (1 + mean_late["best in hindsight"]) / 2
        final = {p: c[-1] / k if c else 0.0 for p, c in curves.items()}
        out.append(
            GroupSummary(
                group=name,
                users=k,
                turns=n,
                best_arm=hindsight,
                late_from=late_from,
                regret=final,
                mean_reward_late=mean_late,
                auto_arms=dict(sorted(((a, c / total_chosen) for a, c in chosen.items()), key=lambda x: -x[1])),
                exploring=explored / max(1, n * k),
                within_5pct=within,
                beats_every_arm=auto is not None and all(final["auto"] < final[a] for a in arms),
                has_auto=auto is not None,
                curves={p: [v / k for v in c] for p, c in curves.items()},
            )
        )
    return out
