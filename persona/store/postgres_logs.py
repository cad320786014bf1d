"""The PostgreSQL store's logs: each memory's history, replies and their feedback.

`PostgresLogs` is a part of `persona.store.postgres.PostgresStore`, kept in its own module; it uses the
store's pool and its per-user write transactions. Same behaviour as `persona.store.sqlite_logs.SQLiteLogs`.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime
from typing import Any

from ..errors import NotFoundError
from ..types import HistoryEntry, Memory
from .base import Change, ChangeKind, ReplyRecord
from .postgres_policy import count_pull, credit
from .sqlite_rows import COLUMNS, row_to_memory

__all__ = ["PostgresLogs"]

_HISTORY_COLUMNS = "user_id, memory_id, event, at, text, kind, metadata, importance"


class PostgresLogs:
    """History, replies and feedback, in the tables ``history``, ``replies`` and ``feedback``."""

    def read(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def write(self, user_id: str | None = None) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _bump(self, conn: Any, user_id: str, kind: ChangeKind, *, seq: int | None = None) -> Change:
        raise NotImplementedError

    def _history(
        self, conn: Any, memory: Memory, event: str, at: datetime, *, with_content: bool = True
    ) -> None:
        conn.execute(
            f"INSERT INTO history({_HISTORY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            _history_row(memory, event, at, with_content),
        )

    def _copy_history(self, conn: Any, user_id: str, events: Sequence[tuple[Memory, str, datetime]]) -> None:
        with conn.cursor() as cur, cur.copy(f"COPY history ({_HISTORY_COLUMNS}) FROM STDIN") as copy:
            for memory, event, at in events:
                copy.write_row(_history_row(memory, event, at, True))

    def _insert_history(self, conn: Any, user_id: str, entries: Sequence[HistoryEntry]) -> None:
        if not entries:
            return
        with conn.cursor() as cur, cur.copy(f"COPY history ({_HISTORY_COLUMNS}) FROM STDIN") as copy:
            for e in entries:
                copy.write_row(
                    (
                        user_id,
                        e.memory_id,
                        e.event,
                        e.at.isoformat(),
                        e.text,
                        e.kind,
                        None if e.metadata is None else json.dumps(e.metadata, sort_keys=True),
                        e.importance,
                    )
                )

    def history(self, memory_id: str) -> builtins.list[HistoryEntry]:
        with self.read() as conn:
            rows = conn.execute(
                "SELECT memory_id, event, at, text, kind, metadata, importance FROM history "
                "WHERE memory_id = %s ORDER BY seq",
                (memory_id,),
            ).fetchall()
        if not rows:
            raise NotFoundError(f"no memory with id {memory_id!r} has any history; check the id.")
        return [_history_entry(r) for r in rows]

    def user_history(self, user_id: str) -> builtins.list[HistoryEntry]:
        with self.read() as conn:
            rows = conn.execute(
                "SELECT memory_id, event, at, text, kind, metadata, importance FROM history "
                "WHERE user_id = %s ORDER BY seq",
                (user_id,),
            ).fetchall()
        return [_history_entry(r) for r in rows]

    # -- replies and feedback (used by persona.learning) ------------------------------------------------------

    def record_reply(
        self, reply_id: str, user_id: str, model: str, memory_ids: builtins.list[str], at: datetime
    ) -> None:
        with self.write(user_id) as conn:
            insert_reply(conn, ReplyRecord(reply_id, user_id, model, list(memory_ids), at))

    def get_reply(self, reply_id: str) -> ReplyRecord | None:
        with self.read() as conn:
            row = conn.execute(
                "SELECT reply_id, user_id, model, memory_ids, at, arm, exploring, context FROM replies "
                "WHERE reply_id = %s", (reply_id,)
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
        """Record a rating and set the ``importance`` of the reply's user's memories (those that still exist),
        in one transaction. Returns the importance each now has, and the changes for the index cache."""
        reply = self.get_reply(reply_id)
        if reply is None:
            raise NotFoundError(f"no reply with id {reply_id!r}; pass the .id of a Reply returned by chat().")
        applied: dict[str, float] = {}
        changes: builtins.list[Change] = []
        with self.write(reply.user_id) as conn:
            conn.execute(
                "INSERT INTO feedback(user_id, reply_id, rating, comment, at) VALUES (%s, %s, %s, %s, %s)",
                (reply.user_id, reply_id, rating, comment, at.isoformat()),
            )
            credit(conn, reply.user_id, reply_id, (rating + 1.0) / 2.0, 1.0, "explicit")
            for memory_id, value in (importance or {}).items():
                row = conn.execute(
                    f"SELECT {COLUMNS} FROM memories WHERE user_id = %s AND id = %s", (reply.user_id, memory_id)
                ).fetchone()
                if row is None:
                    continue  # deleted since the reply
                memory = row_to_memory(row)
                if memory.importance != value:
                    conn.execute(
                        "UPDATE memories SET importance = %s, updated_at = %s WHERE user_id = %s AND id = %s",
                        (value, at.isoformat(), reply.user_id, memory_id),
                    )
                    memory = replace(memory, importance=value, updated_at=at)
                    self._history(conn, memory, "UPDATE", at)
                    changes.append(self._bump(conn, memory.user_id, "touched", seq=int(row[0])))
                applied[memory_id] = memory.importance
        return applied, changes

    def feedback_rows(self, user_id: str) -> builtins.list[dict[str, Any]]:
        with self.read() as conn:
            rows = conn.execute(
                "SELECT reply_id, rating, comment, at FROM feedback WHERE user_id = %s ORDER BY seq", (user_id,)
            ).fetchall()
        return [{"reply_id": r[0], "rating": r[1], "comment": r[2], "at": r[3]} for r in rows]


def _history_row(memory: Memory, event: str, at: datetime, with_content: bool) -> tuple[Any, ...]:
    return (
        memory.user_id,
        memory.id,
        event,
        at.isoformat(),
        memory.text if with_content else None,
        memory.kind if with_content else None,
        json.dumps(memory.metadata, sort_keys=True) if with_content else None,
        memory.importance if with_content else None,
    )


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


def insert_reply(conn: Any, reply: ReplyRecord) -> None:
    """Insert a reply's record (inside the caller's transaction, which holds the user's lock)."""
    conn.execute(
        "INSERT INTO replies(user_id, reply_id, model, memory_ids, at, arm, exploring, context) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (
            reply.user_id,
            reply.reply_id,
            reply.model,
            json.dumps(reply.memory_ids),
            reply.at.isoformat(),
            reply.arm,
            reply.exploring,
            reply.context,
        ),
    )
    if reply.arm is not None:
        count_pull(conn, reply.user_id, reply.arm)
