"""The learning queue: learning jobs run on one background thread, in the order they were submitted."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

__all__ = ["LearningQueue"]

log = logging.getLogger("persona")


class LearningQueue:
    """Runs learning jobs on one background thread, in the order submitted.

    ``wait(user_id)`` blocks until that user's pending jobs are done; ``drain()`` until all are, then stops
    the thread (``Persona.close()`` calls it). A job that fails is logged and kept in ``errors``.
    """

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[str, Callable[[], object]] | None] = queue.Queue()
        self._pending: dict[str, int] = {}
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.errors: list[BaseException] = []

    def submit(self, user_id: str, job: Callable[[], object]) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("this learning queue was drained and closed")
            self._pending[user_id] = self._pending.get(user_id, 0) + 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="persona-learning", daemon=True)
                self._thread.start()
        self._jobs.put((user_id, job))

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            user_id, job = item
            try:
                job()
            except BaseException as exc:
                log.exception("persona: a background learning job for user %r failed", user_id)
                self.errors.append(exc)
            finally:
                with self._cond:
                    self._pending[user_id] -= 1
                    if not self._pending[user_id]:
                        del self._pending[user_id]
                    self._cond.notify_all()

    def pending(self, user_id: str | None = None) -> int:
        with self._cond:
            return sum(self._pending.values()) if user_id is None else self._pending.get(user_id, 0)

    def wait(self, user_id: str | None = None, timeout: float | None = None) -> bool:
        """Block until the user's (or everyone's) pending jobs are done; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self.pending(user_id), timeout=timeout)

    def drain(self, timeout: float | None = None) -> bool:
        """Finish every pending job and stop the thread. Idempotent."""
        done = self.wait(None, timeout)
        with self._cond:
            self._closed = True
            thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(None)
            thread.join(timeout)
        return done
