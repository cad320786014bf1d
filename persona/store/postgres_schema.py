"""The PostgreSQL store's address and schema: parsing a DSN, opening a checked connection, the migrations.

A DSN is ``postgresql://user:password@host:5432/dbname`` (or ``postgres://``), optionally with
``?schema=NAME`` (default ``persona``) so that one database holds several stores. Every per-user table has
``user_id`` first in its primary key: the schema can be distributed by ``user_id`` on a sharded PostgreSQL
(Citus) without change (``meta``, ``_migrations`` and the sequences stay on the coordinator).
"""

from __future__ import annotations

import re
import select
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from ..errors import InvalidInputError, MissingDependencyError, StoreError
from .event_rows import backfill

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "CONNECT_TIMEOUT",
    "MIGRATIONS",
    "PgAddress",
    "apply_migrations",
    "connect",
    "import_driver",
    "is_dsn",
    "parse_dsn",
]

CONNECT_TIMEOUT = 5
"""Seconds libpq waits for a server before giving up (each attempt: a bad DSN fails well within 10 s)."""
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
INSTALL = "pip install 'persona[postgres]'"


def is_dsn(location: object) -> bool:
    """Whether a store location names a PostgreSQL server rather than a directory."""
    return isinstance(location, str) and location.lower().startswith(("postgresql://", "postgres://"))


@dataclass(frozen=True)
class PgAddress:
    conninfo: str
    """What libpq connects with (the DSN without persona's own ``schema`` parameter)."""
    schema: str
    display: str
    """The DSN without its password, for messages."""
    host: str
    user: str
    dbname: str


def parse_dsn(dsn: str) -> PgAddress:
    """Split persona's ``schema`` parameter off a DSN and check it; InvalidInputError when it is malformed."""
    if "\x00" in dsn:
        raise InvalidInputError("the PostgreSQL DSN contains a NUL character; pass postgresql://user:pw@host/db.")
    try:
        parts = urlsplit(dsn)
        port = parts.port
    except ValueError as exc:
        raise InvalidInputError(
            f"cannot read the PostgreSQL DSN ({exc}); expected postgresql://user:password@host:5432/dbname."
        ) from None
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = "persona"
    kept: list[tuple[str, str]] = []
    for key, value in query:
        if key == "schema":
            schema = value
        else:
            kept.append((key, value))
    if not _SCHEMA.match(schema):
        raise InvalidInputError(
            f"schema={schema!r} is not a plain PostgreSQL name; use lower-case letters, digits and _ "
            "(at most 63, not starting with a digit)."
        )
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise InvalidInputError(f"the DSN {dsn.split('@')[-1]!r} names no database; add /dbname at its end.")
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), parts.fragment))
    host = parts.hostname or "localhost"
    user = unquote(parts.username or "")
    netloc = (quote(user) + "@" if user else "") + host + (f":{port}" if port else "")
    display_query = urlencode([*kept, ("schema", schema)]) if schema != "persona" else urlencode(kept)
    display = urlunsplit((parts.scheme, netloc, parts.path, display_query, ""))
    return PgAddress(conninfo, schema, display, f"{host}:{port or 5432}", user, dbname)


def import_driver() -> tuple[Any, Any]:
    """(psycopg, psycopg_pool), or MissingDependencyError naming the install command. (pgvector's own Python
    adapter is not needed: `register_vector_adapters` moves vectors as numpy bytes.)"""
    try:
        import psycopg
        import psycopg_pool
    except ImportError as exc:
        raise MissingDependencyError(
            f"a PostgreSQL store needs psycopg 3 and its pool ({exc.name or 'psycopg'} is missing): {INSTALL}"
        ) from exc
    return psycopg, psycopg_pool


def explain_connect_error(address: PgAddress, exc: Exception) -> StoreError:
    """A StoreError saying why a connection failed (server down, credentials, database) and what to do."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    low = str(exc).lower()
    if "password" in low or "authentication" in low or "no pg_hba.conf entry" in low:
        return StoreError(
            f"PostgreSQL at {address.host} refused the credentials of user {address.user!r} ({text}); "
            "check the user and password in the DSN, and pg_hba.conf on the server."
        )
    if "database" in low and "does not exist" in low:
        return StoreError(
            f"PostgreSQL at {address.host} has no database {address.dbname!r}; create it "
            f"(CREATE DATABASE {address.dbname};) or name another one in the DSN."
        )
    if "role" in low and "does not exist" in low:
        return StoreError(
            f"PostgreSQL at {address.host} has no user {address.user!r}; create it (CREATE ROLE ... LOGIN) "
            "or name another one in the DSN."
        )
    return StoreError(
        f"cannot reach PostgreSQL at {address.host} ({text}); start the server, or check the host and port "
        f"in the DSN {address.display}."
    )


def connect(address: PgAddress, psycopg: Any, *, autocommit: bool = True) -> Any:
    """One connection with persona's schema first on its search path, within `CONNECT_TIMEOUT` seconds."""
    try:
        conn = psycopg.connect(
            address.conninfo,
            autocommit=autocommit,
            connect_timeout=CONNECT_TIMEOUT,
            options=search_path_option(address.schema),
            application_name="persona",
        )
    except psycopg.Error as exc:
        raise explain_connect_error(address, exc) from exc
    return conn


