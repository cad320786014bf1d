"""The time spans a query asks about, as [start, end) UTC timestamps for ranking (`persona.retrieval.spans`).

The anchors are the time expressions `persona.eventtime` reads (a date, a month, a season, a year, and,
relative to ``now``, "last month", "a couple of weeks ago", "yesterday" ...), plus dates without a year
("16 August", "November 22", "in June"), which stand for that date in every year the memories cover, and
the holidays ("over the holidays", "Christmas", "New Year": 20 December to 6 January). Words before an
anchor narrow or move it:

* a part: "early" / "the beginning of" (first third), "mid" / "the middle of" (middle third), "late" /
  "the end of" / "towards the end of" (last third);
* a week of a month: "the first / second / third / fourth / last week of";
* a week around a date: "the week of X";
* before or after: "the week before X", "a few days before X", "two weeks after X", "the weekend before X",
  "the day before X".
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from ..eventtime import (
    DAY_PATTERN,
    MONTH_PATTERN,
    MONTHS,
    WEEKDAYS,
    day_span,
    find,
    month_span,
    parse_number,
    week_span,
)

__all__ = ["query_spans"]

Span = tuple[datetime, datetime]

_NO_YEAR = r"(?!,?\s*(?:of\s+)?(?:19|20)\d\d)"
_DAY_MONTH = (
    re.compile(rf"\b{DAY_PATTERN}\s+(?:of\s+)?{MONTH_PATTERN}\b{_NO_YEAR}", re.I),
    re.compile(rf"\b{MONTH_PATTERN}\s+{DAY_PATTERN}\b{_NO_YEAR}", re.I),
)
_HOLIDAYS = re.compile(
    r"\b(?:the\s+)?(?:holidays|holiday\s+season|christmas|xmas|new\s+year'?s?(?:\s+eve)?)\b", re.I
)
_WEEKDAY_NAMES = "|".join(WEEKDAYS)
_COUNT = r"(?P<n>\d{1,2}|a|an|one|two|three|four|five|six|a\s+couple\s+of|a\s+few|few|several)"
_PART = re.compile(
    r"(?P<part>early|the\s+beginning\s+of|beginning\s+of|the\s+start\s+of|start\s+of|mid|the\s+middle\s+of|"
    r"middle\s+of|late|the\s+end\s+of|end\s+of|towards?\s+the\s+end\s+of)[\s-]+(?:in\s+)?$",
    re.I,
)
_WEEK_OF_MONTH = re.compile(
    r"(?P<which>first|second|third|fourth|last|final)\s+week\s+of\s+(?:the\s+)?$", re.I
)
_WEEK_OF = re.compile(r"\bweek\s+of\s+$", re.I)
_SHIFT = re.compile(
    rf"(?:\b{_COUNT}\s+)?\b(?P<unit>days?|weeks?|weekends?|months?|{_WEEKDAY_NAMES})\s+"
    r"(?P<dir>before|prior\s+to|after|following)\s+"
    r"(?:the\s+)?$",
    re.I,
)
_PARTS = {"early": 0, "beginning": 0, "start": 0, "mid": 1, "middle": 1, "late": 2, "end": 2, "towards": 2}
_WEEKS = {"first": 0, "second": 1, "third": 2, "fourth": 3}
_LOOKBACK = 48


def query_spans(query: str, now: datetime, years: range) -> list[tuple[float, float]]:
    """The spans ``query`` names (see the module docstring), as timestamps; ``years`` are the years a date
    without a year may fall in."""
    anchors: list[tuple[int, int, list[Span], str]] = []
    for f in find(query, now):
        text = query[f.start : f.end]
        if f.rule == "m":  # a month without a year: that month of every year
            month = MONTHS[(f.groups.get("month") or "").lower().rstrip(".")]
            windows = [month_span(y, month) for y in years]
        else:
            windows = [f.window]
        first = text.split()[0].lower()
        anchors.append((f.start, f.end, windows, first if first in ("early", "mid", "late") else ""))
    taken = [(a[0], a[1]) for a in anchors]
    for m in (m for pattern in _DAY_MONTH for m in pattern.finditer(query)):
        if any(m.start() < e and s < m.end() for s, e in taken):
            continue
        month, day = MONTHS[m.group("month").lower().rstrip(".")], int(m.group("day"))
        windows = []
        for y in years:
            try:
                windows.append(day_span(datetime(y, month, day).date()))
            except ValueError:
                continue
        anchors.append((m.start(), m.end(), windows, ""))
    for m in _HOLIDAYS.finditer(query):
        start = [datetime(y - 1, 12, 20, tzinfo=timezone.utc) for y in years]
        anchors.append((m.start(), m.end(), [(s, s + timedelta(days=17)) for s in start], ""))
    out: list[tuple[float, float]] = []
    for at, _end, spans, inner in anchors:
        before = query[max(0, at - _LOOKBACK) : at]
        for window in spans:
            span = _modified(before, window, inner)
            out.append((span[0].timestamp(), span[1].timestamp()))
    return out


def _modified(before: str, window: Span, inner: str) -> Span:
    """``window`` narrowed or moved by the words just before it (``inner``: a part word inside the match)."""
    a, b = window
    part = _PART.search(before)
    if part is not None or inner:
        third = (b - a) / 3
        words = part.group("part").lower().split() if part is not None else [inner]
        i = next(_PARTS[w] for w in words if w in _PARTS)
        return a + i * third, a + (i + 1) * third
    week = _WEEK_OF_MONTH.search(before)
    if week is not None:
        which = week.group("which").lower()
        if which in _WEEKS:
            start = a + timedelta(days=7 * _WEEKS[which])
            return start, min(start + timedelta(days=7), b)
        return max(b - timedelta(days=7), a), b
    if _WEEK_OF.search(before) is not None and b - a <= timedelta(days=1):
        return week_span(a.date())
    shift = _SHIFT.search(before)
    if shift is not None:
        n = parse_number(shift.group("n")) if shift.group("n") else 1
        unit = shift.group("unit").lower().rstrip("s")
        after = shift.group("dir").lower() in ("after", "following")
        if unit in WEEKDAYS:  # the n-th such weekday before the anchor's start (after its end)
            target = WEEKDAYS[unit]
            if after:
                day = b + timedelta(days=(target - b.weekday()) % 7 + 7 * (n - 1))
            else:
                day = a - timedelta(days=((a.weekday() - target) % 7 or 7) + 7 * (n - 1))
            return day, day + timedelta(days=1)
        if unit == "weekend":  # the n-th Saturday and Sunday before the anchor's start (after its end)
            if after:
                saturday = b + timedelta(days=(5 - b.weekday()) % 7 + 7 * (n - 1))
            else:
                saturday = a - timedelta(days=((a.weekday() - 5) % 7 or 7) + 7 * (n - 1))
            return saturday, saturday + timedelta(days=2)
        size = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=30)}[unit]
        if shift.group("n") and shift.group("n").lower().split()[-1] in ("few", "several", "couple"):
            return (b, b + n * size) if after else (a - n * size, a)  # within that many
        return (b + (n - 1) * size, b + n * size) if after else (a - n * size, a - (n - 1) * size)
    return a, b
