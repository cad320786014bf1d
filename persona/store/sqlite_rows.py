"""How memories map to SQLite rows and back: the selected columns, `Memory` from a row, vectors as bytes."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from ..types import Memory
from .base import ChangeKind

__all__ = ["COLUMNS", "change_kind", "keys_blob", "new_id", "row_to_memory", "vector_blob"]

Vector = npt.NDArray[np.float32]
COLUMNS = "seq, id, user_id, text, kind, metadata, created_at, updated_at, importance, source, valid_to, superseded_by"
"""The columns `row_to_memory` reads, in its order."""


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
    )


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
