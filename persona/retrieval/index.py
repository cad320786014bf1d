"""One user's in-memory index: dense vectors, BM25, sentence keys, conversations and filter columns.

Each user has their own index, so one user's search cannot reach another user's memories by construction,
and their BM25 statistics are their own. `persona.retrieval.cache` keeps indexes fresh from the store;
`persona.retrieval.ranking` scores them. Values that depend only on the index (conversation centroids,
context-key norms) are computed lazily by the index's own methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ..backends.base import Mask
from ..backends.faiss_index import FlatIndex
from ..store.base import UserRows
from .bm25 import BM25Index
from .conversations import MentionIndex, link_previous
from .preferences import preference_mask
from .sentences import log_lengths, question_shares
from .spans import EventWindows

__all__ = ["Filters", "UserIndex", "decode_vectors"]


@dataclass
class Filters:
    """Restrictions applied before ranking."""

    kind: str | None = None
    metadata: dict[str, Any] | None = None
    since: float | None = None
    until: float | None = None
    include_superseded: bool = False
    only_ids: frozenset[str] | None = None
    """Only these memory ids (a sensitivity filter, resolved from the store's labels)."""
    exclude_ids: frozenset[str] = frozenset()
    """Never these memory ids (the memories a model may not see)."""
    event_since: float | None = None
    event_until: float | None = None
    """Event-time bounds (`persona.store.event_rows.event_filter` says what matches), as timestamps."""


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
    """The position each memory follows in its conversation, or -1 (see persona.retrieval.conversations)."""
    mentions: MentionIndex = field(default_factory=MentionIndex)
    context_norms: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    """Cached |v_i + mix * v_link(i)| for the ranking's context mix (``context_mix``), by position."""
    context_mix: float = float("nan")
    preferences: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    """Which memories state a lasting preference (see persona.retrieval.preferences), by position."""
    keys: FlatIndex | None = None
    """Extra search keys (sentence vectors, see persona.retrieval.sentences), in position order of their owners."""
    key_owner: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    question_share: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    log_length: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    group: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """The conversation each memory belongs to: a chain of links (persona.retrieval.conversations), numbered from 0."""
    group_sums: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 0)))
    """Per conversation, the sum of its memories' vectors over the first ``group_sums_for`` positions (lazy)."""
    group_sums_for: int = 0
    group_units: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    """Cached unit-length conversation centroids (recomputed when ``group_units_for`` != len)."""
    group_units_for: int = -1
    key_starts: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Where each memory's run of keys starts in ``key_owner`` (keys are stored in owner order)."""
    events: EventWindows = field(default_factory=EventWindows)
    """Each memory's event-time windows (`persona.retrieval.spans`)."""

    @property
    def max_seq(self) -> int:
        return self.seqs[-1] if self.seqs else 0

    def __len__(self) -> int:
        return len(self.seqs)

    def append(self, rows: UserRows, vectors: npt.NDArray[np.float32]) -> None:
        """Add rows in seq order (``vectors``: their dense vectors, unless the dense index holds them already)."""
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
        self.preferences = np.concatenate([self.preferences, preference_mask(rows.texts, rows.kinds)])
        self.question_share = np.concatenate([self.question_share, question_shares(rows.texts)])
        self.log_length = np.concatenate([self.log_length, log_lengths(rows.texts)])
        self._append_keys(start, rows.keys)
        self._append_groups(start)
        self.events.add(start, rows)

    def _append_keys(self, start: int, blobs: list[bytes | None]) -> None:
        width = 4 * self.dim
        counts = np.fromiter((len(b) // width if b else 0 for b in blobs), dtype=np.int64, count=len(blobs))
        if not counts.any():
            return
        rows = np.frombuffer(b"".join(b for b in blobs if b), dtype="<f4").reshape(-1, self.dim)
        owners = np.repeat(np.arange(start, start + len(blobs), dtype=np.int64), counts)
        if self.keys is None:
            self.keys = FlatIndex(self.dim)
        self.keys.add(rows)
        self.key_owner = np.concatenate([self.key_owner, owners])
        owner = self.key_owner
        self.key_starts = np.flatnonzero(np.concatenate([[True], owner[1:] != owner[:-1]]))

    def _append_groups(self, start: int) -> None:
        """Extend the conversation numbering. A link always points to the previous position
        (persona.retrieval.conversations.link_previous), so a conversation is a run of linked positions,
        and conversations are numbered in position order. Their vector sums wait for `conversation_centroids`."""
        n = len(self.seqs)
        if n == start:
            return
        count = int(self.group[start - 1]) + 1 if start else 0
        fresh = self.links[start:n] < 0
        groups = count + np.cumsum(fresh, dtype=np.int64) - 1
        if not fresh[0]:  # continues the conversation of the position before this batch
            head = int(np.argmax(fresh)) if fresh.any() else n - start
            groups[:head] = self.group[start - 1]
        self.group = np.concatenate([self.group, groups])

    def _sum_groups(self) -> npt.NDArray[np.float64]:
        """Per conversation, the sum of its memories' vectors, extended over the positions added since the
        last call (float64 sums, one run of positions per conversation)."""
        n, start = len(self), self.group_sums_for
        if start < n:
            count = int(self.group[n - 1]) + 1
            groups = self.group[start:n]
            runs = np.flatnonzero(np.concatenate([[True], groups[1:] != groups[:-1]]))
            run_sums = np.add.reduceat(self.dense.vectors()[start:n], runs, axis=0, dtype=np.float64)
            sums = np.zeros((count, self.dim))
            done = len(self.group_sums)
            if done:
                sums[:done] = self.group_sums
            sums[groups[runs]] += run_sums  # one run per conversation: the indices are distinct
            self.group_sums = sums
            self.group_sums_for = n
        return self.group_sums

    def context_norms_for(self, mix: float) -> npt.NDArray[np.float32]:
        """|v_i + mix * v_link(i)| for every position (1 where unlinked), cached until ``mix`` changes."""
        n = len(self)
        if self.context_mix != mix:
            self.context_norms = np.zeros(0, dtype=np.float32)
            self.context_mix = mix
        done = len(self.context_norms)
        if done < n:
            vectors = self.dense.vectors()
            links = self.links[done:n]
            linked = np.flatnonzero(links >= 0)  # only these have a pair (the others get 1)
            norms = np.ones(n - done, dtype=np.float32)
            pairs = vectors[done + linked] + mix * vectors[links[linked]]
            norms[linked] = np.maximum(np.linalg.norm(pairs, axis=1).astype(np.float32), 1e-6)
            self.context_norms = np.concatenate([self.context_norms, norms])
        return self.context_norms

    def conversation_centroids(self) -> npt.NDArray[np.float32] | None:
        """Unit-length centroid of each conversation (row = ``group``), or None when every memory is alone
        in its conversation (then each is its own centroid). Cached until the index grows."""
        n = len(self)
        if n == 0 or int(self.group[n - 1]) + 1 == n:
            return None
        if self.group_units_for != n:
            sums = self._sum_groups()
            norms = self.group_norms()[:, None]
            self.group_units = np.ascontiguousarray(sums / norms, dtype=np.float32)
            self.group_units_for = n
        return self.group_units

    def group_norms(self) -> npt.NDArray[np.float64]:
        """Per conversation, the length of its vectors' sum (at least 1e-9): what scales its centroid."""
        norms: npt.NDArray[np.float64] = np.maximum(np.linalg.norm(self._sum_groups(), axis=1), 1e-9)
        return norms

    def followers(self) -> npt.NDArray[np.int64]:
        """Per position, the memory that follows it in its conversation (the inverse of ``links``), or -1."""
        follower = np.full(len(self), -1, dtype=np.int64)
        linked = np.flatnonzero(self.links >= 0)
        follower[self.links[linked]] = linked
        return follower

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
        if filters.only_ids is not None:
            only = filters.only_ids
            mask &= np.fromiter((i in only for i in self.ids), dtype=bool, count=len(self.ids))
        if filters.exclude_ids:
            out = filters.exclude_ids
            mask &= np.fromiter((i not in out for i in self.ids), dtype=bool, count=len(self.ids))
        if filters.event_since is not None or filters.event_until is not None:
            mask &= self.events.within(self.created_ts, filters.event_since, filters.event_until)
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


def decode_vectors(blobs: list[bytes | None], dim: int) -> npt.NDArray[np.float32]:
    if any(b is None for b in blobs):
        raise ValueError("a memory has no embedding")
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(b for b in blobs if b is not None), dtype="<f4").reshape(len(blobs), dim)


def joined_rows(head: UserRows, tail: UserRows) -> UserRows:
    """``head`` then ``tail`` (consecutive rows of one user) as one `UserRows`."""
    if not head.seqs:
        return tail
    return UserRows(
        head.seqs + tail.seqs,
        head.ids + tail.ids,
        head.texts + tail.texts,
        head.kinds + tail.kinds,
        head.created_ts + tail.created_ts,
        head.metadata + tail.metadata,
        head.current + tail.current,
        head.embeddings + tail.embeddings,
        head.keys + tail.keys,
        # the store's event windows only when both parts carry them (an empty tail carries none: it has no rows)
        head.events + tail.events if _has_events(head) and _has_events(tail) else [],
    )


def _has_events(rows: UserRows) -> bool:
    return len(rows.events) == len(rows.seqs)
