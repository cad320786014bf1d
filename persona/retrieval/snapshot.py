"""What a user's texts give their index, saved in the store so a cold index need not recompute it.

Building a user's index from the store spends most of its time on the texts: BM25 tokens and statistics,
which memories state a preference, their question shares and lengths. After a cold build of a large user
the index cache saves these as a snapshot in the store (`persona.store.base.Snapshot`, arrays in numpy's
``.npz`` format, no pickle), keyed by the user's ``mutations`` counter and the rows it covers. The next
cold build in any process restores them for those rows and computes only the rows added since.

A snapshot is a cache: the store erases it with every write that changes or removes a row of the user (in
the same transaction, so it never outlives deleted text), with ``forget_user`` and with re-embedding; it is
saved only while the user's counters still match the index it was taken from.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt

from .index import UserIndex

__all__ = ["MIN_ROWS", "decode", "encode"]

MIN_ROWS = 256
"""Users with fewer rows build fast enough from the texts: no snapshot."""
FORMAT = 1
_FEATURES = ("preferences", "question_share", "log_length")
_KEYS = frozenset(("terms", "starts", "postings", "lengths", "format", *_FEATURES))


def encode(index: UserIndex) -> bytes:
    """A snapshot of every row of ``index``."""
    arrays: dict[str, npt.NDArray[Any]] = index.bm25.arrays()
    arrays["preferences"] = np.asarray(index.preferences, dtype=bool)
    arrays["question_share"] = np.asarray(index.question_share, dtype=np.float32)
    arrays["log_length"] = np.asarray(index.log_length, dtype=np.float32)
    arrays["format"] = np.asarray([FORMAT], dtype=np.int64)
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
    if set(arrays) != _KEYS or int(arrays["format"][0]) != FORMAT:
        return None
    if any(len(arrays[name]) != count for name in ("lengths", *_FEATURES)):
        return None
    if len(arrays["starts"]) != len(arrays["terms"]) + 1 or int(arrays["starts"][-1]) != len(arrays["postings"]):
        return None
    return arrays
