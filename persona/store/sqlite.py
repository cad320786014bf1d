"""SQLite, the source of truth: memories, their embeddings, the embedder's id, history, replies, feedback.

One ``SQLiteStore`` per ``Persona``. It is thread-safe (one connection, one lock) and safe across
processes (WAL, ``BEGIN IMMEDIATE`` for every write, a busy timeout). ``secure_delete`` is on, and
deletes checkpoint the WAL, so deleted text does not linger in free pages or the log.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import EmbedderMismatchError, InvalidInputError, NotFoundError, StoreError
from ..types import HistoryEntry, Memory
from .base import Change, ChangeKind, Inserted, NewMemory, StoreCheck, UserRows
from .event_rows import event_json, parse_events
from .records import is_transcript
from .sqlite_counters import bump, renew_all, user_counters
from .sqlite_errors import GuardedLock
from .sqlite_governance import SQLiteGovernance
from .sqlite_labels import SQLiteLabels
from .sqlite_logs import SQLiteLogs
from .sqlite_open import open_database
from .sqlite_policy import SQLitePolicy
from .sqlite_rows import (
    COLUMNS,
    change_kind,
    keys_blob,
    list_query,
    new_id,
    row_position,
    row_to_memory,
    update_assignments,
    vector_blob,
)
from .sqlite_snapshots import SQLiteSnapshots

__all__ = ["DB_NAME", "MISSING_KEYS_SQL", "SQLiteStore"]

DB_NAME = "persona.db"
_USER_TABLES = ("memories", "history", "replies", "feedback", "users", "snapshots", "policy")
Vector = npt.NDArray[np.float32]


class SQLiteStore(SQLiteLabels, SQLiteLogs, SQLiteGovernance, SQLiteSnapshots, SQLitePolicy):
    """The SQLite source of truth for one store directory."""

    def __init__(
        self, path: Path, *, timeout: float = 30.0, factory: type[sqlite3.Connection] = sqlite3.Connection
    ) -> None:
        """``factory`` is the ``sqlite3.Connection`` class to connect with (tests pass one that fails on cue)."""
        self.path = path
        if path.exists() and not path.is_dir():
            raise StoreError(
                f"{path} is a file, not a directory; pass a directory for the store (it will be created)."
            )
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the store directory {path}: {exc}; choose a writable path."
            ) from exc
        self.db_path = path / DB_NAME
        self.lock = GuardedLock(self.db_path)
        self.db = open_database(self.db_path, self.cache_dir, timeout=timeout, factory=factory)

    def close(self) -> None:
        with self.lock, contextlib.suppress(sqlite3.Error):
            self.db.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: all or nothing, serialised against other threads and processes."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
                self.db.execute("COMMIT")
            except BaseException:
                if (
                    self.db.in_transaction
                ):  # a failed COMMIT (disk full) leaves it open; SQLite may have ended it
                    with contextlib.suppress(sqlite3.Error):
                        self.db.execute("ROLLBACK")
                raise

    # -- meta and embedder record ----------------------------------------------------------------------------

    def recorded_embedder(self) -> tuple[str, int] | None:
        with self.lock:
            rows = dict(
                self.db.execute("SELECT key, value FROM meta WHERE key IN ('embedder_id', 'embedder_dim')")
            )
        if "embedder_id" not in rows:
            return None
        return rows["embedder_id"], int(rows.get("embedder_dim", 0))

    def _check_embedder(self, db: sqlite3.Connection, embedder_id: str, dim: int) -> None:
        rows = dict(db.execute("SELECT key, value FROM meta WHERE key IN ('embedder_id', 'embedder_dim')"))
        if "embedder_id" not in rows:
            db.execute("INSERT INTO meta(key, value) VALUES ('embedder_id', ?)", (embedder_id,))
            db.execute("INSERT INTO meta(key, value) VALUES ('embedder_dim', ?)", (str(dim),))
        elif rows["embedder_id"] != embedder_id or int(rows["embedder_dim"]) != dim:
            raise EmbedderMismatchError(
                f"the store at {self.path} was built with embedder {rows['embedder_id']!r} "
                f"(dim {rows['embedder_dim']}), not {embedder_id!r} (dim {dim}). Open it with "
                f"embedder={rows['embedder_id']!r}, or re-embed every memory with "
                f"Persona(path, embedder=..., reembed=True) (CLI: persona reindex --embedder NAME)."
            )

    # -- writes ----------------------------------------------------------------------------------------------

    def _state(self, db: sqlite3.Connection, user_id: str) -> tuple[int, int]:
        return user_counters(db, user_id) or (0, 0)

    def _bump(
        self, db: sqlite3.Connection, user_id: str, kind: ChangeKind, *, seq: int | None = None
    ) -> Change:
        """Count one write of the user (inside its transaction) and describe it (`sqlite_counters.bump`)."""
        return bump(db, user_id, kind, seq=seq)

    def insert_many(
        self,
        user_id: str,
        items: Sequence[NewMemory],
        *,
        now: datetime,
        embedder: tuple[str, int] | None,
        imported_history: Sequence[HistoryEntry] | None = None,
    ) -> Inserted:
        """Insert all items in one transaction; returns each item's memory and whether it is new, in order.

        A fact/preference/profile whose (user, kind, text) exists already, in the store or earlier in the
        batch, is not inserted: its existing memory is returned with ``inserted=False``.
        ``imported_history`` replaces the ADD events (import of an export), in the same transaction.
        """
        out: list[tuple[Memory, int, bool]] = []
        change = Change("added", user_id)
        with self.write() as db:
            if embedder is not None:
                self._check_embedder(db, *embedder)
            seen: dict[tuple[str, str], tuple[Memory, int]] = {}
            inserted_any = False
            for item in items:
                if item.kind != "episode":
                    key = (item.kind, item.content_hash)
                    if key in seen:
                        out.append((*seen[key], False))
                        continue
                    row = db.execute(
                        f"SELECT {COLUMNS} FROM memories WHERE user_id = ? AND kind = ? AND content_hash = ? "
                        "AND kind != 'episode'",
                        (user_id, item.kind, item.content_hash),
                    ).fetchone()
                    if row is not None:
                        found = (row_to_memory(row), int(row[0]))
                        seen[key] = found
                        out.append((*found, False))
                        continue
                memory_id = item.id or new_id()
                if (
                    item.id is not None
                    and db.execute("SELECT 1 FROM memories WHERE id = ?", (item.id,)).fetchone()
                ):
                    raise InvalidInputError(
                        f"memory id {item.id!r} already exists; forget the user or delete it before importing."
                    )
                updated = item.updated_at or now
                cursor = db.execute(
                    "INSERT INTO memories(id, user_id, text, kind, metadata, created_at, created_ts, updated_at, "
                    "importance, source, content_hash, embedding, key_embeddings, valid_to, superseded_by, "
                    "transcript, sensitivity, event_times) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        memory_id,
                        user_id,
                        item.text,
                        item.kind,
                        json.dumps(item.metadata, sort_keys=True),
                        item.created_at.isoformat(),
                        item.created_at.timestamp(),
                        updated.isoformat(),
                        item.importance,
                        item.source,
                        item.content_hash,
                        None if item.embedding is None else vector_blob(item.embedding),
                        None if item.embedding is None else keys_blob(item.key_embeddings),
                        item.valid_to.isoformat() if item.valid_to else None,
                        item.superseded_by,
                        int(item.transcript),
                        item.sensitivity or "normal",
                        (events := event_json(item.text, item.created_at)),
                    ),
                )
                seq = int(cursor.lastrowid or 0)
                memory = Memory(
                    id=memory_id,
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
                    event_times=parse_events(events),
                )
                if imported_history is None:
                    self._history(db, memory, "ADD", updated)
                if item.kind != "episode":
                    seen[(item.kind, item.content_hash)] = (memory, seq)
                out.append((memory, seq, True))
                inserted_any = True
            if imported_history:
                self._insert_history(db, user_id, self._importable(db, items, out, imported_history))
            if inserted_any:
                change = self._bump(db, user_id, "added")
        return Inserted([m for m, _seq, _new in out], [new for _m, _seq, new in out], change)

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
        with self.write() as db:
            old = self._get_row(db, memory_id)
            seq = int(old[0])
            sets, params = update_assignments(changes, now, "?")
            if "text" in changes:
                sets.append("event_times = ?")
                params.append(event_json(changes["text"], datetime.fromisoformat(old[6])))
            if embedding is not None:
                sets.append("embedding = ?, key_embeddings = ?")
                params.extend([vector_blob(embedding), keys_blob(key_embeddings)])
            try:
                db.execute(f"UPDATE memories SET {', '.join(sets)} WHERE id = ?", (*params, memory_id))
            except sqlite3.IntegrityError as exc:
                raise InvalidInputError(
                    f"the user already has a {changes.get('kind', old[4])} memory with this text; "
                    "delete one of them instead of making them identical."
                ) from exc
            memory = row_to_memory(self._get_row(db, memory_id))
            if {"kind", "metadata"} & changes.keys():
                db.execute(
                    "UPDATE memories SET transcript = ? WHERE id = ?",
                    (int(is_transcript(memory.kind, memory.metadata)), memory_id),
                )
            self._history(db, memory, event, now)
            change = self._bump(db, memory.user_id, change_kind(changes, embedding is not None), seq=seq)
        return memory, change

    def delete(self, memory_id: str, *, now: datetime) -> tuple[Memory, Change]:
        """Delete a memory and purge its text from every history entry; the history keeps the DELETE event."""
        with self.write() as db:
            row = self._get_row(db, memory_id)
            memory = row_to_memory(row)
            db.execute("DELETE FROM memories WHERE id = ?", (memory_id,))
            db.execute(
                "UPDATE history SET text = NULL, metadata = NULL, kind = NULL, importance = NULL WHERE memory_id = ?",
                (memory_id,),
            )
            db.execute(
                "UPDATE memories SET superseded_by = NULL, valid_to = NULL WHERE superseded_by = ?",
                (memory_id,),
            )
            self._history(db, memory, "DELETE", now, with_content=False)
            change = self._bump(db, memory.user_id, "deleted", seq=int(row[0]))
        self.checkpoint()
        return memory, change

    def forget_user(self, user_id: str) -> tuple[int, Change]:
        """Erase every row about a user; returns how many memories were erased."""
        with self.write() as db:
            before = self._state(db, user_id)
            count = int(
                db.execute("SELECT COUNT(*) FROM memories WHERE user_id = ?", (user_id,)).fetchone()[0]
            )
            for table in (*_USER_TABLES, "consent", "disclosures"):
                db.execute(f"DELETE FROM {table} WHERE user_id = ?", (user_id,))
        self.checkpoint()
        return count, Change("forgotten", user_id, None, before, (0, 0))

    def checkpoint(self) -> bool:
        """Move the WAL into the database and truncate it, so no deleted text survives in the log.

        Returns False when another connection kept part of the log busy (it will be truncated later).
        """
        with self.lock:
            for _ in range(50):
                busy, _log, _moved = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if not busy:
                    return True
                threading.Event().wait(0.02)
        return False

    def set_embeddings(
        self, rows: Sequence[tuple[int, Vector, Vector | None]], embedder: tuple[str, int]
    ) -> Change:
        """Replace (seq, embedding, key embeddings) rows (re-embedding) and record the embedder, in one transaction."""
        with self.write() as db:
            db.executemany(
                "UPDATE memories SET embedding = ?, key_embeddings = ? WHERE seq = ?",
                [(vector_blob(v), keys_blob(keys), s) for s, v, keys in rows],
            )
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('embedder_id', ?)", (embedder[0],))
            db.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('embedder_dim', ?)", (str(embedder[1]),)
            )
            renew_all(db)
        return Change("all", None)

    # -- reads -----------------------------------------------------------------------------------------------

    def _get_row(self, db: sqlite3.Connection, memory_id: str) -> tuple[Any, ...]:
        row = db.execute(f"SELECT {COLUMNS} FROM memories WHERE id = ?", (memory_id,)).fetchone()
        if row is None:
            raise NotFoundError(
                f"no memory with id {memory_id!r} (it never existed or was deleted); "
                "list a user's memories to find ids."
            )
        return tuple(row)

    def get(self, memory_id: str) -> Memory:
        with self.lock:
            return row_to_memory(self._get_row(self.db, memory_id))

    def get_by_seqs(self, seqs: Sequence[int]) -> dict[int, Memory]:
        if not seqs:
            return {}
        with self.lock:
            marks = ",".join("?" * len(seqs))
            rows = self.db.execute(f"SELECT {COLUMNS} FROM memories WHERE seq IN ({marks})", tuple(seqs))
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
            user_id, kind=kind, since=since, until=until, limit=limit, include_superseded=include_superseded,
            oldest_first=oldest_first, mark="?", sensitivity=sensitivity, exclude_sensitivity=exclude_sensitivity,
            event_since=event_since, event_until=event_until,
        )
        with self.lock:
            return [row_to_memory(row) for row in self.db.execute(sql, params)]

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
            oldest_first=False, mark="?", after=after, sensitivity=sensitivity, event_since=event_since,
            event_until=event_until,
        )
        with self.lock:
            rows = list(self.db.execute(sql, params))
        more = len(rows) > limit
        return [row_to_memory(r) for r in rows[:limit]], row_position(rows[limit - 1]) if more else None

    def users(self) -> builtins.list[str]:
        with self.lock:
            return [
                row[0] for row in self.db.execute("SELECT DISTINCT user_id FROM memories ORDER BY user_id")
            ]

    def user_state(self, user_id: str) -> tuple[int, int]:
        """(version, mutations) of a user: version grows on every write, mutations on update/delete."""
        with self.lock:
            return user_counters(self.db, user_id) or (0, 0)

    def count(self, user_id: str | None = None) -> int:
        with self.lock:
            if user_id is None:
                return int(self.db.execute("SELECT COUNT(*) FROM memories").fetchone()[0])
            return int(
                self.db.execute("SELECT COUNT(*) FROM memories WHERE user_id = ?", (user_id,)).fetchone()[0]
            )

    def counts_by_kind(self) -> dict[str, int]:
        with self.lock:
            return dict(self.db.execute("SELECT kind, COUNT(*) FROM memories GROUP BY kind ORDER BY kind"))

    def user_rows(self, user_id: str, *, after_seq: int = 0, embeddings: bool = True) -> UserRows:
        """A user's memories with seq > after_seq, in seq order, for building the in-memory index."""
        blob = "embedding" if embeddings else "NULL"
        with self.lock:
            rows = self.db.execute(
                f"SELECT seq, id, text, kind, created_ts, metadata, superseded_by, {blob}, key_embeddings, "
                "event_times FROM memories WHERE user_id = ? AND seq > ? AND transcript = 0 ORDER BY seq",
                (user_id, after_seq),
            ).fetchall()
        return UserRows(
            seqs=[r[0] for r in rows],
            ids=[r[1] for r in rows],
            texts=[r[2] for r in rows],
            kinds=[r[3] for r in rows],
            created_ts=[r[4] for r in rows],
            metadata=[json.loads(r[5]) for r in rows],
            current=[r[6] is None for r in rows],
            embeddings=[r[7] for r in rows],
            keys=[r[8] for r in rows],
            events=[r[9] for r in rows],
        )

    def iter_texts(self, batch: int = 512) -> Iterator[builtins.list[tuple[int, str]]]:
        """Every memory's (seq, text) but the transcript-only ones, in batches: for re-embedding."""
        last = 0
        while True:
            with self.lock:
                rows = self.db.execute(
                    "SELECT seq, text FROM memories WHERE seq > ? AND transcript = 0 ORDER BY seq LIMIT ?",
                    (last, batch),
                ).fetchall()
            if not rows:
                return
            yield [(int(r[0]), str(r[1])) for r in rows]
            last = int(rows[-1][0])

    def check(self) -> StoreCheck:
        """What the database says of itself; damage is reported in ``integrity``, never raised."""
        found: list[str] = []
        try:
            with self.lock:
                found = [str(r[0]) for r in self.db.execute("PRAGMA integrity_check")]
                missing = int(
                    self.db.execute(
                        "SELECT COUNT(*) FROM memories WHERE embedding IS NULL AND transcript = 0"
                    ).fetchone()[0]
                )
                no_keys = int(self.db.execute(MISSING_KEYS_SQL).fetchone()[0])
        except StoreError as exc:
            return StoreCheck("; ".join([*(r for r in found if r != "ok"), str(exc)]), 0, 0)
        return StoreCheck(
            integrity="ok" if found == ["ok"] else "; ".join(found),
            missing_embeddings=missing,
            missing_keys=no_keys,
        )

    def size_bytes(self) -> int:
        """Bytes of the database file and its WAL and shared-memory files."""
        return sum(p.stat().st_size for p in self.path.glob(DB_NAME + "*") if p.is_file())

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def cache_dir(self) -> Path:
        return self.path / "index"


MISSING_KEYS_SQL = "SELECT COUNT(*) FROM memories WHERE key_embeddings IS NULL AND transcript = 0"
"""How many memories have no sentence keys yet (written before migration 003; reembed adds them)."""
