"""The SQLite store's index snapshots (`persona.store.base.IndexSource.load_snapshot` / `save_snapshot`; what
they hold is `persona.retrieval.snapshot`'s business) and `user_vectors`, the vectors a restored snapshot
reads. `SQLiteSnapshots` is a part of `persona.store.sqlite.SQLiteStore`, kept in its own module; it uses the store's connection, lock and writes.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager

from ..errors import StoreError
from .base import Snapshot
from .sqlite_errors import GuardedLock

__all__ = ["SQLiteSnapshots"]


class SQLiteSnapshots:
    """Load and save a user's index snapshot."""

    db: sqlite3.Connection
    lock: GuardedLock

    def write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def load_snapshot(self, user_id: str) -> Snapshot | None:
        with self.lock:
            row = self.db.execute(
                "SELECT mutations, count, max_seq, data FROM snapshots WHERE user_id = ?", (user_id,)
            ).fetchone()
        return None if row is None else Snapshot(int(row[0]), int(row[1]), int(row[2]), bytes(row[3]))

    def user_vectors(self, user_id: str, *, upto_seq: int) -> tuple[list[bytes | None], list[bytes | None]]:
        """The vectors and keys of the user's indexed memories with seq <= upto_seq (`IndexSource`)."""
        with self.lock:
            rows = self.db.execute(
                "SELECT embedding, key_embeddings FROM memories WHERE user_id = ? AND seq <= ? AND transcript = 0 "
                "ORDER BY seq",
                (user_id, upto_seq),
            ).fetchall()
        return [r[0] for r in rows], [r[1] for r in rows]

    def save_snapshot(self, user_id: str, snapshot: Snapshot) -> bool:
        """Save it if the user's mutations counter still matches (`persona.store.base.IndexSource`)."""
        s = snapshot
        try:
            with self.write() as db:
                return db.execute(
                    "INSERT OR REPLACE INTO snapshots(user_id, mutations, count, max_seq, data) SELECT ?, ?, ?, ?, ? "
                    "WHERE (SELECT mutations FROM users WHERE user_id = ?) = ?",
                    (user_id, s.mutations, s.count, s.max_seq, s.data, user_id, s.mutations),
                ).rowcount > 0
        except StoreError:
            return False  # a cache: a busy or full store just goes without it
