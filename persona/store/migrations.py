"""Named schema migrations, recorded in ``_migrations`` and applied each in its own transaction.

Append new migrations to ``MIGRATIONS``; never edit or reorder one that has shipped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone

from .event_rows import backfill

__all__ = ["MIGRATIONS", "applied_migrations", "apply_migrations"]

Migration = tuple[str, Callable[[sqlite3.Connection], None]]


def _initial(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE users(
            user_id TEXT PRIMARY KEY,
            version INTEGER NOT NULL DEFAULT 0,
            mutations INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE memories(
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            user_id TEXT NOT NULL,
            text TEXT NOT NULL,
            kind TEXT NOT NULL,
            metadata TEXT NOT NULL,
            created_at TEXT NOT NULL,
            created_ts REAL NOT NULL,
            updated_at TEXT NOT NULL,
            importance REAL NOT NULL,
            source TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            embedding BLOB,
            valid_to TEXT,
            superseded_by TEXT
        );
        CREATE INDEX memories_user ON memories(user_id, seq);
        CREATE UNIQUE INDEX memories_dedup ON memories(user_id, kind, content_hash) WHERE kind != 'episode';
        CREATE TABLE history(
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            memory_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            event TEXT NOT NULL,
            at TEXT NOT NULL,
            text TEXT,
            kind TEXT,
            metadata TEXT,
            importance REAL
        );
        CREATE INDEX history_memory ON history(memory_id);
        CREATE INDEX history_user ON history(user_id);
        CREATE TABLE replies(
            reply_id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL,
            model TEXT,
            memory_ids TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX replies_user ON replies(user_id);
        CREATE TABLE feedback(
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            reply_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            rating REAL NOT NULL,
            comment TEXT,
            at TEXT NOT NULL
        );
        CREATE INDEX feedback_user ON feedback(user_id);
        """
    )


def _kind_time_index(db: sqlite3.Connection) -> None:
    # list(kind=...) and the prompt strategies read a user's memories of one kind by time.
    db.execute("CREATE INDEX memories_user_kind_time ON memories(user_id, kind, created_ts)")


def _segment_keys(db: sqlite3.Connection) -> None:
    # Extra search keys per memory (persona.retrieval.sentences): float32 vectors, row after row; '' when the text has
    # none, NULL when they were never computed (memories written before this migration; reembed fills them).
    db.execute("ALTER TABLE memories ADD COLUMN key_embeddings BLOB")


def _transcript(db: sqlite3.Connection) -> None:
    # What the assistant said is transcript, not evidence about the user (persona.store.records.is_transcript):
    # kept and shown as conversation, never embedded or indexed. Earlier stores embedded and searched it;
    # their vectors go, and the users' counters move so that every index file built with them is rebuilt.
    db.execute("ALTER TABLE memories ADD COLUMN transcript INTEGER NOT NULL DEFAULT 0")
    db.execute(
        "UPDATE memories SET transcript = 1, embedding = NULL, key_embeddings = NULL "
        "WHERE kind = 'episode' AND json_extract(metadata, '$.role') = 'assistant'"
    )
    db.execute(
        "UPDATE users SET version = version + 1, mutations = mutations + 1 "
        "WHERE user_id IN (SELECT DISTINCT user_id FROM memories WHERE transcript = 1)"
    )


def _clock(db: sqlite3.Connection) -> None:
    # The users' counters come from one store-wide clock from now on (persona.store.sqlite_counters), so they
    # never repeat after forget_user. It starts above every value counted so far, forgotten users' included.
    db.execute("CREATE TABLE clock(id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)")
    db.execute(
        "INSERT INTO clock(id, value) SELECT 1, COALESCE(MAX(MAX(version, mutations)), 0) + 4294967296 FROM users"
    )


def _snapshots(db: sqlite3.Connection) -> None:
    # What a user's texts give their index (persona.retrieval.snapshot), so a cold index need not recompute it.
    db.execute(
        "CREATE TABLE snapshots(user_id TEXT PRIMARY KEY, mutations INTEGER NOT NULL, count INTEGER NOT NULL, "
        "max_seq INTEGER NOT NULL, data BLOB NOT NULL)"
    )


def _event_times(db: sqlite3.Connection) -> None:
    # When the events a memory's text talks about happened (persona.store.event_rows), computed for every row.
    db.execute("ALTER TABLE memories ADD COLUMN event_times TEXT")
    backfill(db, "?")


