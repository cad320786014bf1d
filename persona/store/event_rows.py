"""Event times in the store, shared by both engines: the ``event_times`` column (JSON text), how it is
computed from a memory's text and ``created_at`` (`persona.eventtime`), read back, backfilled by the
migrations (SQLite 007, PostgreSQL 003) and filtered on by ``list(event_since=, event_until=)``.

The column holds ``[[start_ts, end_ts, "expression"], ...]`` (UTC timestamps, ``[]`` when the text names no
time). It is written with the row (insert, import) and rewritten with the text (update), so it is erased
with the row (delete, forget_user); re-embedding leaves text and event times alone.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from ..eventtime import resolve
from ..types import EventTime

__all__ = ["backfill", "event_filter", "event_json", "parse_events"]

_FAR = 1e15  # an open bound, in seconds


def event_json(text: str, created_at: datetime) -> str:
    """The column value for a memory's text said at ``created_at``."""
    return json.dumps([[e.start.timestamp(), e.end.timestamp(), e.text] for e in resolve(text, created_at)])


def parse_events(value: str | None) -> tuple[EventTime, ...]:
    """`EventTime` windows from the column (empty for NULL or unreadable text)."""
    if not value:
        return ()
    try:
        rows = json.loads(value)
        return tuple(
            EventTime(
                start=datetime.fromtimestamp(float(r[0]), tz=timezone.utc),
                end=datetime.fromtimestamp(float(r[1]), tz=timezone.utc),
                text=str(r[2]),
            )
            for r in rows
        )
    except (ValueError, TypeError, IndexError):
        return ()


def event_filter(
    since: datetime | None, until: datetime | None, mark: str, engine: str
) -> tuple[str, list[Any]]:
    """A WHERE clause keeping memories with an event window overlapping [since, until), or, for a memory whose
    text names no time, a ``created_at`` inside it. ``engine`` is "sqlite" or "postgres"."""
    lo = since.timestamp() if since is not None else -_FAR
    hi = until.timestamp() if until is not None else _FAR
    if engine == "sqlite":
        overlap = (
            "EXISTS (SELECT 1 FROM json_each(memories.event_times) AS e "
            f"WHERE json_extract(e.value, '$[1]') > {mark} AND json_extract(e.value, '$[0]') < {mark})"
        )
    else:
        overlap = (
            "EXISTS (SELECT 1 FROM jsonb_array_elements(memories.event_times::jsonb) AS e "
            f"WHERE (e->>1)::float8 > {mark} AND (e->>0)::float8 < {mark})"
        )
    sql = (
        f"(CASE WHEN COALESCE(event_times, '[]') = '[]' THEN created_ts >= {mark} AND created_ts < {mark} "
        f"ELSE {overlap} END)"
    )
    return sql, [lo, hi, lo, hi]


def backfill(cursor: Any, mark: str) -> None:
    """Compute the column for every row that lacks it (the migrations that add it)."""
    rows = cursor.execute("SELECT id, text, created_at FROM memories WHERE event_times IS NULL").fetchall()
    for memory_id, text, created_at in rows:
        cursor.execute(
            f"UPDATE memories SET event_times = {mark} WHERE id = {mark}",
            (event_json(text, datetime.fromisoformat(created_at)), memory_id),
        )
