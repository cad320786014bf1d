"""A flat inner-product FAISS index per user (exact search; cosine on normalised vectors).

Saved with ``faiss.write_index`` (no pickle) through a temporary file and a rename, so a crash never
leaves a half-written index in place; a missing or unreadable file is simply rebuilt by the caller.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .base import Vectors

__all__ = ["FlatIndex", "inner_products"]


def _faiss() -> Any:
    import faiss  # lazy: faiss is heavy and not needed to inspect a store

    return faiss


@contextmanager
def _single_threaded(faiss: Any) -> Iterator[None]:
    """Run FAISS with one OpenMP thread for the duration of the block, then restore the thread count.

    One query at a time over ~10^4 vectors: OpenMP threads cost more than they bring (measured 1.0 ms with
    1 thread vs 13.6 ms with 2 on a busy 2-core machine, 10k x 384, k=100). Scoped, never left in place:
    once torch is loaded (it loads its libgomp globally) FAISS shares torch's OpenMP runtime, and
    ``omp_set_num_threads`` sets the calling thread's count in it, so a lasting ``omp_set_num_threads(1)``
    also cut torch's intra-op threads to one and slowed the sentence-transformers embedder. Saving and
    restoring the count costs about a microsecond.
    """
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def inner_products(matrix: npt.NDArray[np.float32], query: Vectors) -> npt.NDArray[np.float32]:
    """``matrix @ query`` with FAISS's single-threaded kernel (see `FlatIndex.scores` for why)."""
    n, dim = matrix.shape if matrix.ndim == 2 else (0, 0)
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    faiss = _faiss()
    xb = np.ascontiguousarray(matrix, dtype=np.float32)
    q = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
    out = np.empty(n, dtype=np.float32)
    with _single_threaded(faiss):
        faiss.fvec_inner_products_ny(faiss.swig_ptr(out), faiss.swig_ptr(q), faiss.swig_ptr(xb), dim, n)
    return out


class FlatIndex:
    """Exact inner-product search over positions 0..n-1."""

    def __init__(self, dim: int, index: Any = None) -> None:
        self.dim = dim
        faiss = _faiss()
        self._index = index if index is not None else faiss.IndexFlatIP(dim)
        self._rows: npt.NDArray[np.float32] | None = None
        """Vectors searched in place (`over`) until the first ``add`` or ``save`` moves them into FAISS."""

    @classmethod
    def over(cls, rows: npt.NDArray[np.float32]) -> FlatIndex:
        """An index of the rows of a C-contiguous float32 array (n x dim), searched in place: no copy. Bulk
        loads use it: a copy into FAISS's own storage (4 kB pages) costs about as much as reading the array."""
        if rows.ndim != 2 or rows.dtype != np.float32 or not rows.flags.c_contiguous:
            raise ValueError("FlatIndex.over needs a C-contiguous float32 array of shape (n, dim)")
        index = cls(int(rows.shape[1]))
        view = rows.view()
        view.flags.writeable = False
        index._rows = view
        return index

    def __len__(self) -> int:
        return len(self._rows) if self._rows is not None else int(self._index.ntotal)

    def _own(self) -> None:
        """Move vectors searched in place into FAISS (before it changes or saves them)."""
        if self._rows is not None:
            rows, self._rows = self._rows, None
            if len(rows):
                self._index.add(np.ascontiguousarray(rows))

    def add(self, vectors: Vectors) -> None:
        if len(vectors):
            self._own()
            self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def scores(self, query: Vectors) -> npt.NDArray[np.float32]:
        """The inner product of the query with every stored vector, by position (no sorting)."""
        n = len(self)
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        # FAISS's single-threaded SIMD kernel: numpy's BLAS mat-vec spreads over threads and slows down
        # several-fold when the machine is busy (measured 1.7-3.0 ms vs 4-18 ms for 10k x 384 on 2 cores).
        return inner_products(self.vectors(), query)

    def vectors(self) -> npt.NDArray[np.float32]:
        """A read-only view of the stored vectors (n x dim); valid until the next ``add``."""
        if self._rows is not None:
            return self._rows
        n = len(self)
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        flat = _faiss().rev_swig_ptr(self._index.get_xb(), n * self.dim)
        view: npt.NDArray[np.float32] = np.asarray(flat).reshape(n, self.dim)
        view.flags.writeable = False
        return view

    def save(self, path: Path) -> None:
        """Write the index to ``path`` atomically; raises OSError on any failure (FAISS's included)."""
        self._own()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        os.close(fd)
        try:
            try:
                _faiss().write_index(self._index, tmp)
            except RuntimeError as exc:  # FAISS reports a failed write (disk full, file too large) this way
                raise OSError(f"cannot write the index {path}: {exc}") from exc
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def load(cls, path: Path, dim: int) -> FlatIndex:
        """Read a saved index; raises ValueError when it is unreadable or of another dimension."""
        try:
            index = _faiss().read_index(str(path))
        except Exception as exc:  # faiss raises RuntimeError for truncated files
            raise ValueError(f"unreadable index {path}: {exc}") from exc
        if int(index.d) != dim:
            raise ValueError(f"index {path} has dimension {index.d}, expected {dim}")
        return cls(dim, index)
