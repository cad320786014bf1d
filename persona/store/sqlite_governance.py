"""The SQLite store's governance tables: ``consent``, ``disclosures``, and what a retention sweep erases.

`SQLiteGovernance` is a part of `persona.store.sqlite.SQLiteStore`, kept in its own module; it uses the
store's connection, lock, write transactions, counters and WAL checkpoint. Erasing expired memories is
`SQLiteStore.delete` for many rows at once: the rows go (vectors and sentence keys with them), their text
leaves the history (a content-less ``EXPIRE`` event stays, as ``DELETE`` does), memories they superseded
become current again, the user's counters move (which drops their index snapshot) and the WAL is truncated.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta, timezone
from typing import Any

from ..governance.records import Consent, Disclosure
from ..types import KINDS
from .base import Change, ChangeKind, Expiry, ReplyRecord
from .sqlite_errors import GuardedLock
from .sqlite_logs import insert_reply
from .sqlite_policy import count_pull

__all__ = ["SQLiteGovernance", "disclosures_query", "julian_day"]

_CHUNK = 500  # ids per IN (...) list: far below SQLite's variable limit


def julian_day(ts: float) -> float:
    """A Unix time as SQLite's ``julianday()`` (what the ``replies_time`` index holds)."""
    return ts / 86400.0 + 2440587.5


