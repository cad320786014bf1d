"""Helpers for the governance tests (retention, consent, disclosures): a movable clock, and where text hides."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
MOCK = "gpt-4o-mini"  # with mock_response= litellm answers offline; tiktoken counts offline


class Clock:
    """An injectable clock that tests move forward."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def text_anywhere(location: str, text: str) -> bool:
    """Whether ``text`` is anywhere in the store: any byte of a SQLite store's files, or any row of any
    table of a PostgreSQL store's schema (each row as text)."""
    if "://" not in location:
        root = Path(location)
        return any(text.encode() in f.read_bytes() for f in root.rglob("*") if f.is_file())
    import psycopg

    dsn, schema = location.rsplit("schema=", 1)
    with psycopg.connect(dsn.rstrip("?&"), autocommit=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))]
        for table in tables:
            found = conn.execute(
                f"SELECT 1 FROM {schema}.{table} t WHERE t::text LIKE %s LIMIT 1", (f"%{text}%",)
            ).fetchone()
            if found is not None:
                return True
    return False