def search_path_option(schema: str) -> str:
    return f"-c search_path={schema},public"


def ensure_vector_extension(conn: psycopg.Connection[Any], psycopg: Any, address: PgAddress) -> None:
    """Create pgvector's extension when it is missing and we may; StoreError with the SQL when we may not."""
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    if row is not None:
        return
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(
            f"the database {address.dbname!r} at {address.host} lacks the pgvector extension and user "
            f"{address.user!r} cannot create it ({first}). As a superuser, run in that database: "
            "CREATE EXTENSION vector;  (the server needs pgvector installed: https://github.com/pgvector/pgvector)"
        ) from exc


# -- migrations -----------------------------------------------------------------------------------------------

Migration = tuple[str, Callable[[Any], None]]


def _initial(cur: Any) -> None:
    # Mirrors the SQLite schema after its migration 005 (persona.store.migrations). Times are ISO 8601 text
    # with the caller's offset (as given) plus a float timestamp for ordering, exactly as in SQLite.
    cur.execute(
        """
        CREATE SEQUENCE memory_seq;
        CREATE SEQUENCE log_seq;
        CREATE SEQUENCE clock START WITH 1;
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE users(
            user_id TEXT PRIMARY KEY,
            version BIGINT NOT NULL,
            mutations BIGINT NOT NULL
        );
        CREATE TABLE memories(
            user_id TEXT NOT NULL,
            seq BIGINT NOT NULL,
            id TEXT NOT NULL,
            text TEXT NOT NULL,
            kind TEXT NOT NULL,
            metadata TEXT NOT NULL,
            created_at TEXT NOT NULL,
            created_ts DOUBLE PRECISION NOT NULL,
            updated_at TEXT NOT NULL,
            importance DOUBLE PRECISION NOT NULL,
            source TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            embedding vector,
            key_embeddings BYTEA,
            valid_to TEXT,
            superseded_by TEXT,
            transcript BOOLEAN NOT NULL DEFAULT FALSE,
            PRIMARY KEY (user_id, seq)
        );
        CREATE UNIQUE INDEX memories_id ON memories(user_id, id);
        CREATE INDEX memories_by_id ON memories(id);
        CREATE INDEX memories_by_seq ON memories(seq);
        CREATE UNIQUE INDEX memories_dedup ON memories(user_id, kind, content_hash) WHERE kind <> 'episode';
        CREATE INDEX memories_user_kind_time ON memories(user_id, kind, created_ts);
        CREATE INDEX memories_user_time ON memories(user_id, created_ts);
        CREATE INDEX memories_superseded_by ON memories(superseded_by) WHERE superseded_by IS NOT NULL;
        CREATE TABLE history(
            user_id TEXT NOT NULL,
            seq BIGINT NOT NULL DEFAULT nextval('log_seq'),
            memory_id TEXT NOT NULL,
            event TEXT NOT NULL,
            at TEXT NOT NULL,
            text TEXT,
            kind TEXT,
            metadata TEXT,
            importance DOUBLE PRECISION,
            PRIMARY KEY (user_id, seq)
        );
        CREATE INDEX history_memory ON history(memory_id);
        CREATE TABLE replies(
            user_id TEXT NOT NULL,
            reply_id TEXT NOT NULL,
            model TEXT,
            memory_ids TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (user_id, reply_id)
        );
        CREATE UNIQUE INDEX replies_id ON replies(reply_id);
        CREATE TABLE feedback(
            user_id TEXT NOT NULL,
            seq BIGINT NOT NULL DEFAULT nextval('log_seq'),
            reply_id TEXT NOT NULL,
            rating DOUBLE PRECISION NOT NULL,
            comment TEXT,
            at TEXT NOT NULL,
            PRIMARY KEY (user_id, seq)
        );
        INSERT INTO meta(key, value) VALUES ('app', 'persona');
        """
    )


