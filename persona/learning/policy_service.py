"""The ``strategy="auto"`` bandit of one `persona.Persona`: chooses arms, credits implicit signals, reports.

`PolicyService` reads the store's `persona.store.base.PolicyLog` (the source of truth): each choice reads
the user's own rows (one small query) and the pooled prior, which is cached in the process and refreshed
every `POOL_TTL` seconds or after `POOL_WRITES` credits through this process (and at once after a forget or
reset). The algorithm itself is `persona.learning.policy`.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from typing import Protocol

from ..store.base import PolicyRow
from .policy import (
    IMPLICIT_WEIGHT,
    Arm,
    ArmEvidence,
    Choice,
    Policy,
    check_arms,
    choose,
    context_of,
    implicit_reward,
    policy_of,
)

__all__ = ["POOL_TTL", "POOL_WRITES", "PolicyService", "PolicyStore"]

POOL_TTL = 5.0
POOL_WRITES = 8


class PolicyStore(Protocol):
    def policy_rows(self, user_id: str) -> list[PolicyRow]: ...

    def policy_pool(self) -> list[PolicyRow]: ...

    def credit_implicit(self, reply_id: str, reward: float, weight: float) -> bool: ...

    def reset_policy(self, user_id: str) -> None: ...

    def close(self) -> None: ...


def _evidence(rows: Sequence[PolicyRow]) -> dict[str, ArmEvidence]:
    return {r.arm: ArmEvidence(r.pulls, r.rewards, r.weight, r.reward) for r in rows}


class PolicyService:
    """Arms, a seeded rng, the cached pool and each user's last auto turn (for implicit signals)."""

    def __init__(
        self, store: PolicyStore, arms: Sequence[Arm] | None = None, *, seed: int | None = None
    ) -> None:
        self.store = store
        self.arms = check_arms(arms)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._pool: dict[str, ArmEvidence] | None = None
        self._pool_at = 0.0
        self._writes = 0
        self._last: dict[str, tuple[str, str]] = {}

    def _pooled(self) -> dict[str, ArmEvidence]:
        stale = time.monotonic() - self._pool_at > POOL_TTL or self._writes >= POOL_WRITES
        if self._pool is None or stale:
            self._pool = _evidence(self.store.policy_pool())
            self._pool_at, self._writes = time.monotonic(), 0
        return self._pool

    def choose(self, user_id: str, message: str) -> tuple[Choice, str]:
        """The arm for this prompt, and the message's context key."""
        own = _evidence(self.store.policy_rows(user_id))
        with self._lock:
            pool = self._pooled()
            return choose(self.arms, own, pool, self._rng), context_of(message)

    def credited(self) -> None:
        """A rating was credited (the pool is refreshed after `POOL_WRITES` of them)."""
        with self._lock:
            self._writes += 1

    def observe(self, user_id: str, message: str) -> float | None:
        """Credit the implicit signal the user's new ``message`` gives about their previous auto reply."""
        with self._lock:
            last = self._last.pop(user_id, None)
        if last is None:
            return None
        reply_id, previous = last
        rating = implicit_reward(previous, message)
        if rating is None:
            return None
        if self.store.credit_implicit(reply_id, (rating + 1.0) / 2.0, IMPLICIT_WEIGHT):
            self.credited()
            return rating
        return None

    def turn(self, user_id: str, reply_id: str, message: str) -> None:
        """Remember an auto turn, so the user's next message can rate it."""
        with self._lock:
            self._last[user_id] = (reply_id, message)

    def policy(self, user_id: str) -> Policy:
        own = _evidence(self.store.policy_rows(user_id))
        with self._lock:
            self._pool = None
            pool = self._pooled()
        return policy_of(user_id, self.arms, own, pool)

    def forget(self, user_id: str) -> None:
        """Drop what the process holds about the user (their rows are erased by the store)."""
        with self._lock:
            self._last.pop(user_id, None)
            self._pool = None

    def reset(self, user_id: str) -> None:
        self.store.reset_policy(user_id)
        self.forget(user_id)
