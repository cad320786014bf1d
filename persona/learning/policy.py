"""The ``strategy="auto"`` bandit: which (strategy, budget) arm renders a user's next prompt.

Pure: no store imports. `choose` draws one Thompson sample per arm from a Beta posterior over the arm's
reward mapped to [0, 1] (``r01 = (rating + 1) / 2``) and picks the highest. The posterior of an arm for a user
is ``Beta(1 + a0 + s, 1 + b0 + (n - s))``: ``n`` is the weight of the ratings credited to the arm for this user
(fractional: an implicit signal weighs `IMPLICIT_WEIGHT`; the same strategy's ratings at the other budgets
count `SIBLING_WEIGHT` of theirs), ``s`` the weighted sum of their r01, and
``a0``/``b0`` the pooled prior: every user's evidence for the arm, shrunk to at most `PRIOR_STRENGTH`
pseudo-observations. `implicit_reward` reads a rating from the user's next message (rule-based).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInputError

__all__ = [
    "BUILTIN_STRATEGIES",
    "DEFAULT_BUDGETS",
    "IMPLICIT_WEIGHT",
    "PRIOR_STRENGTH",
    "SIBLING_WEIGHT",
    "Arm",
    "ArmEvidence",
    "ArmStats",
    "Choice",
    "Policy",
    "check_arms",
    "choose",
    "context_of",
    "default_arms",
    "implicit_reward",
    "policy_of",
]

BUILTIN_STRATEGIES = ("full", "hybrid", "none", "profile", "recent", "retrieved")
DEFAULT_BUDGETS = (1024, 2048)
PRIOR_STRENGTH = 8.0
"""The pooled prior counts as at most this many observations: a user's own ratings soon outweigh it."""
SIBLING_WEIGHT = 0.5
"""A user's ratings of a strategy at one budget count this much as evidence for it at the others."""
IMPLICIT_WEIGHT = 0.5
"""An implicit signal (read from the next message) weighs this much of an explicit rating."""


@dataclass(frozen=True)
class Arm:
    """One choice ``strategy="auto"`` can make: a prompt strategy and its token budget."""

    strategy: str
    budget: int

    @property
    def name(self) -> str:
        return f"{self.strategy}@{self.budget}"


def default_arms() -> list[Arm]:
    """The six built-in strategies at budgets 1024 and 2048 (12 arms)."""
    return [Arm(s, b) for s in BUILTIN_STRATEGIES for b in DEFAULT_BUDGETS]


def check_arms(arms: Sequence[Arm] | None, known: Sequence[str] = BUILTIN_STRATEGIES) -> list[Arm]:
    """The arms, validated: non-empty, unique, strategies that exist, positive budgets (`InvalidInputError`)."""
    if arms is None:
        return default_arms()
    if isinstance(arms, (str, bytes, Arm)) or not isinstance(arms, Sequence):
        raise InvalidInputError(f"arms must be a list of persona.Arm, got {type(arms).__name__}.")
    out = list(arms)
    if not out:
        raise InvalidInputError("arms must not be empty: pass at least one persona.Arm(strategy, budget).")
    seen: set[str] = set()
    for arm in out:
        if not isinstance(arm, Arm):
            raise InvalidInputError(f"arms must hold persona.Arm values, got {type(arm).__name__}.")
        if not isinstance(arm.strategy, str) or arm.strategy not in known:
            raise InvalidInputError(
                f"arm {arm!r}: no strategy {arm.strategy!r}; choose one of {', '.join(known)}."
            )
        if isinstance(arm.budget, bool) or not isinstance(arm.budget, int) or arm.budget <= 0:
            raise InvalidInputError(f"arm {arm!r}: budget must be a positive number of tokens.")
        if arm.name in seen:
            raise InvalidInputError(f"arm {arm.name} is listed twice; each arm once.")
        seen.add(arm.name)
    return out


@dataclass(frozen=True)
class ArmEvidence:
    """What the store holds for one arm: times chosen, ratings credited, their weight and weighted r01 sum."""

    pulls: int = 0
    rewards: int = 0
    weight: float = 0.0
    reward: float = 0.0


@dataclass(frozen=True)
class ArmStats:
    """One arm of a user's policy. ``estimate`` is the posterior mean reward in [0, 1] (0.5: a rating of 0)."""

    arm: str
    strategy: str
    budget: int
    estimate: float
    uncertainty: float
    """The posterior's standard deviation."""
    pulls: int
    """Times the arm was chosen for this user."""
    rewards: int
    """Ratings (explicit or implicit) credited to it for this user."""
    prior: float = 0.5
    """The pooled prior's mean for the arm (what worked for every user)."""


@dataclass(frozen=True)
class Policy:
    """A user's bandit: every configured arm's posterior, best estimate first."""

    user_id: str
    arms: list[ArmStats] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "arms": [
                {
                    "arm": a.arm,
                    "strategy": a.strategy,
                    "budget": a.budget,
                    "estimate": a.estimate,
                    "uncertainty": a.uncertainty,
                    "pulls": a.pulls,
                    "rewards": a.rewards,
                }
                for a in self.arms
            ],
            "prior": {a.arm: a.prior for a in self.arms},
        }


@dataclass(frozen=True)
class Choice:
    arm: Arm
    exploring: bool
    """The chosen arm is not the one with the highest posterior mean."""


def _beta(
    own: ArmEvidence, pool: ArmEvidence, strength: float = PRIOR_STRENGTH
) -> tuple[float, float, float]:
    """(alpha, beta, prior mean) for one arm."""
    prior_mean = (1.0 + pool.reward) / (2.0 + pool.weight)
    m = min(strength, pool.weight)
    alpha = 1.0 + m * prior_mean + own.reward
    beta = 1.0 + m * (1.0 - prior_mean) + max(0.0, own.weight - own.reward)
    return alpha, beta, prior_mean


