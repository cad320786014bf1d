"""In-memory per-user indexes (dense + lexical + filter columns), cached and kept fresh from SQLite.

Each user has their own index, so one user's search cannot reach another user's memories by
construction, and their BM25 statistics are their own. A user's index is rebuilt from SQLite whenever
the store says it changed in a way we cannot patch (another process updated or deleted something);
plain additions are appended. The dense part is persisted under ``<store>/index/`` as a cache: a
missing, stale or unreadable file is rebuilt, never an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .backends.base import Mask
from .backends.faiss_index import FlatIndex
from .lexical import BM25Index
from .neighbours import MentionIndex, link_previous
from .salience import stated_preferences
from .segments import log_lengths, question_shares
from .store import SQLiteStore, UserRows

__all__ = ["Filters", "IndexCache", "UserIndex"]


@dataclass
class Filters:
    """Restrictions applied before ranking."""

    kind: str | None = None
    metadata: dict[str, Any] | None = None
    since: float | None = None
    until: float | None = None
    include_superseded: bool = False


@dataclass
class UserIndex:
    user_id: str
    dim: int
    dense: FlatIndex
    bm25: BM25Index = field(default_factory=BM25Index)
    seqs: list[int] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    metadata: list[dict[str, Any]] = field(default_factory=list)
    created_ts: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    current: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    alive: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    version: int = 0
    mutations: int = 0
    position: dict[int, int] = field(default_factory=dict)
    links: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """The position each memory follows in its conversation, or -1 (see persona.neighbours)."""
    mentions: MentionIndex = field(default_factory=MentionIndex)
    context_norms: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    """Cached |v_i + mix * v_link(i)| for the ranking's context mix (``context_mix``), by position."""
    context_mix: float = float("nan")
    preferences: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    """Which memories state a lasting preference (see persona.salience), by position."""
    keys: FlatIndex | None = None
    """Extra search keys (sentence vectors, see persona.segments), in position order of their owners."""
    key_owner: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    question_share: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    log_length: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    group: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """The conversation each memory belongs to: a chain of links (persona.neighbours), numbered from 0."""
    group_sums: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)))
    """Per conversation, the sum of its memories' vectors."""
    group_units: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    """Cached unit-length conversation centroids (recomputed when ``group_units_for`` != len)."""
    group_units_for: int = -1
    key_starts: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Where each memory's run of keys starts in ``key_owner`` (keys are stored in owner order)."""

    @property
    def max_seq(self) -> int:
        return self.seqs[-1] if self.seqs else 0

    def __len__(self) -> int:
        return len(self.seqs)

    def append(self, rows: UserRows, vectors: npt.NDArray[np.float32]) -> None:
        start = len(self.seqs)
        self.dense.add(vectors)
        self.bm25.add(rows.texts)
        self.seqs.extend(rows.seqs)
        self.ids.extend(rows.ids)
        self.kinds.extend(rows.kinds)
        self.metadata.extend(rows.metadata)
        self.created_ts = np.concatenate([self.created_ts, np.asarray(rows.created_ts, dtype=np.float64)])
        self.current = np.concatenate([self.current, np.asarray(rows.current, dtype=bool)])
        self.alive = np.concatenate([self.alive, np.ones(len(rows.seqs), dtype=bool)])
        for offset, seq in enumerate(rows.seqs):
            self.position[seq] = start + offset
        self.links = np.concatenate(
            [self.links, link_previous(self.kinds, self.metadata, self.created_ts, start)]
        )
        self.mentions.add(start, rows.metadata)
        self.preferences = np.concatenate([self.preferences, stated_preferences(rows.texts, rows.kinds)])
        self.question_share = np.concatenate([self.question_share, question_shares(rows.texts)])
        self.log_length = np.concatenate([self.log_length, log_lengths(rows.texts)])
        self._append_keys(start, rows.keys)
        self._append_groups(start)

    def _append_keys(self, start: int, blobs: list[bytes | None]) -> None:
        owners: list[int] = []
        parts: list[npt.NDArray[np.float32]] = []
        for offset, blob in enumerate(blobs):
            if not blob:
                continue
            rows = np.frombuffer(blob, dtype="<f4").reshape(-1, self.dim)
            owners.extend([start + offset] * len(rows))
            parts.append(rows)
        if not parts:
            return
        if self.keys is None:
            self.keys = FlatIndex(self.dim)
        self.keys.add(np.concatenate(parts))
        self.key_owner = np.concatenate([self.key_owner, np.asarray(owners, dtype=np.int64)])
        owner = self.key_owner
        self.key_starts = np.flatnonzero(np.concatenate([[True], owner[1:] != owner[:-1]]))

    def _append_groups(self, start: int) -> None:
        """Extend the conversation numbering and sums. A link always points to the previous position
        (persona.neighbours.link_previous), so a conversation is a run of linked positions."""
        n = len(self.seqs)
        if n == start:
            return
        count = len(self.group_sums)
        fresh = self.links[start:n] < 0
        groups = count + np.cumsum(fresh, dtype=np.int64) - 1
        if not fresh[0]:  # continues the conversation of the position before this batch
            head = int(np.argmax(fresh)) if fresh.any() else n - start
            groups[:head] = self.group[start - 1]
        vectors = np.asarray(self.dense.vectors()[start:n], dtype=np.float64)
        runs = np.flatnonzero(np.concatenate([[True], groups[1:] != groups[:-1]]))
        run_sums = vectors if len(runs) == len(groups) else np.add.reduceat(vectors, runs, axis=0)
        sums = np.zeros((count + int(fresh.sum()), self.dim))
        if count:
            sums[:count] = self.group_sums
        np.add.at(sums, groups[runs], run_sums)
        self.group_sums = sums
        self.group = np.concatenate([self.group, groups])

    def mask(self, filters: Filters) -> Mask | None:
        """Which positions may be returned; None means all of them."""
        mask = self.alive.copy()
        if not filters.include_superseded:
            mask &= self.current
        if filters.kind is not None:
            mask &= np.fromiter((k == filters.kind for k in self.kinds), dtype=bool, count=len(self.kinds))
        if filters.since is not None:
            mask &= self.created_ts >= filters.since
        if filters.until is not None:
            mask &= self.created_ts < filters.until
        if filters.metadata:
            wanted = filters.metadata
            mask &= np.fromiter(
                (_matches(meta, wanted) for meta in self.metadata), dtype=bool, count=len(self.metadata)
            )
        return None if bool(mask.all()) else mask


