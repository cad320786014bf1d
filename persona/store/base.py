"""The store seam: what every store engine provides, and the records that cross it.

A store is the source of truth for memories, their vectors, their history, replies and feedback. The
SQLite engine (`persona.store.sqlite`) implements it today; another engine (PostgreSQL) fits behind the same
protocols without touching retrieval, prompting, learning or chat. The interface is split by who needs it:

* `IndexSource`: what the in-memory index cache reads (a user's rows and change counters, the embedder).
* `MemoryReads` / `MemoryWrites`: what the client reads and writes. Every write returns a `Change`, the one
  shape the index cache applies (`persona.retrieval.cache.IndexCache.apply`).
* `ReplyLog`: replies and their feedback (used by learning).
* `GovernanceLog`: each user's consent, the disclosure log, and retention's reads and erasures.
* `Store`: all of them, plus opening, closing and checking the store.

Vectors cross the seam as float32 numpy arrays (``NewMemory.embedding``) and come back as little-endian
float32 bytes (``UserRows.embeddings``), so an engine stores them however it likes.
"""

from __future__ import annotations

import builtins
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from ..governance.records import Consent, Disclosure
from ..types import HistoryEntry, Memory

__all__ = [
    "Change",
    "ChangeKind",
    "Expiry",
    "GovernanceLog",
    "IndexSource",
    "Inserted",
    "MemoryReads",
    "MemoryWrites",
    "NewMemory",
    "ReplyLog",
    "ReplyRecord",
    "Snapshot",
    "SnapshotScores",
    "SnapshotScoring",
    "Store",
    "StoreCheck",
    "UserRows",
]

Vector = npt.NDArray[np.float32]


@dataclass
class NewMemory:
    """A validated memory about to be written (see `persona.store.records.prepare_item`)."""

    text: str
    kind: str
    metadata: dict[str, Any]
    created_at: datetime
    importance: float
    source: str
    content_hash: str
    embedding: Vector | None = None
    key_embeddings: Vector | None = None
    """Extra search keys (sentence vectors), shape (n, dim); None or n == 0 when the text has none."""
    id: str | None = None
    updated_at: datetime | None = None
    valid_to: datetime | None = None
    superseded_by: str | None = None
    transcript: bool = False
    """What the assistant said (`persona.store.records.is_transcript`): stored without vectors, never indexed."""
    sensitivity: str | None = None
    """Its sensitivity label; None: not given (screening may set it), stored as ``normal``."""


@dataclass
class UserRows:
    """What an in-memory user index is built from (see `persona.retrieval.index`): every memory but the
    transcript-only ones (`NewMemory.transcript`)."""

    seqs: list[int]
    ids: list[str]
    texts: list[str]
    kinds: list[str]
    created_ts: list[float]
    metadata: list[dict[str, Any]]
    current: list[bool]
    embeddings: list[bytes | None]
    keys: list[bytes | None]
    """Each memory's extra search keys (float32 rows): b"" when it has none, None when never computed."""
    events: list[str | None] = field(default_factory=list)
    """Each memory's event times as stored (`persona.store.event_rows`); empty when the store gave none."""

    def head(self, count: int) -> UserRows:
        """The first ``count`` rows."""
        return self.part(slice(None, count))

    def part(self, which: slice) -> UserRows:
        """The rows in ``which``."""
        return UserRows(
            self.seqs[which],
            self.ids[which],
            self.texts[which],
            self.kinds[which],
            self.created_ts[which],
            self.metadata[which],
            self.current[which],
            self.embeddings[which],
            self.keys[which],
            self.events[which],
        )


ChangeKind = Literal["added", "reindex", "deleted", "superseded", "restored", "touched", "forgotten", "all"]
"""What a write did, as far as a user's index is concerned:

``added`` new rows (appended on the next read); ``reindex`` text, kind or metadata changed (the user's index is
rebuilt); ``deleted`` / ``superseded`` / ``restored`` one row's liveness or currency flipped (patched in place;
``deleted`` with ``seq`` None: several rows were erased, so the user's index and its files are dropped);
``touched`` nothing the index holds changed (importance); ``forgotten`` the user is gone (index and its
files dropped); ``all`` every user changed (re-embedding: every index and file dropped).
"""