def _others(pool: ArmEvidence, own: ArmEvidence) -> ArmEvidence:
    """The pool without the user's own evidence (so it is not counted twice)."""
    return ArmEvidence(0, 0, max(0.0, pool.weight - own.weight), max(0.0, pool.reward - own.reward))


def _with_siblings(
    arms: Sequence[Arm], own: Mapping[str, ArmEvidence], weight: float = SIBLING_WEIGHT
) -> dict[str, ArmEvidence]:
    """Each arm's own evidence plus ``weight`` times that of the same strategy at the other budgets (one
    strategy's budgets tend to earn alike: fewer arms to tell apart). Pulls and rewards stay the arm's own."""
    empty = ArmEvidence()
    shared: dict[str, ArmEvidence] = {}
    for arm in arms:
        mine = own.get(arm.name, empty)
        w, r = mine.weight, mine.reward
        if weight > 0:
            for other in arms:
                if other.strategy == arm.strategy and other.name != arm.name:
                    theirs = own.get(other.name, empty)
                    w, r = w + weight * theirs.weight, r + weight * theirs.reward
        shared[arm.name] = ArmEvidence(mine.pulls, mine.rewards, w, r)
    return shared


def choose(
    arms: Sequence[Arm],
    own: Mapping[str, ArmEvidence],
    pool: Mapping[str, ArmEvidence],
    rng: random.Random,
) -> Choice:
    """Thompson sampling: one Beta draw per arm, the highest wins (ties: the first configured)."""
    empty = ArmEvidence()
    best_draw, best_mean = -1.0, -1.0
    chosen = greedy = arms[0]
    shared = _with_siblings(arms, own)
    for arm in arms:
        mine = own.get(arm.name, empty)
        a, b, _ = _beta(shared[arm.name], _others(pool.get(arm.name, empty), mine))
        draw = rng.betavariate(a, b)
        if draw > best_draw:
            best_draw, chosen = draw, arm
        if a / (a + b) > best_mean:
            best_mean, greedy = a / (a + b), arm
    return Choice(chosen, chosen != greedy)


def policy_of(
    user_id: str, arms: Sequence[Arm], own: Mapping[str, ArmEvidence], pool: Mapping[str, ArmEvidence]
) -> Policy:
    empty = ArmEvidence()
    stats = []
    shared = _with_siblings(arms, own)
    for arm in arms:
        mine = own.get(arm.name, empty)
        a, b, prior = _beta(shared[arm.name], _others(pool.get(arm.name, empty), mine))
        mean = a / (a + b)
        sd = (a * b / ((a + b) ** 2 * (a + b + 1.0))) ** 0.5
        stats.append(ArmStats(arm.name, arm.strategy, arm.budget, mean, sd, mine.pulls, mine.rewards, prior))
    stats.sort(key=lambda s: -s.estimate)
    return Policy(user_id, stats)


# -- implicit rewards -------------------------------------------------------------------------------------

_CORRECTION = re.compile(
    r"^\s*(no+[,.!]|nope\b)|\bi (said|meant|asked)\b|\bthat'?s (wrong|not (right|true|it|what))|"
    r"\bnot what i (asked|meant|said|wanted)\b|\byou (forgot|missed|ignored)\b|\bwrong\b",
    re.I,
)
_THANKS = re.compile(
    r"\b(thanks?|thank you|thx|cheers|perfect|great|awesome|helpful|that works|exactly)\b", re.I
)
_FOLLOW_UP = re.compile(r"^\s*(and|also|so|then|what about|how about|ok(ay)?,? (and|so|how|what))\b", re.I)
_WORD = re.compile(r"[a-z0-9']+")


def _near_repeat(previous: str, message: str) -> bool:
    a, b = set(_WORD.findall(previous.lower())), set(_WORD.findall(message.lower()))
    if len(a) < 3 or len(b) < 3:
        return previous.strip().lower() == message.strip().lower()
    return len(a & b) / len(a | b) >= 0.7


def implicit_reward(previous: str, message: str) -> float | None:
    """The rating in [-1, 1] the user's next ``message`` implies for the reply to ``previous``, or None.

    -1: a correction ("no, I said...", "that's wrong", "not what I asked") or a near-repeat of the previous
    question (70% of the words shared); +1: thanks, or a follow-up that builds on the answer ("and what
    about..."). The caller weighs it `IMPLICIT_WEIGHT`."""
    if _CORRECTION.search(message) or _near_repeat(previous, message):
        return -1.0
    if _THANKS.search(message) or _FOLLOW_UP.search(message):
        return 1.0
    return None


_ADVICE = re.compile(r"\b(should i|recommend|suggest|advice|what do you think|help me|ideas?)\b", re.I)
_TIME = re.compile(
    r"\b(today|tomorrow|yesterday|tonight|next|last|ago|when|monday|tuesday|wednesday|"
    r"thursday|friday|saturday|sunday|week|month|year)\b",
    re.I,
)
_SMALL_TALK = re.compile(r"^\s*(hi|hello|hey|good (morning|evening)|how are you|what'?s up)\b", re.I)


def context_of(message: str) -> str:
    """A coarse context key for the message, recorded with the reply: advice, time, small_talk or other."""
    if _SMALL_TALK.search(message):
        return "small_talk"
    if _ADVICE.search(message):
        return "advice"
    if _TIME.search(message):
        return "time"
    return "other"
