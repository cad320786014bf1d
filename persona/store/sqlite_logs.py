"""The SQLite store's logs: each memory's history (ADD/UPDATE/DELETE/...), replies and their feedback.

`SQLiteLogs` is a part of `persona.store.sqlite.SQLiteStore`, kept in its own module; it uses the store's
connection, lock and write transactions.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime
from typing import Any

from ..errors import NotFoundError
from ..types import HistoryEntry, Memory
from .base import Change, ChangeKind, NewMemory, ReplyRecord
from .sqlite_errors import GuardedLock
from .sqlite_policy import count_pull, credit
from .sqlite_rows import COLUMNS, row_to_memory
from .transfer import history_to_import

__all__ = ["SQLiteLogs"]


class SQLiteLogs:
    """History, replies and feedback, in the tables ``history``, ``replies`` and ``feedback``."""

    db: sqlite3.Connection
    lock: GuardedLock

    def write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _bump(
        self, db: sqlite3.Connection, user_id: str, kind: ChangeKind, *, seq: int | None = None
    ) -> Change:
        raise NotImplementedError

    def _history(
        self, db: sqlite3.Connection, memory: Memory, event: str, at: datetime, *, with_content: bool = True
    ) -> None:
        db.execute(
            "INSERT INTO history(memory_id, user_id, event, at, text, kind, metadata, importance) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                memory.id,
                memory.user_id,
                event,
                at.isoformat(),
                memory.text if with_content else None,
                memory.kind if with_content else None,
                json.dumps(memory.metadata, sort_keys=True) if with_content else None,
                memory.importance if with_content else None,
            ),
        )

    def _importable(
        self,
        db: sqlite3.Connection,
        items: Sequence[NewMemory],
        out: builtins.list[tuple[Memory, int, bool]],
        history: Sequence[HistoryEntry],
    ) -> builtins.list[HistoryEntry]:
        exported = {item.id for item in items if item.id is not None}
        others = sorted({e.memory_id for e in history} - exported)
        taken: set[str] = set()
        for start in range(0, len(others), 500):
            part = others[start : start + 500]
            marks = ",".join("?" * len(part))
            taken |= {
                r[0]
                for r in db.execute(
                    f"SELECT id FROM memories WHERE id IN ({marks}) UNION "
                    f"SELECT memory_id FROM history WHERE memory_id IN ({marks})",
                    (*part, *part),
                )
            }
        return history_to_import(history, {m.id for m, _s, new in out if new}, exported, taken)

    def history(self, memory_id: str) -> builtins.list[HistoryEntry]:
        with self.lock:
            rows = self.db.execute(
                "SELECT memory_id, event, at, text, kind, metadata, importance FROM history "
                "WHERE memory_id = ? ORDER BY seq",
                (memory_id,),
            ).fetchall()
        if not rows:
            raise NotFoundError(f"no memory with id {memory_id!r} has any history; check the id.")
        return [_history_entry(r) for r in rows]

    def user_history(self, user_id: str) -> builtins.list[HistoryEntry]:
        with self.lock:
            rows = self.db.execute(
                "SELECT memory_id, event, at, text, kind, metadata, importance FROM history "
                "WHERE user_id = ? ORDER BY seq",
                (user_id,),
            ).fetchall()
        return [_history_entry(r) for r in rows]

    def _insert_history(self, db: sqlite3.Connection, user_id: str, entries: Sequence[HistoryEntry]) -> None:
        db.executemany(
            "INSERT INTO history(memory_id, user_id, event, at, text, kind, metadata, importance) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    e.memory_id,
                    user_id,
                    e.event,
                    e.at.isoformat(),
                    e.text,
                    e.kind,
                    None if e.metadata is None else json.dumps(e.metadata, sort_keys=True),
                    e.importance,
                )
                for e in entries
            ],
        )

    # -- replies and feedback (used by persona.learning) ------------------------------------------------------

    def record_reply(
        self, reply_id: str, user_id: str, model: str, memory_ids: builtins.list[str], at: datetime
    ) -> None:
        with self.write() as db:
            insert_reply(db, ReplyRecord(reply_id, user_id, model, list(memory_ids), at))

    def get_reply(self, reply_id: str) -> ReplyRecord | None:
        with self.lock:
            row = self.db.execute(
                "SELECT reply_id, user_id, model, memory_ids, at, arm, exploring, context FROM replies "
                "WHERE reply_id = ?",
                (reply_id,),
            ).fetchone()
        if row is None:
            return None
        return ReplyRecord(
            reply_id=row[0],
            user_id=row[1],
            model=row[2],
            memory_ids=list(json.loads(row[3])),
            at=datetime.fromisoformat(row[4]),
            arm=row[5],
            exploring=bool(row[6]),
            context=row[7],
        )

    def record_feedback(
        self,
        reply_id: str,
        rating: float,
        comment: str | None,
        at: datetime,
        importance: Mapping[str, float] | None = None,
    ) -> tuple[dict[str, float], builtins.list[Change]]:
        """Record a rating and set the ``importance`` of memories (those that still exist), in one transaction.

        Returns the importance each existing memory now has, and the changes to apply to the index cache."""
        reply = self.get_reply(reply_id)
        if reply is None:
            raise NotFoundError(f"no reply with id {reply_id!r}; pass the .id of a Reply returned by chat().")
        applied: dict[str, float] = {}
        changes: builtins.list[Change] = []
        with self.write() as db:
            db.execute(
                "INSERT INTO feedback(reply_id, user_id, rating, comment, at) VALUES (?, ?, ?, ?, ?)",
                (reply_id, reply.user_id, rating, comment, at.isoformat()),
            )
            credit(db, reply_id, (rating + 1.0) / 2.0, 1.0, "explicit")
            for memory_id, value in (importance or {}).items():
                row = db.execute(f"SELECT {COLUMNS} FROM memories WHERE id = ?", (memory_id,)).fetchone()
                if row is None:
                    continue  # deleted since the reply
                memory = row_to_memory(row)
                if memory.importance != value:
                    db.execute(
                        "UPDATE memories SET importance = ?, updated_at = ? WHERE id = ?",
                        (value, at.isoformat(), memory_id),
                    )
                    memory = replace(memory, importance=value, updated_at=at)
                    self._history(db, memory, "UPDATE", at)
                    changes.append(self._bump(db, memory.user_id, "touched", seq=int(row[0])))
                applied[memory_id] = memory.importance
        return applied, changes

    def feedback_rows(self, user_id: str) -> builtins.list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute(
                "SELECT reply_id, rating, comment, at FROM feedback WHERE user_id = ? ORDER BY seq",
                (user_id,),
            ).fetchall()
        return [{"reply_id": r[0], "rating": r[1], "comment": r[2], "at": r[3]} for r in rows]


def _history_entry(row: tuple[Any, ...]) -> HistoryEntry:
    return HistoryEntry(
        memory_id=row[0],
        event=row[1],
        at=datetime.fromisoformat(row[2]),
        text=row[3],
        kind=row[4],
        metadata=None if row[5] is None else json.loads(row[5]),
        importance=row[6],
    )


def insert_reply(db: sqlite3.Connection, reply: ReplyRecord) -> None:
    """Insert a reply's record (inside the caller's transaction); a reply with an arm counts its pull."""
    db.execute(
        "INSERT INTO replies(reply_id, user_id, model, memory_ids, at, arm, exploring, context) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            reply.reply_id,
            reply.user_id,
            reply.model,
            json.dumps(reply.memory_ids),
            reply.at.isoformat(),
            reply.arm,
            int(reply.exploring),
            reply.context,
        ),
    )
    if reply.arm is not None:
        count_pull(db, reply.user_id, reply.arm)
