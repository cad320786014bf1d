"""The PostgreSQL store's bandit evidence (`persona.store.base.PolicyLog`), as `persona.store.sqlite_policy`:
the ``policy`` table (user id first in the key, for Citus) and the arm and credited reward of each reply."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any

from .base import PolicyRow
from .policy_credit import credit_change

__all__ = ["PostgresPolicy", "count_pull", "credit"]

_UPSERT = (
    "INSERT INTO policy(user_id, arm, pulls, rewards, weight, reward, updated_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (user_id, arm) DO UPDATE SET "
    "pulls = policy.pulls + excluded.pulls, rewards = policy.rewards + excluded.rewards, "
    "weight = policy.weight + excluded.weight, reward = policy.reward + excluded.reward, "
    "updated_at = excluded.updated_at"
)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def count_pull(conn: Any, user_id: str, arm: str, pulls: int = 1) -> None:
    conn.execute(_UPSERT, (user_id, arm, pulls, 0, 0.0, 0.0, _now()))


def credit(conn: Any, user_id: str, reply_id: str, reward: float, weight: float, source: str) -> bool:
    """As `persona.store.sqlite_policy.credit` (inside the caller's transaction, holding the user's lock)."""
    row = conn.execute(
        "SELECT arm, reward, reward_weight, reward_source FROM replies WHERE user_id = %s AND reply_id = %s",
        (user_id, reply_id),
    ).fetchone()
    if row is None or row[0] is None:
        return False
    arm, old_reward, old_weight, old_source = row
    change = credit_change(old_reward, old_weight, old_source, reward, weight, source)
    if change is None:
        return False
    conn.execute(_UPSERT, (user_id, arm, 0, change.rewards, change.weight, change.reward, _now()))
    conn.execute(
        "UPDATE replies SET reward = %s, reward_weight = %s, reward_source = %s WHERE user_id = %s AND reply_id = %s",
        (reward, weight, source, user_id, reply_id),
    )
    return True


class PostgresPolicy:
    """``policy`` rows per (user, arm)."""

    def read(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def write(self, user_id: str | None = None) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def policy_rows(self, user_id: str) -> builtins.list[PolicyRow]:
        with self.read() as conn:
            rows = conn.execute(
                "SELECT arm, pulls, rewards, weight, reward FROM policy WHERE user_id = %s ORDER BY arm",
                (user_id,),
            ).fetchall()
        return [PolicyRow(r[0], int(r[1]), int(r[2]), float(r[3]), float(r[4])) for r in rows]

    def policy_pool(self) -> builtins.list[PolicyRow]:
        with self.read() as conn:
            rows = conn.execute(
                "SELECT arm, SUM(pulls), SUM(rewards), SUM(weight), SUM(reward) FROM policy GROUP BY arm ORDER BY arm"
            ).fetchall()
        return [PolicyRow(r[0], int(r[1]), int(r[2]), float(r[3]), float(r[4])) for r in rows]

    def credit_implicit(self, reply_id: str, reward: float, weight: float) -> bool:
        with self.read() as conn:
            row = conn.execute("SELECT user_id FROM replies WHERE reply_id = %s", (reply_id,)).fetchone()
        if row is None:
            return False
        with self.write(row[0]) as conn:
            return credit(conn, row[0], reply_id, reward, weight, "implicit")

    def reset_policy(self, user_id: str) -> None:
        with self.write(user_id) as conn:
            conn.execute("DELETE FROM policy WHERE user_id = %s", (user_id,))
            conn.execute(
                "UPDATE replies SET reward = NULL, reward_weight = NULL, reward_source = NULL WHERE user_id = %s",
                (user_id,),
            )

    def import_policy(self, user_id: str, rows: Sequence[PolicyRow]) -> None:
        with self.write(user_id) as conn:
            for r in rows:
                conn.execute(_UPSERT, (user_id, r.arm, r.pulls, r.rewards, r.weight, r.reward, _now()))
