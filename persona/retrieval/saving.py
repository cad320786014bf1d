"""Snapshot saves written by a background thread, so that a slow write (tens of MB to a PostgreSQL server)
does not hold the index cache's lock, which every search of the process takes.

A save is a cache's best effort and atomic in the store (`IndexSource.save_snapshot` keeps a snapshot only
if the user's ``mutations`` counter still equals the one it was taken at), so one that runs after a later
write or a ``forget_user`` is refused by the store, never kept. Saves run one at a time, in order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["BackgroundSaves"]


class BackgroundSaves:
    """One worker thread, started on the first save; `wait` lets every queued save finish."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._worker: ThreadPoolExecutor | None = None
        self._pending: list[Future[object]] = []

    def submit(self, save: Callable[[], object]) -> None:
        with self._lock:
            if self._worker is None:
                self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="persona-snapshot-save")
            self._pending = [f for f in self._pending if not f.done()]
            self._pending.append(self._worker.submit(_quietly, save))

    def wait(self) -> None:
        """Block until every save submitted so far has run (before the store closes; tests)."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.result()


def _quietly(save: Callable[[], object]) -> object:
    try:
        return save()
    except Exception:  # a cache: a save that fails leaves the user to be built from the rows next time
        return False