@dataclass(frozen=True)
class Change:
    """What one committed write changed, reported by the store and applied by the index cache in one place.

    ``before`` and ``after`` are the user's (version, mutations) counters read inside the write's
    transaction: an index at ``before`` can be patched to ``after``; any other index was also changed by
    someone else and is rebuilt.
    """

    kind: ChangeKind
    user_id: str | None
    seq: int | None = None
    before: tuple[int, int] = (0, 0)
    after: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class Inserted:
    """The outcome of `MemoryWrites.insert_many`: per item, the memory and whether it is new."""

    memories: list[Memory]
    inserted: list[bool]
    change: Change


@dataclass(frozen=True)
class ReplyRecord:
    """A reply that chat recorded, so feedback can refer to it."""

    reply_id: str
    user_id: str
    model: str
    memory_ids: list[str]
    at: datetime
    arm: str | None = None
    """The ``strategy="auto"`` arm that rendered its prompt (None for a fixed strategy)."""
    exploring: bool = False
    context: str | None = None


@dataclass(frozen=True)
class PolicyRow:
    """One user's evidence for one arm (`PolicyLog`): times chosen, ratings credited, their weight and the
    weighted sum of their rewards in [0, 1]."""

    arm: str
    pulls: int
    rewards: int
    weight: float
    reward: float


@dataclass(frozen=True)
class Snapshot:
    """What a user's texts give their index, for the first ``count`` rows (see `persona.retrieval.snapshot`).

    Valid while the user's ``mutations`` counter is unchanged and their ``count``-th row has seq ``max_seq``.
    """

    mutations: int
    count: int
    max_seq: int
    data: bytes
    vectors: tuple[bytes | memoryview, ...] = ()
    """The rows' vectors then their sentence keys (owner order), raw little-endian float32, in any number of
    pieces; empty when the store keeps none with the snapshot (SQLite keeps them in its index files)."""
    dim: int = 0
    """The vectors' dimension (0: not said)."""


@dataclass(frozen=True)
class StoreCheck:
    """What `Store.check` found."""

    integrity: str
    """``"ok"`` or the engine's description of the damage."""
    missing_embeddings: int
    missing_keys: int
    """Memories written before sentence keys existed (re-embedding adds them)."""


class IndexSource(Protocol):
    """What the index cache reads from a store."""

    def recorded_embedder(self) -> tuple[str, int] | None:
        """(embedder id, dimension) the store was built with, or None before the first memory."""

    def user_state(self, user_id: str) -> tuple[int, int]:
        """(version, mutations): version grows on every write of the user, mutations on update/delete."""

    def user_rows(self, user_id: str, *, after_seq: int = 0, embeddings: bool = True) -> UserRows:
        """The user's memories with seq > after_seq, in seq order (embeddings as None when not asked for)."""

    def user_vectors(
        self, user_id: str, *, upto_seq: int
    ) -> tuple[builtins.list[bytes | None], builtins.list[bytes | None]]:
        """The vectors and sentence keys (as in `UserRows`) of the user's memories with seq <= upto_seq, in
        seq order: what a restored snapshot needs from the rows (`persona.retrieval.snapshot`)."""

    def load_snapshot(self, user_id: str) -> Snapshot | None:
        """The user's saved index snapshot, or None."""

    def save_snapshot(self, user_id: str, snapshot: Snapshot) -> bool:
        """Save it only if the user's ``mutations`` counter still equals ``snapshot.mutations`` (atomically:
        never after a write that erased what it was taken from); False when not saved (a cache: best effort).

        Every write that changes or removes a user's row, ``forget_user`` and ``set_embeddings`` erase the
        user's snapshot in their own transaction."""


@dataclass(frozen=True)
class SnapshotScores:
    """A query's inner products with the vectors of the user's snapshot, and which snapshot that was."""

    mutations: int
    count: int
    max_seq: int
    stamp: int | None
    """The CRC-32 of the snapshot's data that the sentence keys were saved with (None: it has none)."""
    own: npt.NDArray[np.float64]
    """With the ``count`` rows' vectors, in seq order."""
    keys: npt.NDArray[np.float64]
    """With the sentence keys, in owner order."""

    def of(self, snapshot: Snapshot) -> bool:
        """Whether these are the scores of ``snapshot``'s vectors."""
        same = (self.mutations, self.count, self.max_seq) == (snapshot.mutations, snapshot.count, snapshot.max_seq)
        return same and len(self.own) == snapshot.count and self.stamp in (None, zlib.crc32(snapshot.data))


