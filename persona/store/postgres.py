"""PostgreSQL + pgvector, the source of truth shared by many processes on many hosts.

One ``PostgresStore`` per ``Persona``; it keeps a small pool of connections (psycopg 3) and is thread-safe.
Every write is one transaction that first takes the user's advisory lock, so one user's writes are
serialised across processes and their ``seq`` values are handed out in commit order: another process's
index cache can append whatever is past the last ``seq`` it holds and never miss a row. The users' counters
come from one store-wide sequence (``clock``), so they never repeat, not even after ``forget_user``.

Vectors live in a pgvector ``vector(dim)`` column (the dimension is set when the first embedder is
recorded); sentence keys are float32 rows in a ``bytea``. There is no local directory: each process keeps its
per-user indexes in memory only (``cache_dir`` is None).
"""

from __future__ import annotations

import builtins
import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import EmbedderMismatchError, InvalidInputError, PersonaError, StoreError
from ..types import HistoryEntry, Memory
from .base import Change, ChangeKind, Inserted, NewMemory
from .event_rows import event_json, parse_events
from .postgres_governance import PostgresGovernance
from .postgres_logs import PostgresLogs
from .postgres_policy import PostgresPolicy
from .postgres_reads import PostgresReads
from .postgres_schema import (
    PgAddress,
    apply_migrations,
    check_connection,
    connect,
    ensure_vector_extension,
    explain_connect_error,
    import_driver,
    parse_dsn,
    register_vector_adapters,
    returned,
    search_path_option,
)
from .postgres_snapshots import PostgresSnapshots
from .records import is_transcript
from .sqlite_rows import COLUMNS, change_kind, keys_blob, new_id, row_to_memory, update_assignments
from .transfer import history_to_import

__all__ = ["PostgresStore"]

Vector = npt.NDArray[np.float32]
logger = logging.getLogger(__name__)
_USER_LOCK = 7_151_121  # pg_advisory_xact_lock(_USER_LOCK, hashtext(user_id)): one writer per user
_ALL_LOCK = 7_151_122  # shared by every write, exclusive for re-embedding (every user at once)
_INSERT_COLUMNS = (
    "user_id, seq, id, text, kind, metadata, created_at, created_ts, updated_at, importance, source, "
    "content_hash, embedding, key_embeddings, valid_to, superseded_by, transcript, sensitivity, event_times"
)


_FORGET_TABLES = (
    "memories", "history", "replies", "feedback", "users", "snapshots", "snapshot_vectors", "snapshot_keys", "consent",
    "disclosures", "policy",
)