def _matches(meta: dict[str, Any], wanted: dict[str, Any]) -> bool:
    for key, value in wanted.items():
        have = meta.get(key, _MISSING)
        if isinstance(value, list):
            if have not in value:
                return False
        elif have != value:
            return False
    return True


_MISSING = object()


def _decode(blobs: list[bytes | None], dim: int) -> npt.NDArray[np.float32]:
    if any(b is None for b in blobs):
        raise ValueError("a memory has no embedding")
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(b for b in blobs if b is not None), dtype="<f4").reshape(len(blobs), dim)


class IndexCache:
    """Keeps up to ``capacity`` users' indexes in memory and in sync with the store."""

    def __init__(self, store: SQLiteStore, directory: Path, *, capacity: int = 64) -> None:
        self.store = store
        self.directory = directory
        self.capacity = capacity
        self._lock = threading.RLock()
        self._users: OrderedDict[str, UserIndex] = OrderedDict()

    def file_for(self, user_id: str) -> Path:
        digest = hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:32]
        return self.directory / f"{digest}.faiss"

    def get(self, user_id: str, dim: int, embedder_id: str) -> UserIndex:
        """The user's index, up to date with the store (read the state before the rows: never stale)."""
        with self._lock:
            version, mutations = self.store.user_state(user_id)
            cached = self._users.get(user_id)
            if cached is not None and cached.dim == dim:
                if (cached.version, cached.mutations) == (version, mutations):
                    self._users.move_to_end(user_id)
                    return cached
                if cached.mutations == mutations:
                    rows = self.store.user_rows(user_id, after_seq=cached.max_seq)
                    cached.append(rows, _decode(rows.embeddings, dim))
                    cached.version = version
                    self._users.move_to_end(user_id)
                    return cached
            index = self._build(user_id, dim, embedder_id, version, mutations)
            self._users[user_id] = index
            self._users.move_to_end(user_id)
            while len(self._users) > self.capacity:
                self._users.popitem(last=False)
            return index

    def _build(self, user_id: str, dim: int, embedder_id: str, version: int, mutations: int) -> UserIndex:
        path = self.file_for(user_id)
        rows = self.store.user_rows(user_id, embeddings=False)
        dense = self._load_file(path, dim, embedder_id, mutations, rows.seqs)
        index = UserIndex(
            user_id=user_id, dim=dim, dense=dense or FlatIndex(dim), version=version, mutations=mutations
        )
        covered = len(dense) if dense is not None else 0
        if covered:
            head = UserRows(*(getattr(rows, f)[:covered] for f in _ROW_FIELDS))
            index.append(head, np.zeros((0, dim), dtype=np.float32))
        tail_rows = self.store.user_rows(user_id, after_seq=index.max_seq)
        index.append(tail_rows, _decode(tail_rows.embeddings, dim))
        if len(index) and (dense is None or len(tail_rows.seqs) > max(64, covered // 10)):
            self._save_file(index, embedder_id)
        return index

    def _load_file(
        self, path: Path, dim: int, embedder_id: str, mutations: int, seqs: list[int]
    ) -> FlatIndex | None:
        sidecar = path.with_suffix(".json")
        try:
            info = json.loads(sidecar.read_text("utf-8"))
            if info.get("embedder_id") != embedder_id or info.get("mutations") != mutations:
                return None
            count = int(info["count"])
            if count > len(seqs) or (count and seqs[count - 1] != int(info["max_seq"])):
                return None
            dense = FlatIndex.load(path, dim)
            if len(dense) != count:
                return None
            return dense
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def file_is_fresh(self, user_id: str) -> bool:
        """Whether the user's index file exists, reads, and matches the store (users under 2 rows need none)."""
        rows = self.store.user_rows(user_id, embeddings=False)
        recorded = self.store.recorded_embedder()
        if recorded is None or len(rows.seqs) == 0:
            return True
        _version, mutations = self.store.user_state(user_id)
        dense = self._load_file(self.file_for(user_id), recorded[1], recorded[0], mutations, rows.seqs)
        return dense is not None and len(dense) == len(rows.seqs)

    def _save_file(self, index: UserIndex, embedder_id: str) -> None:
        if not bool(index.alive.all()):
            return  # positions no longer match the store's rows; the next full build writes a clean file
        path = self.file_for(index.user_id)
        try:
            index.dense.save(path)
            sidecar = path.with_suffix(".json")
            tmp = sidecar.with_suffix(".json.tmp")
            tmp.write_text(
                json.dumps(
                    {
                        "embedder_id": embedder_id,
                        "mutations": index.mutations,
                        "count": len(index.dense),
                        "max_seq": index.seqs[len(index.dense) - 1],
                    }
                ),
                "utf-8",
            )
            os.replace(tmp, sidecar)
        except OSError:
            pass  # a cache: failing to write it costs a rebuild later, nothing else

    # -- patches after this process's own writes --------------------------------------------------------------

    def patched(self, user_id: str, seq: int, *, alive: bool | None = None, **fields: Any) -> None:
        """Apply one of our own updates in place, or drop the user's index when we cannot be sure."""
        with self._lock:
            index = self._users.get(user_id)
            if index is None:
                return
            version, mutations = self.store.user_state(user_id)
            position = index.position.get(seq)
            if position is None or (version, mutations) != (index.version + 1, index.mutations + 1):
                self._users.pop(user_id, None)
                return
            if alive is not None:
                index.alive[position] = alive
            if "kind" in fields or "metadata" in fields:
                self._users.pop(user_id, None)  # links and mentions derive from them: rebuild
                return
            if "current" in fields:
                index.current[position] = fields["current"]
            index.version, index.mutations = version, mutations

    def drop(self, user_id: str | None = None, *, files: bool = False) -> None:
        with self._lock:
            if user_id is None:
                self._users.clear()
                if files and self.directory.exists():
                    for p in self.directory.iterdir():
                        p.unlink(missing_ok=True)
                return
            self._users.pop(user_id, None)
            if files:
                path = self.file_for(user_id)
                path.unlink(missing_ok=True)
                path.with_suffix(".json").unlink(missing_ok=True)

    def state(self) -> dict[str, Any]:
        with self._lock:
            files = sorted(self.directory.glob("*.faiss")) if self.directory.exists() else []
            return {"cached_users": len(self._users), "index_files": len(files)}


_ROW_FIELDS = ("seqs", "ids", "texts", "kinds", "created_ts", "metadata", "current", "embeddings", "keys")