def _snapshots(cur: Any) -> None:
    # What a user's texts give their index (persona.retrieval.snapshot), so a cold index need not recompute it.
    cur.execute(
        "CREATE TABLE snapshots(user_id TEXT PRIMARY KEY, mutations BIGINT NOT NULL, count INTEGER NOT NULL, "
        "max_seq BIGINT NOT NULL, data BYTEA NOT NULL)"
    )


def _event_times(cur: Any) -> None:
    # When the events a memory's text talks about happened (persona.store.event_rows), computed for every row.
    cur.execute("ALTER TABLE memories ADD COLUMN event_times TEXT")
    backfill(cur, "%s")


def _sensitivity(cur: Any) -> None:
    # Each memory's sensitivity label (persona.pii.labels); the index finds a user's labelled memories.
    cur.execute(
        """
        ALTER TABLE memories ADD COLUMN sensitivity TEXT NOT NULL DEFAULT 'normal';
        CREATE INDEX memories_user_sensitivity ON memories(user_id, sensitivity) WHERE sensitivity <> 'normal';
        """
    )


def _governance(cur: Any) -> None:
    # Issue #17, as SQLite's 009_governance: consent, the disclosure log and the indexes a retention sweep reads.
    # Replies keep their time as ISO 8601 text with its UTC offset (always: persona writes aware times), so its
    # Unix time depends on the text alone; the cast to timestamptz is only STABLE (the session's time zone
    # decides for a text without an offset), hence the IMMUTABLE wrapper that lets replies be indexed by time.
    cur.execute(
        """
        CREATE FUNCTION persona_epoch(at TEXT) RETURNS DOUBLE PRECISION LANGUAGE sql IMMUTABLE PARALLEL SAFE
            AS $$ SELECT extract(epoch FROM at::timestamptz)::double precision $$;
        CREATE INDEX replies_time ON replies(persona_epoch(at));
        CREATE TABLE consent(
            user_id TEXT PRIMARY KEY,
            learning BOOLEAN NOT NULL,
            personalization BOOLEAN NOT NULL,
            retention TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE disclosures(
            user_id TEXT NOT NULL,
            seq BIGINT NOT NULL DEFAULT nextval('log_seq'),
            at TEXT NOT NULL,
            at_ts DOUBLE PRECISION NOT NULL,
            model TEXT NOT NULL,
            provider TEXT NOT NULL,
            reply_id TEXT,
            memory_ids TEXT NOT NULL,
            PRIMARY KEY (user_id, seq)
        );
        CREATE INDEX disclosures_user_time ON disclosures(user_id, at_ts);
        CREATE INDEX disclosures_time ON disclosures(at_ts);
        CREATE INDEX memories_kind_time ON memories(kind, created_ts);
        CREATE INDEX feedback_reply ON feedback(reply_id);
        """
    )


def _snapshot_vectors(cur: Any) -> None:
    # Issue #11: a snapshot's vectors (dense rows, then sentence keys; raw float32) in parts small enough to
    # stay in their heap page (no TOAST), each row with the CRC-32 of the snapshot data it belongs to (stamp)
    # and of all the vectors (crc). Erased with the snapshot row (ON DELETE CASCADE), so every transaction
    # that erases a user's snapshot erases these vectors too.
    cur.execute(
        """
        CREATE TABLE snapshot_vectors(
            user_id TEXT NOT NULL REFERENCES snapshots(user_id) ON DELETE CASCADE,
            part INTEGER NOT NULL,
            stamp BIGINT NOT NULL,
            crc BIGINT NOT NULL,
            data BYTEA NOT NULL,
            PRIMARY KEY (user_id, part)
        ) WITH (toast_tuple_target = 8160);
        ALTER TABLE snapshot_vectors ALTER COLUMN data SET STORAGE MAIN;
        """
    )


def _policy(cur: Any) -> None:
    # Issue #16, as SQLite's 010_policy: each reply's arm and credited reward, and per (user, arm) evidence.
    cur.execute(
        """
        ALTER TABLE replies ADD COLUMN arm TEXT, ADD COLUMN exploring BOOLEAN, ADD COLUMN context TEXT,
            ADD COLUMN reward DOUBLE PRECISION, ADD COLUMN reward_weight DOUBLE PRECISION,
            ADD COLUMN reward_source TEXT;
        CREATE TABLE policy(
            user_id TEXT NOT NULL,
            arm TEXT NOT NULL,
            pulls BIGINT NOT NULL DEFAULT 0,
            rewards BIGINT NOT NULL DEFAULT 0,
            weight DOUBLE PRECISION NOT NULL DEFAULT 0,
            reward DOUBLE PRECISION NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (user_id, arm)
        );
        """
    )


