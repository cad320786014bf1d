"""The PostgreSQL store's governance tables: ``consent``, ``disclosures``, and what a retention sweep erases.

`PostgresGovernance` is a part of `persona.store.postgres.PostgresStore`, kept in its own module; same
behaviour as `persona.store.sqlite_governance.SQLiteGovernance`. Erasing takes the user's advisory lock
like every write, and a background ``VACUUM`` of the tables it touched follows, as after ``delete``.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from ..governance.records import Consent, Disclosure
from ..types import KINDS
from .base import Change, ChangeKind, Expiry, ReplyRecord
from .postgres_logs import insert_reply
from .postgres_policy import count_pull
from .sqlite_governance import consent_from_row, consent_row, disclosure_from_row, disclosures_query

__all__ = ["PostgresGovernance"]

_DISCLOSURE_COLUMNS = "user_id, at, at_ts, model, provider, reply_id, memory_ids"


class PostgresGovernance:
    """Consent, disclosures and retention in the tables ``consent``, ``disclosures`` (migration 005)."""

    def read(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def write(self, user_id: str | None = None) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _bump(self, conn: Any, user_id: str, kind: ChangeKind, *, seq: int | None = None) -> Change:
        raise NotImplementedError

    def _vacuum(self, tables: Sequence[str]) -> None:
        raise NotImplementedError

    # -- consent ---------------------------------------------------------------------------------------------

    def get_consent(self, user_id: str) -> Consent | None:
        with self.read() as conn:
            row = conn.execute(
                "SELECT learning, personalization, retention, updated_at FROM consent WHERE user_id = %s", (user_id,)
            ).fetchone()
        return None if row is None else consent_from_row(user_id, row)

    def set_consent(self, consent: Consent) -> None:
        with self.write(consent.user_id) as conn:
            _put_consent(conn, consent)

    def retention_overrides(self) -> dict[str, dict[str, float | None]]:
        import json

        with self.read() as conn:
            rows = conn.execute("SELECT user_id, retention FROM consent WHERE retention <> '{}'").fetchall()
        return {str(r[0]): json.loads(r[1]) for r in rows}

    # -- disclosures -----------------------------------------------------------------------------------------

    def record_disclosure(self, disclosure: Disclosure) -> None:
        # No user lock: the log is append-only and nothing reads it to decide a write.
        with self.read() as conn:
            conn.execute(f"INSERT INTO disclosures({_DISCLOSURE_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)", _row(disclosure))

    def record_turn(self, disclosure: Disclosure | None, reply: ReplyRecord | None) -> None:
        user_id = reply.user_id if reply is not None else disclosure.user_id if disclosure is not None else None
        if user_id is None:
            return
        with self.write(user_id) as conn:  # the user's lock: a forget_user either sees these rows or runs after
            if disclosure is not None:
                conn.execute(
                    f"INSERT INTO disclosures({_DISCLOSURE_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    _row(disclosure),
                )
            if reply is not None:
                insert_reply(conn, reply)

    def discard_reply(self, reply_id: str) -> None:
        with self.read() as conn:
            row = conn.execute("SELECT user_id, arm FROM replies WHERE reply_id = %s", (reply_id,)).fetchone()
        if row is None:
            return
        with self.write(row[0]) as conn:
            if row[1] is not None:
                count_pull(conn, row[0], row[1], -1)  # the model never answered: not a pull
            conn.execute("DELETE FROM replies WHERE user_id = %s AND reply_id = %s", (row[0], reply_id))

    def disclosures(
        self, user_id: str, *, since: datetime | None, until: datetime | None, limit: int | None
    ) -> builtins.list[Disclosure]:
        sql, params = disclosures_query(user_id, since=since, until=until, limit=limit, mark="%s")
        with self.read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [disclosure_from_row(r) for r in rows]

    def import_governance(
        self, user_id: str, consent: Consent | None, disclosures: Sequence[Disclosure]
    ) -> None:
        with self.write(user_id) as conn:
            if consent is not None:
                _put_consent(conn, consent)
            if disclosures:
                with conn.cursor() as cur:
                    cur.executemany(
                        f"INSERT INTO disclosures({_DISCLOSURE_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        [_row(d) for d in disclosures],
                    )

    # -- retention -------------------------------------------------------------------------------------------

    def expired(self, rules: Sequence[Expiry]) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        if not rules:
            return found
        rows: list[Any] = []
        with self.read() as conn:
            for start in range(0, len(rules), 100):  # one statement per 100 rules: one round trip for most sweeps
                queries = [_expired_query(rule) for rule in rules[start : start + 100]]
                sql = " UNION ALL ".join(f"({q})" for q, _ in queries)
                rows += conn.execute(sql, [v for _, params in queries for v in params]).fetchall()
        for kind, user_id, count in rows:
            found.setdefault(str(user_id), {})[str(kind)] = int(count)
        return found

    def erase_expired(
        self, user_id: str, ttls: Sequence[tuple[str, float]], *, now: datetime
    ) -> tuple[dict[str, int], Change | None]:
        erased: dict[str, int] = {}
        change: Change | None = None
        with self.write(user_id) as conn:
            doomed: list[str] = []
            for kind, before in ttls:
                if kind in KINDS:
                    rows = conn.execute(
                        "SELECT id FROM memories WHERE user_id = %s AND kind = %s AND created_ts < %s",
                        (user_id, kind, before),
                    ).fetchall()
                    doomed.extend(str(r[0]) for r in rows)
                    erased[kind] = len(rows)
                elif kind == "reply":
                    replies = [
                        str(r[0])
                        for r in conn.execute(
                            "DELETE FROM replies WHERE user_id = %s AND persona_epoch(at) < %s "
                            "RETURNING reply_id",
                            (user_id, before),
                        ).fetchall()
                    ]
                    erased["reply"] = len(replies)
                    erased["feedback"] = int(
                        conn.execute(
                            "DELETE FROM feedback WHERE user_id = %s AND reply_id = ANY(%s)", (user_id, replies)
                        ).rowcount
                    )
                elif kind == "disclosure":
                    erased[kind] = int(
                        conn.execute(
                            "DELETE FROM disclosures WHERE user_id = %s AND at_ts < %s", (user_id, before)
                        ).rowcount
                    )
            if doomed:
                conn.execute("DELETE FROM memories WHERE user_id = %s AND id = ANY(%s)", (user_id, doomed))
                conn.execute(
                    "UPDATE history SET text = NULL, metadata = NULL, kind = NULL, importance = NULL "
                    "WHERE user_id = %s AND memory_id = ANY(%s)",
                    (user_id, doomed),
                )
                conn.execute(
                    "UPDATE memories SET superseded_by = NULL, valid_to = NULL "
                    "WHERE user_id = %s AND superseded_by = ANY(%s)",
                    (user_id, doomed),
                )
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO history(user_id, memory_id, event, at) VALUES (%s, %s, 'EXPIRE', %s)",
                        [(user_id, memory_id, now.isoformat()) for memory_id in doomed],
                    )
                change = self._bump(conn, user_id, "deleted")
        if any(erased.values()):
            self._vacuum(
                ("memories", "history", "replies", "feedback", "disclosures", "snapshots", "snapshot_vectors", "snapshot_keys")
            )
        return {k: v for k, v in erased.items() if v}, change


def _row(d: Disclosure) -> tuple[Any, ...]:
    import json

    return (d.user_id, d.at.isoformat(), d.at.timestamp(), d.model, d.provider, d.reply_id, json.dumps(d.memory_ids))


def _put_consent(conn: Any, consent: Consent) -> None:
    conn.execute(
        "INSERT INTO consent(user_id, learning, personalization, retention, updated_at) VALUES (%s, %s, %s, %s, %s) "
        "ON CONFLICT (user_id) DO UPDATE SET learning = excluded.learning, personalization = "
        "excluded.personalization, retention = excluded.retention, updated_at = excluded.updated_at",
        consent_row(consent),
    )


def _expired_query(rule: Expiry) -> tuple[str, list[Any]]:
    params: list[Any]
    if rule.kind in KINDS:
        sql = "SELECT %s::text AS kind, user_id, COUNT(*) FROM memories WHERE kind = %s AND created_ts < %s"
        params = [rule.kind, rule.kind, rule.before]
    elif rule.kind == "reply":
        sql = "SELECT %s::text AS kind, user_id, COUNT(*) FROM replies WHERE persona_epoch(at) < %s"
        params = [rule.kind, rule.before]
    else:
        sql = "SELECT %s::text AS kind, user_id, COUNT(*) FROM disclosures WHERE at_ts < %s"
        params = [rule.kind, rule.before]
    if rule.user_id is not None:
        sql += " AND user_id = %s"
        params.append(rule.user_id)
    if rule.except_users:
        sql += " AND NOT (user_id = ANY(%s))"
        params.append(list(rule.except_users))
    return sql + " GROUP BY user_id", params
