"""Both store engines for the tests: a SQLite directory, or a fresh schema on the test PostgreSQL server.

``PERSONA_TEST_PG_DSN`` points at a server (``bash scripts/pg.sh`` starts one on loopback and prints it). Without
it, or when nothing answers there, the PostgreSQL cases skip with the reason, unless
``PERSONA_TEST_PG_REQUIRED=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest

ENGINES = ["sqlite", "postgres"]


@cache
def pg_server() -> str | None:
    """The test server's DSN, or None (with `pg_unavailable` saying why)."""
    dsn = os.environ.get("PERSONA_TEST_PG_DSN", "").strip()
    if not dsn or _pg_problem(dsn) is not None:
        return None
    return dsn


@cache
def _pg_problem(dsn: str) -> str | None:
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'persona[postgres]')"
    try:
        psycopg.connect(dsn, connect_timeout=3).close()
    except psycopg.Error as exc:
        return f"no PostgreSQL server answers at $PERSONA_TEST_PG_DSN ({str(exc).strip().splitlines()[0]})"
    return None


def require_pg() -> str:
    """The test server's DSN; skips (or fails in CI) when there is none."""
    dsn = pg_server()
    if dsn is not None:
        return dsn
    given = os.environ.get("PERSONA_TEST_PG_DSN", "").strip()
    reason = (
        _pg_problem(given)
        if given
        else "PERSONA_TEST_PG_DSN is not set (bash scripts/pg.sh starts a server and prints its DSN)"
    )
    if os.environ.get("PERSONA_TEST_PG_REQUIRED") == "1":
        pytest.fail(f"PostgreSQL tests are required here but cannot run: {reason}")
    pytest.skip(f"PostgreSQL store tests skipped: {reason}")


def with_schema(dsn: str, schema: str) -> str:
    return dsn + ("&" if "?" in dsn else "?") + f"schema={schema}"


def drop_schema(dsn: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@contextmanager
def fresh_pg() -> Iterator[str]:
    """A DSN naming a new, empty schema on the test server, dropped afterwards."""
    dsn = require_pg()
    schema = "t_" + uuid.uuid4().hex[:16]
    try:
        yield with_schema(dsn, schema)
    finally:
        drop_schema(dsn, schema)


@contextmanager
def fresh_store(engine: str, tmp: Path) -> Iterator[str]:
    """Where a new, empty store of ``engine`` lives: a directory under ``tmp``, or a fresh PostgreSQL schema."""
    if engine == "sqlite":
        yield str(tmp / f"store-{uuid.uuid4().hex[:8]}")
    else:
        with fresh_pg() as dsn:
            yield dsn
