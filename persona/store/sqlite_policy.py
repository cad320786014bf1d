"""The SQLite store's bandit evidence (`persona.store.base.PolicyLog`): the ``policy`` table and the arm and
credited reward of each reply (columns of ``replies``).

`SQLitePolicy` is a part of `persona.store.sqlite.SQLiteStore`; `count_pull` and `credit` run inside the
caller's transaction (a chat turn's record, a rating's feedback row).
"""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timezone

from .base import PolicyRow
from .policy_credit import credit_change
from .sqlite_errors import GuardedLock

__all__ = ["SQLitePolicy", "count_pull", "credit"]

_UPSERT = (
    "INSERT INTO policy(user_id, arm, pulls, rewards, weight, reward, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(user_id, arm) DO UPDATE SET pulls = pulls + excluded.pulls, rewards = rewards + excluded.rewards, "
    "weight = weight + excluded.weight, reward = reward + excluded.reward, updated_at = excluded.updated_at"
)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def count_pull(db: sqlite3.Connection, user_id: str, arm: str, pulls: int = 1) -> None:
    db.execute(_UPSERT, (user_id, arm, pulls, 0, 0.0, 0.0, _now()))


def credit(db: sqlite3.Connection, reply_id: str, reward: float, weight: float, source: str) -> bool:
    """Credit ``reward`` in [0, 1] with ``weight`` to the reply's arm, replacing the reply's earlier credit;
    an implicit credit never replaces an explicit one. False when the reply has no arm (or was rated)."""
    row = db.execute(
        "SELECT user_id, arm, reward, reward_weight, reward_source FROM replies WHERE reply_id = ?",
        (reply_id,),
    ).fetchone()
    if row is None or row[1] is None:
        return False
    user_id, arm, old_reward, old_weight, old_source = row
    change = credit_change(old_reward, old_weight, old_source, reward, weight, source)
    if change is None:
        return False
    db.execute(_UPSERT, (user_id, arm, 0, change.rewards, change.weight, change.reward, _now()))
    db.execute(
        "UPDATE replies SET reward = ?, reward_weight = ?, reward_source = ? WHERE reply_id = ?",
        (reward, weight, source, reply_id),
    )
    return True


class SQLitePolicy:
    """``policy`` rows per (user, arm)."""

    db: sqlite3.Connection
    lock: GuardedLock

    def write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def policy_rows(self, user_id: str) -> builtins.list[PolicyRow]:
        with self.lock:
            rows = self.db.execute(
                "SELECT arm, pulls, rewards, weight, reward FROM policy WHERE user_id = ? ORDER BY arm",
                (user_id,),
            ).fetchall()
        return [PolicyRow(r[0], int(r[1]), int(r[2]), float(r[3]), float(r[4])) for r in rows]

    def policy_pool(self) -> builtins.list[PolicyRow]:
        with self.lock:
            rows = self.db.execute(
                "SELECT arm, SUM(pulls), SUM(rewards), SUM(weight), SUM(reward) FROM policy GROUP BY arm ORDER BY arm"
            ).fetchall()
        return [PolicyRow(r[0], int(r[1]), int(r[2]), float(r[3]), float(r[4])) for r in rows]

    def credit_implicit(self, reply_id: str, reward: float, weight: float) -> bool:
        with self.write() as db:
            return credit(db, reply_id, reward, weight, "implicit")

    def reset_policy(self, user_id: str) -> None:
        with self.write() as db:
            db.execute("DELETE FROM policy WHERE user_id = ?", (user_id,))
            db.execute(
                "UPDATE replies SET reward = NULL, reward_weight = NULL, reward_source = NULL WHERE user_id = ?",
                (user_id,),
            )

    def import_policy(self, user_id: str, rows: Sequence[PolicyRow]) -> None:
        with self.write() as db:
            db.executemany(
                _UPSERT, [(user_id, r.arm, r.pulls, r.rewards, r.weight, r.reward, _now()) for r in rows]
            )