@runtime_checkable
class SnapshotScoring(Protocol):
    """Optional for an `IndexSource`: a store that holds a snapshot's vectors where it can score a query
    against them (PostgreSQL with pgvector), so a cold index can be ranked before its vectors arrive
    (`persona.retrieval.coldstart`)."""

    def snapshot_mutations(self, user_id: str) -> int | None:
        """The ``mutations`` counter the user's snapshot was taken at, or None without one: one small read,
        so that a user whose snapshot a delete or update made stale is not attempted."""

    def load_snapshot_data(self, user_id: str) -> Snapshot | None:
        """The user's saved snapshot without its vectors, or None."""

    def snapshot_scores(self, user_id: str, query: npt.NDArray[np.float32]) -> SnapshotScores | None:
        """The query's scores against the vectors of the rows the user's snapshot holds (rows added after it
        are the caller's to score); None when the user has no snapshot."""


class MemoryReads(Protocol):
    """Reading memories and their history."""

    def get(self, memory_id: str) -> Memory: ...

    def get_by_seqs(self, seqs: Sequence[int]) -> dict[int, Memory]: ...

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
        """``sensitivity``: only memories with one of these labels; ``exclude_sensitivity``: none of these."""
        ...

    def labelled(self, user_id: str) -> dict[str, tuple[str, bool]]:
        """The user's memories labelled other than ``normal``: id -> (label, current)."""
        ...

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
        """Up to ``limit`` of `list`'s memories (newest first) past position ``after``, and the position to pass
        for the next page (None after the last page)."""
        ...

    def users(self) -> builtins.list[str]: ...

    def count(self, user_id: str | None = None) -> int: ...

    def counts_by_kind(self) -> dict[str, int]: ...

    def history(self, memory_id: str) -> builtins.list[HistoryEntry]: ...

    def user_history(self, user_id: str) -> builtins.list[HistoryEntry]: ...

    def iter_texts(self, batch: int = 512) -> Iterator[builtins.list[tuple[int, str]]]:
        """Every memory's (seq, text), in batches: for re-embedding."""


class MemoryWrites(Protocol):
    """Writing memories. Each write is one transaction and reports what it changed."""

    def insert_many(
        self,
        user_id: str,
        items: Sequence[NewMemory],
        *,
        now: datetime,
        embedder: tuple[str, int] | None,
        imported_history: Sequence[HistoryEntry] | None = None,
    ) -> Inserted:
        """Insert all items (exact duplicate facts return the existing memory); all or nothing."""

    def update(
        self,
        memory_id: str,
        changes: dict[str, Any],
        *,
        now: datetime,
        embedding: Vector | None = None,
        key_embeddings: Vector | None = None,
        event: str = "UPDATE",
    ) -> tuple[Memory, Change]: ...

    def delete(self, memory_id: str, *, now: datetime) -> tuple[Memory, Change]:
        """Delete a memory and purge its text from its history."""

    def forget_user(self, user_id: str) -> tuple[int, Change]:
        """Erase every row about a user; returns how many memories were erased."""

    def set_embeddings(
        self, rows: Sequence[tuple[int, Vector, Vector | None]], embedder: tuple[str, int]
    ) -> Change:
        """Replace (seq, embedding, key embeddings) rows and record the embedder, in one transaction."""


