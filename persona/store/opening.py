"""Opening a store from where it lives: a directory (SQLite) or a PostgreSQL DSN."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InvalidInputError
from .base import Store
from .postgres_schema import is_dsn

__all__ = ["is_dsn", "open_store", "store_location"]


def store_location(location: str | os.PathLike[str]) -> str | Path:
    """A DSN as given, or a directory path (``~`` expanded); InvalidInputError for what is neither."""
    if is_dsn(location):
        return str(location)
    text = os.fspath(location)
    if isinstance(text, bytes) or "\x00" in text:
        raise InvalidInputError("the store path contains a NUL character (or is bytes); pass a directory path.")
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise InvalidInputError(
            f"{scheme}:// is not a store persona can open; pass a directory, or a PostgreSQL DSN "
            "(postgresql://user:password@host:5432/dbname)."
        )
    return Path(text).expanduser()


def open_store(location: str | Path) -> Store:
    """The store at ``location`` (from `store_location`): PostgreSQL for a DSN, else SQLite in a directory."""
    if isinstance(location, str) and is_dsn(location):
        from .postgres import PostgresStore

        return PostgresStore(location)
    from .sqlite import SQLiteStore

    return SQLiteStore(Path(location))
