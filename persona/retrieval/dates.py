"""Absolute dates a query names ("on 3 June, 2023", "October 13, 2023", "in May 2023", "in 2022"), as
time windows that ranking can favour memories dated in (see `persona.retrieval.ranking`).

Only explicit calendar dates are read (English month names, day-month or month-day order, a four-digit
year); relative phrases ("last May", "two weeks ago") need a reference time the query does not carry and
are left alone. A month without a year ("in June") matches that month of any year.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import numpy.typing as npt

__all__ = ["DateWindow", "dated_near", "query_dates"]

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_PATTERNS = [
    re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}\b", re.IGNORECASE),
    re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.IGNORECASE),
    re.compile(rf"\b{_MONTH},?\s+{_YEAR}\b", re.IGNORECASE),
    re.compile(rf"\b(?:in|of|during|since|before|after)\s+{_MONTH}(?!\s*\d)\b", re.IGNORECASE),
    re.compile(rf"\b(?:in|of|during)\s+{_YEAR}\b", re.IGNORECASE),
]

_DAY_SECONDS = 86400.0


@dataclass(frozen=True)
class DateWindow:
    """A calendar span named by a query: a day, a month (of one year, or of every year) or a year."""

    year: int | None
    month: int | None
    day: int | None

    def bounds(self) -> tuple[float, float] | None:
        """[start, end) as UTC timestamps, or None for a month of every year."""
        if self.year is None:
            return None
        if self.month is None:
            start = datetime(self.year, 1, 1, tzinfo=timezone.utc)
            end = datetime(self.year + 1, 1, 1, tzinfo=timezone.utc)
        elif self.day is None:
            start = datetime(self.year, self.month, 1, tzinfo=timezone.utc)
            end = datetime(self.year + self.month // 12, self.month % 12 + 1, 1, tzinfo=timezone.utc)
        else:
            start = datetime(self.year, self.month, self.day, tzinfo=timezone.utc)
            return start.timestamp(), start.timestamp() + _DAY_SECONDS
        return start.timestamp(), end.timestamp()


def query_dates(query: str) -> list[DateWindow]:
    """The calendar spans a query names, most specific reading of each phrase first, without overlaps."""
    found: list[DateWindow] = []
    taken: list[tuple[int, int]] = []
    for pattern in _PATTERNS:
        for m in pattern.finditer(query):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            parts = m.groupdict()
            month = _MONTHS.get((parts.get("month") or "").lower())
            day = int(parts["day"]) if parts.get("day") else None
            year = int(parts["year"]) if parts.get("year") else None
            if month and day is not None and year and not 1 <= day <= calendar.monthrange(year, month)[1]:
                continue
            taken.append((m.start(), m.end()))
            found.append(DateWindow(year=year, month=month, day=day))
    return found


def dated_near(
    windows: list[DateWindow], created_ts: npt.NDArray[np.float64], *, before_days: float, after_days: float
) -> npt.NDArray[np.bool_]:
    """Which timestamps fall in any window, widened by ``before_days`` before it and ``after_days`` after
    (an event is often told a few days after it happened)."""
    out = np.zeros(len(created_ts), dtype=bool)
    for w in windows:
        bounds = w.bounds()
        if bounds is None:
            months = np.fromiter(
                (datetime.fromtimestamp(t, tz=timezone.utc).month for t in created_ts.tolist()),
                dtype=np.int64,
                count=len(created_ts),
            )
            out |= months == w.month
            continue
        start, end = bounds
        out |= (created_ts >= start - before_days * _DAY_SECONDS) & (
            created_ts < end + after_days * _DAY_SECONDS
        )
    return out
