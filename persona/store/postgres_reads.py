"""The PostgreSQL store's reads: memories, users, the rows an index is built from, checks and sizes.

`PostgresReads` is a part of `persona.store.postgres.PostgresStore`, kept in its own module; it reads through
the store's pool. Same results, in the same order, as the SQLite store's reads.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from ..errors import NotFoundError
from ..types import Memory
from .base import StoreCheck, UserRows
from .postgres_schema import PgAddress
from .sqlite_labels import LABELLED_SQL
from .sqlite_rows import COLUMNS, list_query, row_position, row_to_memory

__all__ = ["PostgresReads"]


class PostgresReads:
    """Reading memories, users and index rows."""

    address: PgAddress

    def read(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _state(self, conn: Any, user_id: str) -> tuple[int, int]:
        row = conn.execute("SELECT version, mutations FROM users WHERE user_id = %s", (user_id,)).fetchone()
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

    def _owner(self, memory_id: str) -> str:
        with self.read() as conn:
            row = conn.execute("SELECT user_id FROM memories WHERE id = %s", (memory_id,)).fetchone()
        if row is None:
            raise _not_found(memory_id)
        return str(row[0])

    def _get_row(self, conn: Any, memory_id: str) -> tuple[Any, ...]:
        row = conn.execute(f"SELECT {COLUMNS} FROM memories WHERE id = %s", (memory_id,)).fetchone()
        if row is None:
            raise _not_found(memory_id)
        return tuple(row)

    def get(self, memory_id: str) -> Memory:
        with self.read() as conn:
            return row_to_memory(self._get_row(conn, memory_id))

    def get_by_seqs(self, seqs: Sequence[int]) -> dict[int, Memory]:
        if not seqs:
            return {}
        with self.read() as conn:
            rows = conn.execute(f"SELECT {COLUMNS} FROM memories WHERE seq = ANY(%s)", ([int(s) for s in seqs],))
            return {int(row[0]): row_to_memory(row) for row in rows}

    def list(
        self,
        user_id: str,
        *,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        include_superseded: bool = True,
        oldest_first: bool = False,
        sensitivity: Sequence[str] | None = None,
        exclude_sensitivity: Sequence[str] | None = None,
        event_since: datetime | None = None,
        event_until: datetime | None = None,
    ) -> builtins.list[Memory]:
        sql, params = list_query(
            user_id,
            kind=kind,
            since=since,
            until=until,
            limit=limit,
            include_superseded=include_superseded,
            oldest_first=oldest_first,
            mark="%s",
            sensitivity=sensitivity,
            exclude_sensitivity=exclude_sensitivity,
            event_since=event_since,
            event_until=event_until,
        )
        with self.read() as conn:
            return [row_to_memory(row) for row in conn.execute(sql, params)]

    def list_page(
        self,
        user_id: str,
        *,
        limit: int,
        after: tuple[float, int] | None = None,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        include_superseded: bool = True,
        sensitivity: Sequence[str] | None = None,
        event_since: datetime | None = None,
        event_until: datetime | None = None,
    ) -> tuple[builtins.list[Memory], tuple[float, int] | None]:
        sql, params = list_query(
            user_id, kind=kind, since=since, until=until, limit=limit + 1, include_superseded=include_superseded,
            oldest_first=False, mark="%s", after=after, sensitivity=sensitivity, event_since=event_since,
            event_until=event_until,
        )
        with self.read() as conn:
            rows = list(conn.execute(sql, params))
        more = len(rows) > limit
        return [row_to_memory(r) for r in rows[:limit]], row_position(rows[limit - 1]) if more else None

    def labelled(self, user_id: str) -> dict[str, tuple[str, bool]]:
        """id -> (label, current) for the user's memories labelled other than ``normal``."""
        with self.read() as conn:
            rows = conn.execute(LABELLED_SQL.format(mark="%s"), (user_id,)).fetchall()
        return {str(r[0]): (str(r[1]), bool(r[2])) for r in rows}

    def users(self) -> builtins.list[str]:
        with self.read() as conn:
            return [r[0] for r in conn.execute("SELECT DISTINCT user_id FROM memories ORDER BY user_id")]

    def user_state(self, user_id: str) -> tuple[int, int]:
        """(version, mutations) of a user: version changes on every write, mutations on update/delete."""
        with self.read() as conn:
            return self._state(conn, user_id)

    def count(self, user_id: str | None = None) -> int:
        with self.read() as conn:
            if user_id is None:
                return int(conn.execute("SELECT COUNT(*) FROM memories").fetchone()[0])
            return int(conn.execute("SELECT COUNT(*) FROM memories WHERE user_id = %s", (user_id,)).fetchone()[0])

    def counts_by_kind(self) -> dict[str, int]:
        with self.read() as conn:
            rows = conn.execute("SELECT kind, COUNT(*) FROM memories GROUP BY kind ORDER BY kind").fetchall()
        return {str(k): int(n) for k, n in rows}

    def user_rows(self, user_id: str, *, after_seq: int = 0, embeddings: bool = True) -> UserRows:
        """A user's memories with seq > after_seq, in seq order, for building the in-memory index."""
        blob = "embedding" if embeddings else "NULL::vector"
        with self.read() as conn, conn.cursor(binary=True) as cur:
            rows = cur.execute(
                f"SELECT seq, id, text, kind, created_ts, metadata, superseded_by IS NULL, {blob}, key_embeddings, "
                "event_times FROM memories WHERE user_id = %s AND seq > %s AND NOT transcript ORDER BY seq",
                (user_id, after_seq),
            ).fetchall()
        return UserRows(
            seqs=[int(r[0]) for r in rows],
            ids=[r[1] for r in rows],
            texts=[r[2] for r in rows],
            kinds=[r[3] for r in rows],
            created_ts=[r[4] for r in rows],
            metadata=[json.loads(r[5]) for r in rows],
            current=[bool(r[6]) for r in rows],
            embeddings=[r[7] for r in rows],
            keys=[None if r[8] is None else bytes(r[8]) for r in rows],
            events=[r[9] for r in rows],
        )

    def user_vectors(
        self, user_id: str, *, upto_seq: int
    ) -> tuple[builtins.list[bytes | None], builtins.list[bytes | None]]:
        """The vectors and keys of the user's indexed memories with seq <= upto_seq (`IndexSource`).

        The two columns are read on two pooled connections at once (the keys are most of the bytes, and the
        server detoasts them while the other column arrives). A row written or erased between the two reads
        makes their rows differ; then neither is returned (empty lists: the caller builds from the rows)."""

        def column(name: str) -> builtins.list[Any]:
            with self.read() as conn, conn.cursor(binary=True) as cur:
                rows: builtins.list[Any] = cur.execute(
                    f"SELECT seq, {name} FROM memories WHERE user_id = %s AND seq <= %s AND NOT transcript "
                    "ORDER BY seq",
                    (user_id, upto_seq),
                ).fetchall()
            return rows

        with ThreadPoolExecutor(max_workers=1) as worker:
            later = worker.submit(column, "key_embeddings")
            dense = column("embedding")
            keys = later.result()
        if [r[0] for r in dense] != [r[0] for r in keys]:
            return [], []
        return [r[1] for r in dense], [None if r[1] is None else bytes(r[1]) for r in keys]

    def iter_texts(self, batch: int = 512) -> Iterator[builtins.list[tuple[int, str]]]:
        """Every memory's (seq, text) but the transcript-only ones, in batches: for re-embedding."""
        last = 0
        while True:
            with self.read() as conn:
                rows = conn.execute(
                    "SELECT seq, text FROM memories WHERE seq > %s AND NOT transcript ORDER BY seq LIMIT %s",
                    (last, batch),
                ).fetchall()
            if not rows:
                return
            yield [(int(r[0]), str(r[1])) for r in rows]
            last = int(rows[-1][0])

    def check(self) -> StoreCheck:
        with self.read() as conn:
            missing = int(
                conn.execute("SELECT COUNT(*) FROM memories WHERE embedding IS NULL AND NOT transcript").fetchone()[0]
            )
            no_keys = int(
                conn.execute(
                    "SELECT COUNT(*) FROM memories WHERE key_embeddings IS NULL AND NOT transcript"
                ).fetchone()[0]
            )
            orphans = int(
                conn.execute(
                    "SELECT COUNT(*) FROM (SELECT DISTINCT user_id FROM memories) m "
                    "LEFT JOIN users u USING (user_id) WHERE u.user_id IS NULL"
                ).fetchone()[0]
            )
        integrity = "ok" if not orphans else f"{orphans} user(s) have memories but no counters"
        return StoreCheck(integrity=integrity, missing_embeddings=missing, missing_keys=no_keys)

    def size_bytes(self) -> int:
        """Bytes of the schema's tables and their indexes (TOAST included)."""
        with self.read() as conn:
            row = conn.execute(
                "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
                (self.address.schema,),
            ).fetchone()
        return int(row[0])


def _not_found(memory_id: str) -> NotFoundError:
    return NotFoundError(
        f"no memory with id {memory_id!r} (it never existed or was deleted); list a user's memories to find ids."
    )