def _sensitivity(db: sqlite3.Connection) -> None:
    # Each memory's sensitivity label (persona.pii.labels); the index finds a user's labelled memories.
    db.executescript(
        """
        ALTER TABLE memories ADD COLUMN sensitivity TEXT NOT NULL DEFAULT 'normal';
        CREATE INDEX memories_user_sensitivity ON memories(user_id, sensitivity) WHERE sensitivity != 'normal';
        """
    )


def _governance(db: sqlite3.Connection) -> None:
    # Issue #17: each user's consent (flags and their own retention, JSON kind -> seconds or null), the
    # disclosure log (which memory ids went to which model, when, for which reply; no text), and the indexes
    # a retention sweep reads (rows of one kind older than a time; replies and feedback by their time).
    db.execute(
        "CREATE TABLE consent(user_id TEXT PRIMARY KEY, learning INTEGER NOT NULL, personalization INTEGER NOT NULL, "
        "retention TEXT NOT NULL, updated_at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE disclosures(seq INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, at TEXT NOT NULL, "
        "at_ts REAL NOT NULL, model TEXT NOT NULL, provider TEXT NOT NULL, reply_id TEXT, memory_ids TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX disclosures_user_time ON disclosures(user_id, at_ts)")
    db.execute("CREATE INDEX disclosures_time ON disclosures(at_ts)")
    db.execute("CREATE INDEX memories_kind_time ON memories(kind, created_ts)")
    db.execute("CREATE INDEX replies_time ON replies(julianday(at))")
    db.execute("CREATE INDEX feedback_reply ON feedback(reply_id)")


def _policy(db: sqlite3.Connection) -> None:
    # the strategy="auto" bandit (#16): each reply's arm and its credited reward, and per (user, arm) evidence
    for column in (
        "arm TEXT", "exploring INTEGER", "context TEXT", "reward REAL", "reward_weight REAL", "reward_source TEXT"
    ):
        db.execute(f"ALTER TABLE replies ADD COLUMN {column}")
    db.execute(
        "CREATE TABLE policy(user_id TEXT NOT NULL, arm TEXT NOT NULL, pulls INTEGER NOT NULL DEFAULT 0, "
        "rewards INTEGER NOT NULL DEFAULT 0, weight REAL NOT NULL DEFAULT 0, reward REAL NOT NULL DEFAULT 0, "
        "updated_at TEXT NOT NULL, PRIMARY KEY (user_id, arm))"
    )


MIGRATIONS: list[Migration] = [
    ("001_initial", _initial),
    ("002_memories_user_kind_time", _kind_time_index),
    ("003_memory_key_embeddings", _segment_keys),
    ("004_memory_transcript", _transcript),
    ("005_store_clock", _clock),
    ("006_index_snapshots", _snapshots),
    ("007_event_times", _event_times),
    ("008_sensitivity", _sensitivity),
    ("009_governance", _governance),
    ("010_policy", _policy),
]


def applied_migrations(db: sqlite3.Connection) -> list[str]:
    db.execute("CREATE TABLE IF NOT EXISTS _migrations(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    return [row[0] for row in db.execute("SELECT name FROM _migrations ORDER BY rowid")]


def apply_migrations(db: sqlite3.Connection) -> list[str]:
    """Apply every pending migration, each in an IMMEDIATE transaction (safe against a concurrent opener).

    Returns the names applied now. ``db`` must be in autocommit mode (isolation_level=None).
    """
    done: list[str] = []
    for name, migrate in MIGRATIONS:
        if name in applied_migrations(db):
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have applied it while we waited for the lock.
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone() is None:
                # executescript would COMMIT first; run the statements one by one inside our transaction.
                _run_in_transaction(db, migrate)
                db.execute(
                    "INSERT INTO _migrations(name, applied_at) VALUES (?, ?)",
                    (name, datetime.now(timezone.utc).isoformat()),
                )
                done.append(name)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return done


class _TransactionalScript:
    """Wraps a connection so a migration's ``executescript`` runs statement by statement in our transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def executescript(self, script: str) -> None:
        for statement in _split_sql(script):
            self._db.execute(statement)

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, params)


def _split_sql(script: str) -> list[str]:
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def _run_in_transaction(db: sqlite3.Connection, migrate: Callable[[sqlite3.Connection], None]) -> None:
    migrate(_TransactionalScript(db))  # type: ignore[arg-type]
