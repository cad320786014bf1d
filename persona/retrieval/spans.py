"""Memories' event times in the index, and how much of a time span a memory's event falls in.

Each memory has zero or more event-time windows (resolved from its text at write time, stored with it;
`persona.store.event_rows`) and its ``created_at``. For a span [a, b) the query names
(`persona.retrieval.queryspans`), ranking asks how likely the memory's event lies in it, reading the event
as uniformly spread over a window:

* an event window W: |span ∩ W| / |W| (a day inside the span counts fully, "last year" barely);
* ``created_at`` T: half the chance on the day of T itself (what is said or shown then), half spread over
  the ``told_days`` before it (what is told of). This counts for every memory, also one whose text dates an
  event: what a turn says or shows on the day is an event of that day too.

A memory's share is the best of its windows; `overlap_scores` divides by the best share over the index, so
the memories most surely in the span get 1 and others their fraction of it (graded, not one flat boost).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import numpy.typing as npt

from ..eventtime import resolve
from ..store.base import UserRows

__all__ = ["DAY", "EventWindows", "overlap_scores"]

DAY = 86400.0


@dataclass
class EventWindows:
    """Event-time windows of an index's memories, flattened: window i covers [lo[i], hi[i]) for position
    owner[i]; ``has`` marks positions with at least one."""

    lo: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    hi: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    owner: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    has: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def add(self, start: int, rows: UserRows) -> None:
        """Append the windows of ``rows`` (positions from ``start``): as the store gave them, or resolved
        from the texts when it gave none."""
        stored = rows.events if len(rows.events) == len(rows.seqs) else None
        lo: list[float] = []
        hi: list[float] = []
        owner: list[int] = []
        has = np.zeros(len(rows.seqs), dtype=bool)
        for i in range(len(rows.seqs)):
            windows = _decode(stored[i]) if stored is not None else None
            if windows is None:
                ref = datetime.fromtimestamp(rows.created_ts[i], tz=timezone.utc)
                windows = [(e.start.timestamp(), e.end.timestamp()) for e in resolve(rows.texts[i], ref)]
            for w in windows:
                lo.append(w[0])
                hi.append(w[1])
                owner.append(start + i)
            has[i] = bool(windows)
        self.lo = np.concatenate([self.lo, np.asarray(lo, dtype=np.float64)])
        self.hi = np.concatenate([self.hi, np.asarray(hi, dtype=np.float64)])
        self.owner = np.concatenate([self.owner, np.asarray(owner, dtype=np.int64)])
        self.has = np.concatenate([self.has, has])

    def within(
        self, created_ts: npt.NDArray[np.float64], since: float | None, until: float | None
    ) -> npt.NDArray[np.bool_]:
        """The event-time filter: a window overlapping [since, until), or for a memory without windows a
        ``created_at`` inside it (the same rule as the store's `list`)."""
        a = -np.inf if since is None else since
        b = np.inf if until is None else until
        out = ~self.has & (created_ts >= a) & (created_ts < b)
        hit = (self.hi > a) & (self.lo < b)
        out[self.owner[hit]] = True
        return out


def overlap_scores(
    windows: EventWindows,
    created_ts: npt.NDArray[np.float64],
    spans: list[tuple[float, float]],
    *,
    told_days: float,
) -> npt.NDArray[np.float64] | None:
    """Per position, the share of its event likely in any of ``spans``, divided by the best share over the
    index (so in [0, 1]); None when no memory overlaps any span, or when every memory overlaps equally."""
    n = len(created_ts)
    best = np.zeros(n)
    day = np.floor(created_ts / DAY) * DAY  # the day of created_at, UTC
    told = max(told_days, 1.0) * DAY
    for a, b in spans:
        that_day = np.clip(np.minimum(day + DAY, b) - np.maximum(day, a), 0.0, None) / DAY
        before = np.clip(np.minimum(day, b) - np.maximum(day - told, a), 0.0, None) / told
        created = 0.5 * that_day + 0.5 * before
        np.maximum(best, created, out=best)
        if len(windows.lo):
            width = np.maximum(windows.hi - windows.lo, 1.0)
            share = np.clip(np.minimum(windows.hi, b) - np.maximum(windows.lo, a), 0.0, None) / width
            np.maximum.at(best, windows.owner, share)
    top = float(best.max()) if n else 0.0
    if top <= 0.0:
        return None
    scores = best / top
    return None if bool((scores == scores[0]).all()) else scores


def _decode(value: str | None) -> list[tuple[float, float]] | None:
    if value is None:
        return None
    try:
        return [(float(r[0]), float(r[1])) for r in json.loads(value)]
    except (ValueError, TypeError, IndexError):
        return None
