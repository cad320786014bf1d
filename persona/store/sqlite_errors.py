"""SQLite's failures in persona's terms: one mapping from ``sqlite3`` errors to `StoreError` and its subclass.

Every SQLite call of `persona.store.sqlite.SQLiteStore` runs while it holds its lock, a `GuardedLock`
(write transactions hold it too). Leaving the lock with an ``sqlite3.Error`` raises the error `store_error`
maps it to instead:

=====================================  ======================================================================
SQLite says                            persona raises
=====================================  ======================================================================
database or disk is full (SQLITE_FULL) `StoreError`: the disk is full; free space, then retry
attempt to write a readonly database   `StoreError`: the store is read-only; how to fix the permissions
database is locked / busy              `StoreError`: another process holds the store; retry or stop it
malformed, not a database, any other   `StoreCorruptError`: the database is damaged; how to recover
bare ``DatabaseError``
disk I/O error                         `StoreError`: reading or writing failed; check the disk
anything else                          `StoreError`
=====================================  ======================================================================
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from types import TracebackType

from ..errors import StoreCorruptError, StoreError

__all__ = ["GuardedLock", "read_only_error", "store_error"]

# Primary result codes (https://sqlite.org/rescode.html); extended codes keep them in the low byte.
_PERM, _BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 3, 5, 6, 8, 10, 11, 13, 14, 26


def _primary(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _recover(db_path: Path) -> str:
    return (
        f"Export what still reads (persona export USER), move {db_path.name} away and import the exports into "
        "a new store, or restore a backup; run persona check to see the damage."
    )


def store_error(exc: sqlite3.Error, db_path: Path) -> StoreError:
    """The `StoreError` (or `StoreCorruptError`) that says what an SQLite failure means and what to do."""
    code, text = _primary(exc), str(exc).lower()
    if code == _FULL or "disk is full" in text:
        return StoreError(
            f"the disk holding {db_path} is full ({exc}); the write did not happen. Free some space, or move "
            "the store to a larger disk, then retry."
        )
    if code == _READONLY or "readonly" in text or "read-only" in text:
        return read_only_error(db_path, exc)
    if code in (_BUSY, _LOCKED) or "database is locked" in text or "busy" in text:
        return StoreError(
            f"the store {db_path} is busy: another process kept it locked past the timeout ({exc}). Retry, "
            "or stop the other process."
        )
    if (
        code in (_CORRUPT, _NOTADB)
        or "malformed" in text
        or "not a database" in text
        or type(exc) is sqlite3.DatabaseError
    ):
        return StoreCorruptError(f"{db_path} is damaged ({exc}). {_recover(db_path)}")
    if code == _IOERR or "disk i/o error" in text:
        return StoreError(
            f"reading or writing {db_path} failed ({exc}): the disk may be full, failing or gone. Check its "
            "free space and health, then retry."
        )
    if code in (_CANTOPEN, _PERM):
        return StoreError(
            f"cannot open {db_path} ({exc}); make sure its directory exists and this user may read and write it."
        )
    return StoreError(f"the store {db_path} failed: {exc}. Retry; if it persists, run persona check.")


def read_only_error(db_path: Path, exc: BaseException | None = None) -> StoreError:
    why = f" ({exc})" if exc is not None else ""
    return StoreError(
        f"the store {db_path.parent} is read-only{why}: persona writes {db_path.name} and its -wal and -shm "
        f"files there, even to read. Nothing is damaged. Make the directory and its files writable by this "
        f"user (e.g. chmod -R u+w {db_path.parent}, or chown them), or open a writable copy."
    )


class GuardedLock:
    """The store's re-entrant lock; leaving it with an ``sqlite3.Error`` raises `store_error`'s mapping."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._lock = threading.RLock()

    def __enter__(self) -> GuardedLock:
        self._lock.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._lock.release()
        if isinstance(exc, sqlite3.Error):
            raise store_error(exc, self.db_path) from exc
