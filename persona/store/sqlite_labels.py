"""The SQLite store's reads of sensitivity labels (`persona.store.base.MemoryReads.labelled`).

`SQLiteLabels` is a part of `persona.store.sqlite.SQLiteStore`, kept in its own module; it uses the store's
connection and lock.
"""

from __future__ import annotations

import sqlite3

from .sqlite_errors import GuardedLock

__all__ = ["LABELLED_SQL", "SQLiteLabels"]

LABELLED_SQL = (
    "SELECT id, sensitivity, superseded_by IS NULL FROM memories WHERE user_id = {mark} AND sensitivity <> 'normal'"
)
"""A user's labelled memories (both engines; the partial index ``memories_user_sensitivity`` serves it)."""


class SQLiteLabels:
    """Which of a user's memories carry a label other than ``normal``."""

    db: sqlite3.Connection
    lock: GuardedLock

    def labelled(self, user_id: str) -> dict[str, tuple[str, bool]]:
        """id -> (label, current) for the user's memories labelled other than ``normal``."""
        with self.lock:
            rows = self.db.execute(LABELLED_SQL.format(mark="?"), (user_id,)).fetchall()
        return {str(r[0]): (str(r[1]), bool(r[2])) for r in rows}
