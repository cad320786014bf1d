"""A user's whole derived index but its vectors, saved in the store so a cold index need not recompute it.

Building a user's index from the store spends its time on per-row work: reading every row, parsing its
metadata and event times, tokenizing its text for BM25, finding its conversation links and the metadata
values a query can mention. After a cold build of a large user the index cache saves all of it as a
snapshot in the store (`persona.store.base.Snapshot`, arrays in numpy's ``.npz`` format, no pickle): the
rows' seq, created_at and currency, their ids, kinds and metadata (one JSON text), BM25 postings and
lengths, the per-text features, links, conversations, mentions, event windows and which memory owns each
sentence key. The next cold build in any process restores the index from it, takes the vectors in bulk
(the index files, or one read of the vector columns) and reads only the rows added since.

A snapshot is a cache: the store erases it with every write that changes or removes a row of the user (in
the same transaction, so it never outlives deleted text), with ``forget_user`` and with re-embedding; it is
saved only while the user's ``mutations`` counter still matches the index it was taken from. So a snapshot
whose ``mutations`` equals the user's holds exactly the user's rows up to its ``max_seq``.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import numpy.typing as npt

from ..backends.faiss_index import FlatIndex
from .bm25 import BM25Index
from .conversations import MentionIndex
from .index import UserIndex
from .spans import EventWindows

__all__ = ["MIN_ROWS", "decode", "encode", "has_geometry", "restore"]

MIN_ROWS = 256
"""Users with fewer rows build fast enough from the rows: no snapshot."""
FORMAT = 2
_ROWS = (
    "seqs", "created_ts", "current", "preferences", "question_share", "log_length", "links", "group", "lengths",
    "event_has",
)  # fmt: skip
_KEYS = frozenset(
    (
        "terms", "starts", "postings", "format", "columns", "key_owner", "mention_values", "mention_starts",
        "mention_positions", "event_lo", "event_hi", "event_owner", *_ROWS,
    )
)  # fmt: skip
_GEOMETRY = frozenset(("geo_sq", "geo_pair", "geo_group_norms", "geo_last", "geo_last_sum"))
"""Optional (`encode`'s ``geometry``): per row |v|^2 and v . v_link (0 unlinked), float64, and the length of
each conversation's vector sum (none when every memory is alone in its conversation), the last row's vector
and its conversation's vector sum (rows added after the snapshot continue it): what a store that
scores the vectors itself (`persona.store.base.SnapshotScoring`) leaves to be derived (`persona.retrieval.coldstart`)."""
_SMALL = ("postings", "lengths", "links", "group", "key_owner", "mention_positions", "event_owner")
"""Integer arrays saved as int32 (one user's positions and counts fit), restored as int64."""


def encode(index: UserIndex, *, geometry: bool = False) -> bytes:
    """A snapshot of every row of ``index`` (a fresh build: every row alive); with ``geometry``, what ranking
    derives from the vectors beyond their inner products with the query (`_GEOMETRY`)."""
    arrays: dict[str, npt.NDArray[Any]] = index.bm25.arrays()
    if geometry:
        arrays.update(_geometry(index))
    arrays["seqs"] = np.asarray(index.seqs, dtype=np.int64)
    arrays["created_ts"] = np.asarray(index.created_ts, dtype=np.float64)
    arrays["current"] = np.asarray(index.current, dtype=bool)
    columns = {"ids": index.ids, "kinds": index.kinds, "metadata": index.metadata}
    arrays["columns"] = np.frombuffer(json.dumps(columns).encode("utf-8"), dtype=np.uint8)
    arrays["preferences"] = np.asarray(index.preferences, dtype=bool)
    arrays["question_share"] = np.asarray(index.question_share, dtype=np.float32)
    arrays["log_length"] = np.asarray(index.log_length, dtype=np.float32)
    arrays["links"] = np.asarray(index.links, dtype=np.int64)
    arrays["group"] = np.asarray(index.group, dtype=np.int64)
    arrays["key_owner"] = np.asarray(index.key_owner, dtype=np.int64)
    values, starts, positions = index.mentions.arrays()
    arrays["mention_values"] = np.asarray(values, dtype=str)
    arrays["mention_starts"] = starts
    arrays["mention_positions"] = positions
    arrays["event_lo"], arrays["event_hi"] = index.events.lo, index.events.hi
    arrays["event_owner"], arrays["event_has"] = index.events.owner, index.events.has
    arrays["format"] = np.asarray([FORMAT], dtype=np.int64)
    for name in _SMALL:
        arrays[name] = np.asarray(arrays[name], dtype=np.int32)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def decode(data: bytes, count: int) -> dict[str, npt.NDArray[Any]] | None:
    """The arrays of a snapshot of ``count`` rows, or None when it is unreadable or does not fit."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as loaded:
            arrays = {name: loaded[name] for name in loaded.files}
    except (OSError, ValueError, EOFError, KeyError):
        return None
    for name in _SMALL:
        if name in arrays:
            arrays[name] = np.asarray(arrays[name], dtype=np.int64)
    if set(arrays) not in (_KEYS, _KEYS | _GEOMETRY) or int(arrays["format"][0]) != FORMAT:
        return None
    if "geo_sq" in arrays and not (len(arrays["geo_sq"]) == len(arrays["geo_pair"]) == count):
        return None
    if any(len(arrays[name]) != count for name in _ROWS):
        return None
    if len(arrays["starts"]) != len(arrays["terms"]) + 1 or int(arrays["starts"][-1]) != len(
        arrays["postings"]
    ):
        return None
    if len(arrays["mention_starts"]) != len(arrays["mention_values"]) + 1:
        return None
    if int(arrays["mention_starts"][-1]) != len(arrays["mention_positions"]):
        return None
    if not len(arrays["event_lo"]) == len(arrays["event_hi"]) == len(arrays["event_owner"]):
        return None
    return arrays


def has_geometry(arrays: dict[str, npt.NDArray[Any]]) -> bool:
    """Whether the snapshot holds `encode`'s ``geometry``."""
    return "geo_sq" in arrays


def _geometry(index: UserIndex) -> dict[str, npt.NDArray[Any]]:
    vectors = index.dense.vectors().astype(np.float64)
    links = index.links
    linked = np.flatnonzero(links >= 0)
    pair = np.zeros(len(index))
    pair[linked] = np.einsum("ij,ij->i", vectors[linked], vectors[links[linked]])
    alone = int(index.group[-1]) + 1 == len(index) if len(index) else True
    return {
        "geo_sq": np.einsum("ij,ij->i", vectors, vectors),
        "geo_pair": pair,
        "geo_group_norms": np.zeros(0) if alone else index.group_norms(),
        "geo_last": np.asarray(vectors[-1], dtype=np.float32),
        "geo_last_sum": vectors[index.group == index.group[-1]].sum(axis=0),
    }


def restore(
    arrays: dict[str, npt.NDArray[Any]],
    *,
    user_id: str,
    dense: FlatIndex,
    keys: FlatIndex | None,
    version: int,
    mutations: int,
    vectors: bool = True,
) -> UserIndex | None:
    """The index the snapshot was taken of, with ``dense`` (its rows' vectors) and ``keys`` (their sentence
    keys, in owner order); None when the vectors do not fit it or its metadata does not parse. Without
    ``vectors``, an index for one ranking whose vector scores come from elsewhere (`persona.retrieval.coldstart`):
    ``dense`` and ``keys`` empty, the keys' owners kept."""
    n = len(arrays["seqs"])
    key_owner = arrays["key_owner"]
    if vectors and (len(dense) != n or (len(keys) if keys is not None else 0) != len(key_owner)):
        return None
    try:
        columns = json.loads(arrays["columns"].tobytes().decode("utf-8"))
        ids, kinds, metadata = columns["ids"], columns["kinds"], columns["metadata"]
    except (ValueError, KeyError, TypeError):  # a UnicodeDecodeError too
        return None
    if not all(isinstance(c, list) and len(c) == n for c in (ids, kinds, metadata)):
        return None
    seqs = [int(s) for s in arrays["seqs"].tolist()]
    index = UserIndex(user_id=user_id, dim=dense.dim, dense=dense, version=version, mutations=mutations)
    index.bm25 = BM25Index.from_arrays(arrays)
    index.seqs = seqs
    index.ids = [str(i) for i in ids]
    index.kinds = [str(k) for k in kinds]
    index.metadata = metadata
    index.created_ts = np.asarray(arrays["created_ts"], dtype=np.float64)
    index.current = np.asarray(arrays["current"], dtype=bool)
    index.alive = np.ones(n, dtype=bool)
    index.position = {seq: i for i, seq in enumerate(seqs)}
    index.links = np.asarray(arrays["links"], dtype=np.int64)
    index.group = np.asarray(arrays["group"], dtype=np.int64)
    index.preferences = np.asarray(arrays["preferences"], dtype=bool)
    index.question_share = np.asarray(arrays["question_share"], dtype=np.float32)
    index.log_length = np.asarray(arrays["log_length"], dtype=np.float32)
    index.mentions = MentionIndex.from_arrays(
        arrays["mention_values"].tolist(), arrays["mention_starts"], arrays["mention_positions"]
    )
    index.events = EventWindows(
        np.asarray(arrays["event_lo"], dtype=np.float64),
        np.asarray(arrays["event_hi"], dtype=np.float64),
        np.asarray(arrays["event_owner"], dtype=np.int64),
        np.asarray(arrays["event_has"], dtype=bool),
    )
    if (keys is not None or not vectors) and len(key_owner):
        index.keys = keys
        index.key_owner = key_owner
        index.key_starts = np.flatnonzero(np.concatenate([[True], key_owner[1:] != key_owner[:-1]]))
    return index