class SQLiteGovernance:
    """Consent, disclosures and retention in the tables ``consent``, ``disclosures`` (migration 009)."""

    db: sqlite3.Connection
    lock: GuardedLock

    def write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _bump(
        self, db: sqlite3.Connection, user_id: str, kind: ChangeKind, *, seq: int | None = None
    ) -> Change:
        raise NotImplementedError

    def checkpoint(self) -> bool:
        raise NotImplementedError

    # -- consent ---------------------------------------------------------------------------------------------

    def get_consent(self, user_id: str) -> Consent | None:
        with self.lock:
            row = self.db.execute(
                "SELECT learning, personalization, retention, updated_at FROM consent WHERE user_id = ?", (user_id,)
            ).fetchone()
        return None if row is None else consent_from_row(user_id, row)

    def set_consent(self, consent: Consent) -> None:
        with self.write() as db:
            _put_consent(db, consent)

    def retention_overrides(self) -> dict[str, dict[str, float | None]]:
        with self.lock:
            rows = self.db.execute("SELECT user_id, retention FROM consent WHERE retention != '{}'").fetchall()
        return {str(r[0]): json.loads(r[1]) for r in rows}

    # -- disclosures -----------------------------------------------------------------------------------------

    def record_disclosure(self, disclosure: Disclosure) -> None:
        with self.write() as db:
            db.execute(_INSERT_DISCLOSURE, _disclosure_row(disclosure))

    def record_turn(self, disclosure: Disclosure | None, reply: ReplyRecord | None) -> None:
        with self.write() as db:
            if disclosure is not None:
                db.execute(_INSERT_DISCLOSURE, _disclosure_row(disclosure))
            if reply is not None:
                insert_reply(db, reply)

    def discard_reply(self, reply_id: str) -> None:
        with self.write() as db:
            row = db.execute("SELECT user_id, arm FROM replies WHERE reply_id = ?", (reply_id,)).fetchone()
            if row is not None and row[1] is not None:
                count_pull(db, row[0], row[1], -1)  # the model never answered: not a pull
            db.execute("DELETE FROM replies WHERE reply_id = ?", (reply_id,))

    def disclosures(
        self, user_id: str, *, since: datetime | None, until: datetime | None, limit: int | None
    ) -> builtins.list[Disclosure]:
        sql, params = disclosures_query(user_id, since=since, until=until, limit=limit, mark="?")
        with self.lock:
            rows = self.db.execute(sql, params).fetchall()
        return [disclosure_from_row(r) for r in rows]

    def import_governance(
        self, user_id: str, consent: Consent | None, disclosures: Sequence[Disclosure]
    ) -> None:
        with self.write() as db:
            if consent is not None:
                _put_consent(db, consent)
            db.executemany(_INSERT_DISCLOSURE, [_disclosure_row(d) for d in disclosures])

    # -- retention -------------------------------------------------------------------------------------------

    def expired(self, rules: Sequence[Expiry]) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        if not rules:
            return found
        rows: list[Any] = []
        with self.lock:
            for start in range(0, len(rules), 100):  # one statement per 100 rules (SQLite's variable limit)
                queries = [_expired_query(rule) for rule in rules[start : start + 100]]
                sql = " UNION ALL ".join(q for q, _ in queries)
                rows += self.db.execute(sql, [v for _, params in queries for v in params]).fetchall()
        for kind, user_id, count in rows:
            found.setdefault(str(user_id), {})[str(kind)] = int(count)
        return found

    def erase_expired(
        self, user_id: str, ttls: Sequence[tuple[str, float]], *, now: datetime
    ) -> tuple[dict[str, int], Change | None]:
        erased: dict[str, int] = {}
        change: Change | None = None
        with self.write() as db:
            doomed: list[tuple[str, int]] = []
            for kind, before in ttls:
                if kind in KINDS:
                    rows = db.execute(
                        "SELECT id, seq FROM memories WHERE user_id = ? AND kind = ? AND created_ts < ?",
                        (user_id, kind, before),
                    ).fetchall()
                    doomed.extend((str(r[0]), int(r[1])) for r in rows)
                    erased[kind] = len(rows)
                elif kind == "reply":
                    replies = [
                        str(r[0])
                        for r in db.execute(
                            "SELECT reply_id FROM replies WHERE user_id = ? AND julianday(at) < ?",
                            (user_id, julian_day(before)),
                        )
                    ]
                    erased["reply"], erased["feedback"] = len(replies), 0
                    for part in _chunks(replies):
                        marks = ",".join("?" * len(part))
                        erased["feedback"] += db.execute(
                            f"DELETE FROM feedback WHERE user_id = ? AND reply_id IN ({marks})", (user_id, *part)
                        ).rowcount
                        db.execute(f"DELETE FROM replies WHERE user_id = ? AND reply_id IN ({marks})", (user_id, *part))
                elif kind == "disclosure":
                    erased[kind] = db.execute(
                        "DELETE FROM disclosures WHERE user_id = ? AND at_ts < ?", (user_id, before)
                    ).rowcount
            if doomed:
                self._erase_memories(db, user_id, [memory_id for memory_id, _seq in doomed], now)
                change = self._bump(db, user_id, "deleted")
        if any(erased.values()):
            self.checkpoint()
        return {k: v for k, v in erased.items() if v}, change

    def _erase_memories(self, db: sqlite3.Connection, user_id: str, ids: list[str], now: datetime) -> None:
        """`SQLiteStore.delete` for many memories of one user, inside the caller's transaction."""
        for part in _chunks(ids):
            marks = ",".join("?" * len(part))
            db.execute(f"DELETE FROM memories WHERE user_id = ? AND id IN ({marks})", (user_id, *part))
            db.execute(
                "UPDATE history SET text = NULL, metadata = NULL, kind = NULL, importance = NULL "
                f"WHERE memory_id IN ({marks})",
                part,
            )
            db.execute(
                f"UPDATE memories SET superseded_by = NULL, valid_to = NULL WHERE superseded_by IN ({marks})", part
            )
        db.executemany(
            "INSERT INTO history(memory_id, user_id, event, at) VALUES (?, ?, 'EXPIRE', ?)",
            [(memory_id, user_id, now.isoformat()) for memory_id in ids],
        )


