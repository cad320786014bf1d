"""How memories map to rows and back, shared by both engines: the selected columns, `Memory` from a row,
vectors as bytes, and the SQL of `list` and `update` (placeholder style given by the caller)."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from ..types import Memory
from .base import ChangeKind
from .event_rows import event_filter, parse_events

__all__ = [
    "COLUMNS",
    "change_kind",
    "keys_blob",
    "list_query",
    "new_id",
    "row_position",
    "row_to_memory",
    "update_assignments",
    "vector_blob",
]

Vector = npt.NDArray[np.float32]
COLUMNS = (
    "seq, id, user_id, text, kind, metadata, created_at, updated_at, importance, source, valid_to, superseded_by, "
    "sensitivity, event_times"
)
"""The columns `row_to_memory` reads, in its order."""
COLUMN_NAMES = tuple(name.strip() for name in COLUMNS.split(","))


def row_to_memory(row: sqlite3.Row | tuple[Any, ...]) -> Memory:
    return Memory(
        id=row[1],
        user_id=row[2],
        text=row[3],
        kind=row[4],
        metadata=json.loads(row[5]),
        created_at=datetime.fromisoformat(row[6]),
        updated_at=datetime.fromisoformat(row[7]),
        importance=float(row[8]),
        source=row[9],
        valid_to=datetime.fromisoformat(row[10]) if row[10] else None,
        superseded_by=row[11],
        sensitivity=row[12],
        event_times=parse_events(row[13]),
    )


def row_position(row: sqlite3.Row | tuple[Any, ...]) -> tuple[float, int]:
    """Where a `list_query` row sits in its order: (created_ts, seq), what ``after`` takes."""
    return float(row[len(COLUMN_NAMES)]), int(row[0])


def new_id() -> str:
    return uuid.uuid4().hex


def keys_blob(keys: Vector | None) -> bytes:
    """Key vectors as bytes: b"" for none (computed, the text has no segments)."""
    if keys is None or len(keys) == 0:
        return b""
    return np.ascontiguousarray(keys, dtype="<f4").tobytes()


def vector_blob(vector: Vector) -> bytes:
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def change_kind(changes: dict[str, Any], reembedded: bool) -> ChangeKind:
    """How an update affects the user's index (see `persona.store.base.ChangeKind`)."""
    if reembedded or {"text", "kind", "metadata"} & changes.keys():
        return "reindex"
    if "superseded_by" in changes:
        return "restored" if changes["superseded_by"] is None else "superseded"
    return "touched"


def list_query(
    user_id: str,
    *,
    kind: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int | None,
    include_superseded: bool,
    oldest_first: bool,
    mark: str = "?",
    after: tuple[float, int] | None = None,
    sensitivity: Sequence[str] | None = None,
    exclude_sensitivity: Sequence[str] | None = None,
    event_since: datetime | None = None,
    event_until: datetime | None = None,
) -> tuple[str, list[Any]]:
    """The SQL and parameters of `MemoryReads.list`, with ``mark`` as the placeholder (``?`` or ``%s``):
    the same query on both engines. ``after`` is a `row_position`: only the rows past it in this order (keyset
    paging: rows inserted meanwhile never shift a page). Each row is `COLUMNS` then ``created_ts``."""
    sql = f"SELECT {COLUMNS}, created_ts FROM memories WHERE user_id = {mark}"
    params: list[Any] = [user_id]
    if kind is not None:
        sql += f" AND kind = {mark}"
        params.append(kind)
    if since is not None:
        sql += f" AND created_ts >= {mark}"
        params.append(since.timestamp())
    if until is not None:
        sql += f" AND created_ts < {mark}"
        params.append(until.timestamp())
    if event_since is not None or event_until is not None:
        clause, values = event_filter(event_since, event_until, mark, "sqlite" if mark == "?" else "postgres")
        sql += f" AND {clause}"
        params.extend(values)
    if not include_superseded:
        sql += " AND superseded_by IS NULL"
    if after is not None:
        op = ">" if oldest_first else "<"
        sql += f" AND (created_ts {op} {mark} OR (created_ts = {mark} AND seq {op} {mark}))"
        params.extend([after[0], after[0], after[1]])
    for labels, test in ((sensitivity, "IN"), (exclude_sensitivity, "NOT IN")):
        if labels is not None and (labels or test == "IN"):
            sql += f" AND sensitivity {test} ({', '.join([mark] * len(labels)) or 'NULL'})"
            params.extend(labels)
    order = "ASC" if oldest_first else "DESC"
    sql += f" ORDER BY created_ts {order}, seq {order}"
    if limit is not None:
        sql += f" LIMIT {mark}"
        params.append(limit)
    return sql, params


def update_assignments(changes: dict[str, Any], now: datetime, mark: str = "?") -> tuple[list[str], list[Any]]:
    """The ``SET`` items and parameters of `MemoryWrites.update` for ``changes`` (plus ``updated_at``)."""
    sets = [f"updated_at = {mark}"]
    params: list[Any] = [now.isoformat()]
    for field, value in changes.items():
        if field == "metadata":
            value = json.dumps(value, sort_keys=True)
        elif field == "valid_to" and value is not None:
            value = value.isoformat()
        sets.append(f"{field} = {mark}")
        params.append(value)
    return sets, params