def _snapshot_keys(cur: Any) -> None:
    # Issue #11: a snapshot's sentence keys as pgvector vectors (key number in owner order, stamp as in
    # snapshot_vectors), so a cold search can score them in the server while the vectors load. Erased with the
    # snapshot row.
    cur.execute(
        """
        CREATE TABLE snapshot_keys(
            user_id TEXT NOT NULL REFERENCES snapshots(user_id) ON DELETE CASCADE,
            part INTEGER NOT NULL,
            stamp BIGINT NOT NULL,
            key vector NOT NULL,
            PRIMARY KEY (user_id, part)
        );
        """
    )


MIGRATIONS: list[Migration] = [
    ("001_initial", _initial),
    ("002_index_snapshots", _snapshots),
    ("003_event_times", _event_times),
    ("004_sensitivity", _sensitivity),
    ("005_governance", _governance),
    ("006_snapshot_vectors", _snapshot_vectors),
    ("007_policy", _policy),
    ("008_snapshot_keys", _snapshot_keys),
]
"""Append new migrations; never edit or reorder one that has shipped."""

_MIGRATION_LOCK = 7_151_120  # pg_advisory_xact_lock(key, hashtext(schema)): one migrator per schema at a time


def apply_migrations(conn: psycopg.Connection[Any], schema: str) -> list[str]:
    """Create the schema and apply every pending migration, each in its own transaction, under an advisory
    lock so that two processes opening a new database at once apply each migration exactly once."""
    done: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_MIGRATION_LOCK, schema))
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {schema}._migrations(name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
        )
    for name, migrate in MIGRATIONS:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_MIGRATION_LOCK, schema))
            found = conn.execute(f"SELECT 1 FROM {schema}._migrations WHERE name = %s", (name,)).fetchone()
            if found is not None:
                continue
            with conn.cursor() as cur:
                migrate(cur)
                cur.execute(
                    f"INSERT INTO {schema}._migrations(name, applied_at) VALUES (%s, now())", (name,)
                )
            done.append(name)
    return done


# -- the pool's check of a connection it hands out -------------------------------------------------------------

IDLE_PING = 5.0
"""Seconds a pooled connection may idle before the pool pings it (one round trip) on handing it out."""


def check_connection(conn: psycopg.Connection[Any]) -> None:
    """The pool's check before it hands out a connection: raise when it is dead (the pool then opens another).

    A round trip only when the connection may be dead: the server has sent something unasked (it says why it
    closes a connection before closing it, and the closed socket reads as end of file) or it idled at least
    `IDLE_PING` seconds (a peer that vanished sends nothing). A busy process thus pays no ping per call;
    a connection cut in between fails its call with a StoreError, and the pool replaces it."""
    idle = time.monotonic() - float(getattr(conn, "_persona_returned", 0.0))
    unasked = _readable(conn.pgconn.socket)  # a closed connection raises here
    if unasked or idle >= IDLE_PING:
        conn.execute("")


def _readable(fd: int) -> bool:
    """Whether the socket has something to read, without waiting (poll: no limit on the descriptor)."""
    if not hasattr(select, "poll"):  # Windows
        return bool(select.select([fd], [], [], 0)[0])
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def returned(conn: psycopg.Connection[Any]) -> None:
    """The pool's reset hook: note when the connection went back to the pool (see `check_connection`)."""
    conn._persona_returned = time.monotonic()  # type: ignore[attr-defined]


# -- vectors on the wire ----------------------------------------------------------------------------------------


def register_vector_adapters(conn: psycopg.Connection[Any]) -> None:
    """Send numpy float32 vectors as pgvector's binary ``vector`` and read them back as little-endian float32
    bytes (the shape `persona.store.base.UserRows` carries), without an object per vector."""
    import struct

    import numpy as np
    from psycopg.adapt import Dumper, Loader
    from psycopg.pq import Format
    from psycopg.types import TypeInfo

    info = TypeInfo.fetch(conn, "vector")
    if info is None:
        raise StoreError("the pgvector extension is not installed in this database; run: CREATE EXTENSION vector;")
    info.register(conn)  # so that COPY can name the type
    vector_oid = info.oid

    class _VectorDumper(Dumper):
        format = Format.BINARY
        oid = vector_oid

        def dump(self, obj: Any) -> bytes:
            values = np.ascontiguousarray(obj, dtype=">f4").reshape(-1)
            return struct.pack(">HH", len(values), 0) + values.tobytes()

    class _VectorLoader(Loader):
        format = Format.BINARY

        def load(self, data: Any) -> bytes:
            return np.frombuffer(data, dtype=">f4", offset=4).astype("<f4").tobytes()

    conn.adapters.register_dumper("numpy.ndarray", _VectorDumper)
    conn.adapters.register_loader(info.oid, _VectorLoader)