_INSERT_DISCLOSURE = (
    "INSERT INTO disclosures(user_id, at, at_ts, model, provider, reply_id, memory_ids) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _disclosure_row(d: Disclosure) -> tuple[Any, ...]:
    return (d.user_id, d.at.isoformat(), d.at.timestamp(), d.model, d.provider, d.reply_id, json.dumps(d.memory_ids))


def disclosure_from_row(row: Sequence[Any]) -> Disclosure:
    """(user_id, at, model, provider, memory_ids JSON, reply_id) -> `Disclosure` (both engines)."""
    return Disclosure(
        user_id=row[0],
        at=datetime.fromisoformat(row[1]),
        model=row[2],
        provider=row[3],
        memory_ids=list(json.loads(row[4])),
        reply_id=row[5],
    )


def consent_from_row(user_id: str, row: Sequence[Any]) -> Consent:
    """(learning, personalization, retention JSON, updated_at) -> `Consent` (both engines)."""
    retention = {
        k: None if v is None else timedelta(seconds=float(v)) for k, v in json.loads(row[2]).items()
    }
    return Consent(user_id, bool(row[0]), bool(row[1]), retention, datetime.fromisoformat(row[3]))


def consent_row(consent: Consent) -> tuple[Any, ...]:
    """`Consent` -> (user_id, learning, personalization, retention JSON, updated_at) (both engines)."""
    retention = {k: None if v is None else v.total_seconds() for k, v in sorted(consent.retention.items())}
    at = consent.updated_at or datetime.now(timezone.utc)
    return (consent.user_id, consent.learning, consent.personalization, json.dumps(retention), at.isoformat())


def _put_consent(db: sqlite3.Connection, consent: Consent) -> None:
    db.execute(
        "INSERT INTO consent(user_id, learning, personalization, retention, updated_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(user_id) DO UPDATE SET learning = excluded.learning, personalization = "
        "excluded.personalization, retention = excluded.retention, updated_at = excluded.updated_at",
        consent_row(consent),
    )


def _expired_query(rule: Expiry) -> tuple[str, list[Any]]:
    """Per user, how many rows ``rule`` matches: a range scan of a time index (the per-user one for a user's
    own rule), so nothing is read when none expired. The index is named: without statistics the planner
    would scan the per-user index to save the GROUP BY's sort."""
    one = rule.user_id is not None
    params: list[Any]
    if rule.kind in KINDS:
        index = "memories_user_kind_time" if one else "memories_kind_time"
        sql = f"SELECT ? AS kind, user_id, COUNT(*) FROM memories INDEXED BY {index} WHERE kind = ? AND created_ts < ?"
        params = [rule.kind, rule.kind, rule.before]
    elif rule.kind == "reply":
        index = "replies_user" if one else "replies_time"
        sql = f"SELECT ? AS kind, user_id, COUNT(*) FROM replies INDEXED BY {index} WHERE julianday(at) < ?"
        params = [rule.kind, julian_day(rule.before)]
    else:
        index = "disclosures_user_time" if one else "disclosures_time"
        sql = f"SELECT ? AS kind, user_id, COUNT(*) FROM disclosures INDEXED BY {index} WHERE at_ts < ?"
        params = [rule.kind, rule.before]
    if rule.user_id is not None:
        sql += " AND user_id = ?"
        params.append(rule.user_id)
    if rule.except_users:
        sql += " AND user_id NOT IN (SELECT value FROM json_each(?))"  # one variable, however many users
        params.append(json.dumps(rule.except_users))
    return sql + " GROUP BY user_id", params


def _chunks(items: list[str]) -> list[list[str]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def disclosures_query(
    user_id: str, *, since: datetime | None, until: datetime | None, limit: int | None, mark: str
) -> tuple[str, list[Any]]:
    """A user's disclosures, newest first (``since`` inclusive, ``until`` exclusive): both engines."""
    sql = f"SELECT user_id, at, model, provider, memory_ids, reply_id FROM disclosures WHERE user_id = {mark}"
    params: list[Any] = [user_id]
    if since is not None:
        sql += f" AND at_ts >= {mark}"
        params.append(since.timestamp())
    if until is not None:
        sql += f" AND at_ts < {mark}"
        params.append(until.timestamp())
    sql += " ORDER BY at_ts DESC, seq DESC"
    if limit is not None:
        sql += f" LIMIT {mark}"
        params.append(limit)
    return sql, params
