"""Opening a SQLite store's database: refuse what is not a persona store, migrate it, claim it.

`open_database` is the whole of `persona.store.sqlite.SQLiteStore`'s opening. It is safe when several
processes open (or create) the same store at once: every step is idempotent and runs in its own IMMEDIATE
transaction, and a store another process is creating is recognised as such (`check_foreign`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path

from ..errors import StoreCorruptError, StoreError
from .migrations import MIGRATIONS, apply_migrations
from .sqlite_errors import read_only_error, store_error

__all__ = ["APP_ID", "check_foreign", "open_database", "open_error", "refuse_empty_database"]

APP_ID = "persona"


def open_database(
    db_path: Path, cache_dir: Path, *, timeout: float, factory: type[sqlite3.Connection]
) -> sqlite3.Connection:
    """Connect (autocommit, WAL, secure delete), check, migrate and claim the store's database."""
    refuse_empty_database(db_path, cache_dir)
    try:
        db = sqlite3.connect(
            str(db_path), timeout=timeout, isolation_level=None, check_same_thread=False, factory=factory
        )
    except sqlite3.Error as exc:
        raise open_error(exc, db_path) from exc
    try:
        db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        check_foreign(db, db_path)
        _use_wal(db, timeout)
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA secure_delete = ON")
        apply_migrations(db)
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('app', ?)", (APP_ID,))
        db.execute("COMMIT")
    except BaseException as exc:
        with contextlib.suppress(sqlite3.Error):
            db.close()
        if isinstance(exc, sqlite3.Error):
            raise open_error(exc, db_path) from exc
        raise
    return db


def _use_wal(db: sqlite3.Connection, timeout: float) -> None:
    """Switch to WAL. SQLite does not call the busy handler for this pragma, so a store another process is
    creating at this moment answers "database is locked" at once: retry until the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def open_error(exc: sqlite3.Error, db_path: Path) -> StoreError:
    """The error for a store that failed to open: read-only and busy stores are not called corrupt."""
    if not _writable(db_path):
        return read_only_error(db_path, exc)
    mapped = store_error(exc, db_path)
    if isinstance(mapped, StoreCorruptError):
        return StoreCorruptError(
            f"{db_path} is not a usable persona store ({exc}). Move it away and open a new store, "
            "or restore it from an export (persona import FILE)."
        )
    return mapped


def _writable(db_path: Path) -> bool:
    directory = db_path.parent
    if not os.access(directory, os.W_OK | os.X_OK):
        return False
    return not db_path.exists() or os.access(db_path, os.R_OK | os.W_OK)


def refuse_empty_database(db_path: Path, cache_dir: Path) -> None:
    """Raise when the database file is empty but index files exist: the data was lost, not never written."""
    try:
        empty = db_path.stat().st_size == 0
        files = empty and cache_dir.is_dir() and any(cache_dir.glob("*.faiss"))
    except OSError:
        return  # an unreadable path fails on open with its own message
    if files:
        raise StoreCorruptError(
            f"{db_path} is empty (0 bytes) but {cache_dir} holds index files: the database was truncated or "
            f"replaced, and opening it would start an empty store. Restore {db_path.name} from a backup, or "
            f"import the users' exports (persona import FILE) after moving {cache_dir} away; to start over on "
            f"purpose, delete {db_path.name} and {cache_dir}."
        )


def check_foreign(db: sqlite3.Connection, db_path: Path) -> None:
    """Refuse a database that is not a persona store.

    A persona store records ``meta('app') = 'persona'`` when it is first opened, after its migrations. A
    store whose migrations are persona's own but whose ``app`` row is not there yet is one that another
    process is creating at this moment (or that a crash interrupted): it is accepted, and its opener finishes it.
    """
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        return
    app = db.execute("SELECT value FROM meta WHERE key = 'app'").fetchone() if "meta" in tables else None
    if app is not None:
        if app[0] != APP_ID:
            raise StoreCorruptError(f"{db_path} is not a persona store; pass another directory.")
        return
    if "_migrations" in tables:
        names = {row[0] for row in db.execute("SELECT name FROM _migrations")}
        if names <= {name for name, _migrate in MIGRATIONS} and (names or tables == {"_migrations"}):
            return  # being created by another process right now
    raise StoreCorruptError(
        f"{db_path} is an SQLite database but not a persona store; pass another directory."
    )
