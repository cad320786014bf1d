"""The SQLite store's per-user counters, drawn from one store-wide clock so that they never repeat.

A user's ``(version, mutations)`` tells every process's index cache whether its copy of the user's index is
current (`persona.retrieval.cache.IndexCache`). Both values come from the ``clock`` table (migration 005):
``version`` takes a fresh value on every write of the user, ``mutations`` on every write that changes or
removes a row and when the user's row is created. So a user forgotten and re-added under the same id never
gets back counters that an index of the erased rows was built at, and no record of the forgotten user is kept.
"""

from __future__ import annotations

import sqlite3

from .base import Change, ChangeKind

__all__ = ["bump", "renew_all", "tick", "user_counters"]


def tick(db: sqlite3.Connection) -> int:
    """The next value of the store-wide clock (inside the caller's write transaction)."""
    row = db.execute("UPDATE clock SET value = value + 1 WHERE id = 1 RETURNING value").fetchone()
    return int(row[0])


def user_counters(db: sqlite3.Connection, user_id: str) -> tuple[int, int] | None:
    row = db.execute("SELECT version, mutations FROM users WHERE user_id = ?", (user_id,)).fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


def bump(db: sqlite3.Connection, user_id: str, kind: ChangeKind, *, seq: int | None = None) -> Change:
    """Count one write of the user (inside its transaction) and describe it."""
    found = user_counters(db, user_id)
    version = tick(db)
    mutations = tick(db) if found is None or kind != "added" else found[1]
    if found is not None and mutations != found[1]:
        db.execute("DELETE FROM snapshots WHERE user_id = ?", (user_id,))  # it may hold the changed text
    db.execute(
        "INSERT INTO users(user_id, version, mutations) VALUES (?, ?, ?) ON CONFLICT(user_id) DO UPDATE SET "
        "version = excluded.version, mutations = excluded.mutations",
        (user_id, version, mutations),
    )
    return Change(kind, user_id, seq, found or (0, 0), (version, mutations))


def renew_all(db: sqlite3.Connection) -> None:
    """Fresh counters for every user (re-embedding changed every index)."""
    db.execute("UPDATE users SET version = ?, mutations = ?", (tick(db), tick(db)))
    db.execute("DELETE FROM snapshots")