class PostgresStore(PostgresReads, PostgresSnapshots, PostgresLogs, PostgresGovernance, PostgresPolicy):
    """The PostgreSQL source of truth for one schema of one database."""

    def __init__(self, dsn: str, *, pool_size: int = 8) -> None:
        self.address: PgAddress = parse_dsn(dsn)
        self.psycopg, pool_module = import_driver()
        probe = connect(self.address, self.psycopg)
        try:
            ensure_vector_extension(probe, self.psycopg, self.address)
            apply_migrations(probe, self.address.schema)
        except self.psycopg.Error as exc:
            raise StoreError(
                f"cannot set up the persona schema {self.address.schema!r} in {self.address.display}: "
                f"{_first_line(exc)}; check that the user may create tables in that database."
            ) from exc
        finally:
            probe.close()
        self._vacuums: builtins.list[threading.Thread] = []
        self.pool = pool_module.ConnectionPool(
            self.address.conninfo,
            min_size=1,
            max_size=pool_size,
            kwargs={
                "autocommit": True,
                "connect_timeout": 5,
                "options": search_path_option(self.address.schema),
                "application_name": "persona",
            },
            configure=register_vector_adapters,
            check=check_connection,
            reset=returned,
            timeout=10.0,
            open=False,
            name="persona",
        )
        try:
            self.pool.open(wait=True, timeout=10.0)
        except Exception as exc:
            with contextlib.suppress(Exception):
                self.pool.close(timeout=1.0)
            raise explain_connect_error(self.address, exc) from exc

    # -- connections ---------------------------------------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[Any]:
        """A pooled connection (autocommit: each statement sees everything committed before it)."""
        with self._errors(), self.pool.connection() as conn:
            yield conn

    @contextmanager
    def write(self, user_id: str | None = None) -> Iterator[Any]:
        """One transaction, all or nothing; with ``user_id``, holding that user's advisory lock."""
        with self._errors(), self.pool.connection() as conn, conn.transaction():
            if user_id is None:
                conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (_ALL_LOCK,))
            else:
                conn.execute(
                    "SELECT pg_advisory_xact_lock_shared(%s), pg_advisory_xact_lock(%s, hashtext(%s))",
                    (_ALL_LOCK, _USER_LOCK, user_id),
                )
            yield conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except PersonaError:
            raise
        except self.psycopg.OperationalError as exc:
            raise StoreError(
                f"lost the connection to PostgreSQL at {self.address.host} ({_first_line(exc)}); nothing of "
                "this call was written. Retry: the next call reconnects."
            ) from exc
        except self.psycopg.Error as exc:
            raise StoreError(f"PostgreSQL at {self.address.host} failed: {_first_line(exc)}") from exc
        except Exception as exc:
            if type(exc).__module__.startswith("psycopg_pool"):
                raise StoreError(
                    f"no connection to PostgreSQL at {self.address.host} within 10 s ({exc}); check that the "
                    "server is up and accepts connections (max_connections)."
                ) from exc
            raise

    def close(self) -> None:
        """Close the pool, after waiting up to 10 s in all for the VACUUMs still running (one that has not
        finished is cancelled with its connection; autovacuum reclaims those pages later)."""
        deadline = time.monotonic() + 10.0
        for thread in self._vacuums:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        with contextlib.suppress(Exception):
            self.pool.close(timeout=5.0)

    # -- the embedder record -------------------------------------------------------------------------------------

    def recorded_embedder(self) -> tuple[str, int] | None:
        with self.read() as conn:
            rows = dict(
                conn.execute("SELECT key, value FROM meta WHERE key IN ('embedder_id', 'embedder_dim')").fetchall()
            )
        if "embedder_id" not in rows:
            return None
        return rows["embedder_id"], int(rows.get("embedder_dim", 0))

    def _check_embedder(self, conn: Any, embedder_id: str, dim: int) -> None:
        rows = dict(
            conn.execute("SELECT key, value FROM meta WHERE key IN ('embedder_id', 'embedder_dim')").fetchall()
        )
        if "embedder_id" in rows:
            if rows["embedder_id"] != embedder_id or int(rows["embedder_dim"]) != dim:
                raise EmbedderMismatchError(
                    f"the store at {self.location} was built with embedder {rows['embedder_id']!r} "
                    f"(dim {rows['embedder_dim']}), not {embedder_id!r} (dim {dim}). Open it with "
                    f"embedder={rows['embedder_id']!r}, or re-embed every memory with "
                    f"Persona(dsn, embedder=..., reembed=True) (CLI: persona reindex --embedder NAME)."
                )
            return
        # The first embedder: record it and give the vector column its dimension, once, under a lock on meta.
        conn.execute("LOCK TABLE meta IN EXCLUSIVE MODE")
        if conn.execute("SELECT 1 FROM meta WHERE key = 'embedder_id'").fetchone() is not None:
            return self._check_embedder(conn, embedder_id, dim)
        conn.execute("INSERT INTO meta(key, value) VALUES ('embedder_id', %s), ('embedder_dim', %s)", (embedder_id, str(dim)))
        conn.execute(f"ALTER TABLE memories ALTER COLUMN embedding TYPE vector({int(dim)})")

    # -- writes --------------------------------------------------------------------------------------------------

    def _bump(self, conn: Any, user_id: str, kind: ChangeKind, *, seq: int | None = None) -> Change:
        """Count one write of the user (inside its transaction, under its lock) and describe it.

        Both counters take fresh values from the store-wide ``clock``: a new user row starts at fresh values
        too, so an index of a forgotten user never matches the counters of a user re-added under its id."""
        before = self._state(conn, user_id)
        mutation = kind != "added"
        row = conn.execute(
            "INSERT INTO users(user_id, version, mutations) VALUES (%s, nextval('clock'), nextval('clock')) "
            "ON CONFLICT (user_id) DO UPDATE SET version = nextval('clock'), mutations = CASE WHEN %s "
            "THEN nextval('clock') ELSE users.mutations END RETURNING version, mutations",
            (user_id, mutation),
        ).fetchone()
        if mutation:  # the user's index snapshot may hold the changed text
            conn.execute("DELETE FROM snapshots WHERE user_id = %s", (user_id,))
        return Change(kind, user_id, seq, before, (int(row[0]), int(row[1])))

    def insert_many(
        self,
        user_id: str,
        items: Sequence[NewMemory],
        *,
        now: datetime,
        embedder: tuple[str, int] | None,
        imported_history: Sequence[HistoryEntry] | None = None,
    ) -> Inserted:
        """Insert all items in one transaction (COPY); each item's memory and whether it is new, in order.

        A fact/preference/profile whose (user, kind, text) exists already, in the store or earlier in the
        batch, is not inserted: its existing memory is returned with ``inserted=False``. ``imported_history``
        replaces the ADD events (import of an export) for the memories inserted, in the same transaction."""
        change = Change("added", user_id)
        with self.write(user_id) as conn:
            if embedder is not None:
                self._check_embedder(conn, *embedder)
            stable = [(item.kind, item.content_hash) for item in items if item.kind != "episode"]
            existing: dict[tuple[str, str], Memory] = {}
            if stable:
                rows = conn.execute(
                    f"SELECT {COLUMNS}, content_hash FROM memories WHERE user_id = %s AND kind <> 'episode' "
                    "AND content_hash = ANY(%s)",
                    (user_id, [h for _k, h in stable]),
                ).fetchall()
                existing = {(r[4], r[-1]): row_to_memory(r) for r in rows}
            given = [item.id for item in items if item.id is not None]
            if given:
                taken = conn.execute("SELECT id FROM memories WHERE id = ANY(%s) LIMIT 1", (given,)).fetchone()
                if taken is not None:
                    raise InvalidInputError(
                        f"memory id {taken[0]!r} already exists; forget the user or delete it before importing."
                    )
            out: builtins.list[Memory] = []
            new: builtins.list[bool] = []
            fresh: builtins.list[tuple[NewMemory, Memory]] = []
            for item in items:
                key = (item.kind, item.content_hash)
                if item.kind != "episode" and key in existing:
                    out.append(existing[key])
                    new.append(False)
                    continue
                updated = item.updated_at or now
                memory = Memory(
                    id=item.id or new_id(),
                    user_id=user_id,
                    text=item.text,
                    kind=item.kind,
                    metadata=item.metadata,
                    created_at=item.created_at,
                    updated_at=updated,
                    importance=item.importance,
                    source=item.source,
                    valid_to=item.valid_to,
                    superseded_by=item.superseded_by,
                    sensitivity=item.sensitivity or "normal",
                    event_times=parse_events(event_json(item.text, item.created_at)),
                )
                if item.kind != "episode":
                    existing[key] = memory
                fresh.append((item, memory))
                out.append(memory)
                new.append(True)
            if fresh:
                self._copy_memories(conn, user_id, fresh)
                if imported_history is None:
                    self._copy_history(conn, user_id, [(m, "ADD", m.updated_at) for _i, m in fresh])
                else:
                    exported = {item.id for item in items if item.id is not None}
                    others = sorted({e.memory_id for e in imported_history} - exported)
                    taken = {
                        r[0]
                        for r in conn.execute(
                            "SELECT id FROM memories WHERE id = ANY(%s) UNION "
                            "SELECT memory_id FROM history WHERE memory_id = ANY(%s)",
                            (others, others),
                        )
                    }
                    inserted = {m.id for _i, m in fresh}
                    self._insert_history(
                        conn, user_id, history_to_import(imported_history, inserted, exported, taken)
                    )
                change = self._bump(conn, user_id, "added")
        return Inserted(out, new, change)

    def _copy_memories(self, conn: Any, user_id: str, fresh: Sequence[tuple[NewMemory, Memory]]) -> None:
        seqs = [
            int(r[0])
            for r in conn.execute("SELECT nextval('memory_seq') FROM generate_series(1, %s)", (len(fresh),))
        ]
        with conn.cursor() as cur, cur.copy(f"COPY memories ({_INSERT_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(
                ["text", "int8", "text", "text", "text", "text", "text", "float8", "text", "float8", "text",
                 "text", "vector", "bytea", "text", "text", "bool", "text", "text"]
            )  # fmt: skip
            for seq, (item, memory) in zip(sorted(seqs), fresh, strict=True):
                copy.write_row(
                    (
                        user_id,
                        seq,
                        memory.id,
                        item.text,
                        item.kind,
                        json.dumps(item.metadata, sort_keys=True),
                        item.created_at.isoformat(),
                        item.created_at.timestamp(),
                        memory.updated_at.isoformat(),
                        float(item.importance),
                        item.source,
                        item.content_hash,
                        item.embedding,
                        None if item.embedding is None else keys_blob(item.key_embeddings),
                        item.valid_to.isoformat() if item.valid_to else None,
                        item.superseded_by,
                        bool(item.transcript),
                        memory.sensitivity,
                        event_json(item.text, item.created_at),
                    )
                )

    def update(
        self,
        memory_id: str,
        changes: dict[str, Any],
        *,
        now: datetime,
        embedding: Vector | None = None,
        key_embeddings: Vector | None = None,
        event: str = "UPDATE",
    ) -> tuple[Memory, Change]:
        """Apply ``changes`` (text, kind, metadata, importance, valid_to, superseded_by, content_hash)."""
        owner = self._owner(memory_id)
        with self.write(owner) as conn:
            old = self._get_row(conn, memory_id)
            seq = int(old[0])
            sets, params = update_assignments(changes, now, "%s")
            if "text" in changes:
                sets.append("event_times = %s")
                params.append(event_json(changes["text"], datetime.fromisoformat(old[6])))
            if embedding is not None:
                sets.append("embedding = %s, key_embeddings = %s")
                params.extend([np.asarray(embedding, dtype=np.float32), keys_blob(key_embeddings)])
            try:
                with conn.transaction():  # a savepoint: a duplicate leaves the outer transaction usable
                    conn.execute(
                        f"UPDATE memories SET {', '.join(sets)} WHERE user_id = %s AND id = %s",
                        (*params, owner, memory_id),
                    )
            except self.psycopg.errors.UniqueViolation as exc:
                raise InvalidInputError(
                    f"the user already has a {changes.get('kind', old[4])} memory with this text; "
                    "delete one of them instead of making them identical."
                ) from exc
            memory = row_to_memory(self._get_row(conn, memory_id))
            if {"kind", "metadata"} & changes.keys():
                conn.execute(
                    "UPDATE memories SET transcript = %s WHERE user_id = %s AND id = %s",
                    (is_transcript(memory.kind, memory.metadata), owner, memory_id),
                )
            self._history(conn, memory, event, now)
            change = self._bump(conn, owner, change_kind(changes, embedding is not None), seq=seq)
        return memory, change

    def delete(self, memory_id: str, *, now: datetime) -> tuple[Memory, Change]:
        """Delete a memory and purge its text from every history entry; the history keeps the DELETE event."""
        owner = self._owner(memory_id)
        with self.write(owner) as conn:
            row = self._get_row(conn, memory_id)
            memory = row_to_memory(row)
            conn.execute("DELETE FROM memories WHERE user_id = %s AND id = %s", (owner, memory_id))
            conn.execute(
                "UPDATE history SET text = NULL, metadata = NULL, kind = NULL, importance = NULL "
                "WHERE user_id = %s AND memory_id = %s",
                (owner, memory_id),
            )
            conn.execute(
                "UPDATE memories SET superseded_by = NULL, valid_to = NULL WHERE user_id = %s AND superseded_by = %s",
                (owner, memory_id),
            )
            self._history(conn, memory, "DELETE", now, with_content=False)
            change = self._bump(conn, owner, "deleted", seq=int(row[0]))
        self._vacuum(("memories", "history"))
        return memory, change

    def forget_user(self, user_id: str) -> tuple[int, Change]:
        """Erase every row about a user (memories, keys, history, replies, feedback, counters)."""
        with self.write(user_id) as conn:
            before = self._state(conn, user_id)
            count = int(conn.execute("DELETE FROM memories WHERE user_id = %s", (user_id,)).rowcount)
            for table in _FORGET_TABLES[1:]:
                conn.execute(f"DELETE FROM {table} WHERE user_id = %s", (user_id,))
        self._vacuum(_FORGET_TABLES)
        return count, Change("forgotten", user_id, None, before, (0, 0))

    def _vacuum(self, tables: Sequence[str]) -> None:
        """A plain (non-blocking) VACUUM of the tables a deletion touched, on a background thread, so dead
        tuples holding the erased text are reclaimed soon (docs/postgres.md says what else PostgreSQL keeps)."""

        def run() -> None:
            try:
                with self.pool.connection(timeout=10.0) as conn:
                    conn.execute(f"VACUUM (SKIP_LOCKED) {', '.join(tables)}")
            except Exception as exc:  # the rows are gone already; autovacuum reclaims the pages later
                logger.warning("VACUUM after erasing did not run (%s); autovacuum will reclaim the pages", exc)

        self._vacuums = [t for t in self._vacuums if t.is_alive()]
        thread = threading.Thread(target=run, name="persona-vacuum", daemon=True)
        thread.start()
        self._vacuums.append(thread)

    def set_embeddings(
        self, rows: Sequence[tuple[int, Vector, Vector | None]], embedder: tuple[str, int]
    ) -> Change:
        """Replace (seq, embedding, key embeddings) rows (re-embedding) and record the embedder, in one
        transaction that excludes every other write."""
        with self._errors(), self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_ALL_LOCK,))
            dim = int(embedder[1])
            conn.execute(f"ALTER TABLE memories ALTER COLUMN embedding TYPE vector({dim}) USING NULL")
            conn.execute(
                "CREATE TEMP TABLE reembed(seq BIGINT PRIMARY KEY, embedding vector, key_embeddings BYTEA) "
                "ON COMMIT DROP"
            )
            with conn.cursor() as cur, cur.copy("COPY reembed FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "vector", "bytea"])
                for seq, vector, keys in rows:
                    copy.write_row((int(seq), vector, keys_blob(keys)))
            conn.execute(
                "UPDATE memories m SET embedding = r.embedding, key_embeddings = r.key_embeddings "
                "FROM reembed r WHERE m.seq = r.seq"
            )
            conn.execute(
                "INSERT INTO meta(key, value) VALUES ('embedder_id', %s), ('embedder_dim', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (embedder[0], str(dim)),
            )
            conn.execute("UPDATE users SET version = nextval('clock'), mutations = nextval('clock')")
            conn.execute("DELETE FROM snapshots")
        return Change("all", None)

    @property
    def location(self) -> str:
        return self.address.display

    @property
    def cache_dir(self) -> Path | None:
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