class ReplyLog(Protocol):
    """Replies that chat produced and the feedback they got."""

    def record_reply(
        self, reply_id: str, user_id: str, model: str, memory_ids: builtins.list[str], at: datetime
    ) -> None: ...

    def get_reply(self, reply_id: str) -> ReplyRecord | None: ...

    def record_feedback(
        self,
        reply_id: str,
        rating: float,
        comment: str | None,
        at: datetime,
        importance: Mapping[str, float] | None = None,
    ) -> tuple[dict[str, float], builtins.list[Change]]:
        """Record a rating and set memories' importance in one transaction (see `SQLiteLogs.record_feedback`)."""
        ...

    def feedback_rows(self, user_id: str) -> builtins.list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Expiry:
    """Rows of ``kind`` (a memory kind, ``reply`` or ``disclosure``) older than ``before`` (a Unix time): of
    ``user_id`` only, or of every user but ``except_users`` (their own consent sets this kind's time to live)."""

    kind: str
    before: float
    except_users: tuple[str, ...] = ()
    user_id: str | None = None


class GovernanceLog(Protocol):
    """Consent, the disclosure log and retention (issue #17). Every write is one transaction."""

    def get_consent(self, user_id: str) -> Consent | None:
        """The user's consent, or None when they never set any."""

    def set_consent(self, consent: Consent) -> None: ...

    def retention_overrides(self) -> dict[str, dict[str, float | None]]:
        """Users whose consent sets times to live: user -> kind -> seconds (None: keep forever)."""

    def record_disclosure(self, disclosure: Disclosure) -> None:
        """One insert per prompt that carried memories."""

    def record_turn(self, disclosure: Disclosure | None, reply: ReplyRecord | None) -> None:
        """A chat turn's disclosure and its reply record, in one transaction (one commit per turn)."""

    def discard_reply(self, reply_id: str) -> None:
        """Remove the record of a reply whose model call failed (it never reached the caller)."""

    def disclosures(
        self, user_id: str, *, since: datetime | None, until: datetime | None, limit: int | None
    ) -> builtins.list[Disclosure]:
        """The user's disclosures, newest first."""

    def import_governance(
        self, user_id: str, consent: Consent | None, disclosures: Sequence[Disclosure]
    ) -> None:
        """Restore an export's consent and disclosures (replacing the consent), in one transaction."""

    def expired(self, rules: Sequence[Expiry]) -> dict[str, dict[str, int]]:
        """How many rows each rule matches, per user and kind (``reply`` counts replies); cheap when none."""

    def erase_expired(
        self, user_id: str, ttls: Sequence[tuple[str, float]], *, now: datetime
    ) -> tuple[dict[str, int], Change | None]:
        """Erase the user's rows older than each (kind, Unix time), as `MemoryWrites.delete` erases (text out
        of the history, snapshot dropped) and replies with their feedback; one transaction. Returns how many
        per kind (``reply``, ``feedback``, ``disclosure`` too) and the `Change` (None when no memory went)."""


class PolicyLog(Protocol):
    """The ``strategy="auto"`` bandit's evidence: a ``policy`` row per (user, arm). Pulls are counted by
    `GovernanceLog.record_turn` (a reply with an arm); an explicit rating is credited by
    `ReplyLog.record_feedback` in its transaction, replacing the reply's earlier credit."""

    def policy_rows(self, user_id: str) -> builtins.list[PolicyRow]: ...

    def policy_pool(self) -> builtins.list[PolicyRow]:
        """Every user's evidence summed per arm (``pulls``/``rewards``/``weight``/``reward``)."""
        ...

    def credit_implicit(self, reply_id: str, reward: float, weight: float) -> bool:
        """Credit ``reward`` (in [0, 1]) with ``weight`` to the reply's arm unless it has an explicit rating;
        replaces an earlier implicit credit. False when nothing was credited."""
        ...

    def reset_policy(self, user_id: str) -> None: ...

    def import_policy(self, user_id: str, rows: Sequence[PolicyRow]) -> None:
        """Add imported rows to the user's (an export's ``policy``)."""
        ...


class Store(IndexSource, MemoryReads, MemoryWrites, ReplyLog, GovernanceLog, PolicyLog, Protocol):
    """A whole store engine."""

    @property
    def location(self) -> str:
        """Where the store lives, for messages (a directory, or a DSN without its password)."""

    @property
    def cache_dir(self) -> Path | None:
        """A directory where index files may be cached, or None when the engine has none."""

    def check(self) -> StoreCheck: ...

    def size_bytes(self) -> int:
        """How much storage the store occupies."""

    def close(self) -> None: ...
