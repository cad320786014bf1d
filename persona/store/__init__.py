"""Stores: the source of truth for memories. `base` is the seam every engine implements; `sqlite` the engine.

Also here: `records` (validating what callers write), `transfer` (export and import), `migrations`.
"""

from __future__ import annotations

from .base import Change, IndexSource, NewMemory, ReplyRecord, Store, StoreCheck, UserRows
from .sqlite import SQLiteStore

__all__ = [
    "Change",
    "IndexSource",
    "NewMemory",
    "ReplyRecord",
    "SQLiteStore",
    "Store",
    "StoreCheck",
    "UserRows",
]
