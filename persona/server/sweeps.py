"""The retention sweep on a schedule: every ``config.sweep_minutes``, `Persona.sweep` in a worker thread.

The app's lifespan starts `run_sweeps` after the store opened (opening swept once already) and cancels it
at shutdown, before the store closes: a sweep in progress finishes first (the worker thread is not
abandoned). A sweep that fails is logged and tried again at the next interval; requests are not affected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from anyio import to_thread

from persona import Persona, PersonaError

__all__ = ["run_sweeps", "stop_sweeps"]

log = logging.getLogger("persona.server")


async def run_sweeps(persona: Persona, minutes: float) -> None:
    """Sweep every ``minutes`` until cancelled."""
    while True:
        await asyncio.sleep(minutes * 60.0)
        try:
            result = await to_thread.run_sync(persona.sweep)
        except PersonaError as exc:
            log.warning("retention sweep failed (%s); next try in %g minutes", exc, minutes)
            continue
        if result.total:
            log.info("retention sweep erased %d records (%s) in %.3f s", result.total, result.by_kind(), result.seconds)


async def stop_sweeps(task: asyncio.Task[None] | None) -> None:
    """Cancel the schedule and wait for a sweep in progress to finish."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
