"""When the events a text talks about happened: time expressions resolved against a reference time.

``resolve(text, reference)`` finds the time expressions of a text ("yesterday", "last week", "two years
ago", "next Saturday", "in May 2023", "last weekend", "this summer", "on 3 June, 2023") and turns each into
an `EventTime` window [start, end) in UTC, relative to ``reference`` (a memory's ``created_at`` at write
time; the store's clock or the Persona's ``now`` for a query). It is a small rule set over one regular
expression scan, written by hand because the libraries measured were 50-500x slower per text than a
sentence embedding's share of ingest (docs/retrieval.md, "Event time"); it imports only the standard library.

Readings are deliberately coarse: a week is Monday to Sunday, a season is three calendar months (northern
hemisphere: spring March-May, summer June-August, autumn September-November, winter December-February), "a
few" is three, "the other day" is the week before. A month without a year is the occurrence nearest the
reference. Expressions that name no time (bare weekdays, "recently") are not read.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from .types import EventTime

__all__ = [
    "DAY_PATTERN",
    "MONTHS",
    "MONTH_PATTERN",
    "SEASONS",
    "WEEKDAYS",
    "Found",
    "day_span",
    "find",
    "month_span",
    "parse_number",
    "resolve",
    "season_span",
    "week_span",
]

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9
WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
_VAGUE = ("few", "couple", "several")
SEASONS = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}
_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "a couple of": 2, "a couple": 2, "couple of": 2, "two": 2, "three": 3,
    "a few": 3, "few": 3, "four": 4, "five": 5, "several": 4, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip

MONTH_PATTERN = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
DAY_PATTERN = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_NUM = r"(?P<num>\d{1,2}|" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + ")"
_WEEKDAY = r"(?P<weekday>" + "|".join(WEEKDAYS) + r")"
_SEASON = r"(?P<season>" + "|".join(SEASONS) + r")"
_WHICH = r"(?P<which>last|this|next|past|previous|coming)"

_RULES: list[tuple[str, str]] = [
    ("dmy", rf"{DAY_PATTERN}\s+(?:of\s+)?{MONTH_PATTERN},?\s+{_YEAR}"),
    ("mdy", rf"{MONTH_PATTERN}\s+{DAY_PATTERN},?\s+{_YEAR}"),
    ("my", rf"{MONTH_PATTERN},?\s+(?:of\s+)?{_YEAR}"),
    ("sy", rf"{_SEASON}\s+(?:of\s+)?{_YEAR}"),
    ("ago", rf"{_NUM}\s+(?P<unit>day|week|month|year)s?\s+ago"),
    ("rel", rf"{_WHICH}\s+(?P<unit>week|weekend|month|year)(?!\s+of\b)"),
    ("relday", rf"{_WHICH}\s+{_WEEKDAY}"),
    ("relseason", rf"{_WHICH}\s+{_SEASON}"),
    ("word", r"(?P<word>yesterday|today|tonight|tomorrow|last night|the other day|this (?:morning|afternoon|evening))"),
    ("m", rf"(?:in|of|during|since|until|this|last|next|early|mid|late)\s+{MONTH_PATTERN}(?!\s*\d)"),
    ("y", rf"(?:in|of|during|since|until|early|mid|late)\s+{_YEAR}"),
    ("weekend", r"(?:the|this|over the)\s+weekend(?!\s+(?:before|after|of|prior)\b)"),
]  # fmt: skip


_YEAR_TOKEN = "#year"
_WHICH_WORDS = frozenset(("last", "this", "next", "past", "previous", "coming"))
_RULE_WORDS: dict[str, frozenset[str]] = {
    "dmy": frozenset(MONTHS),
    "mdy": frozenset(MONTHS),
    "my": frozenset(MONTHS),
    "sy": frozenset(SEASONS),
    "ago": frozenset(("ago",)),
    "rel": _WHICH_WORDS,
    "relday": frozenset(WEEKDAYS),
    "relseason": frozenset(SEASONS),
    "word": frozenset(("yesterday", "today", "tonight", "tomorrow", "night", "other", "morning", "afternoon", "evening")),
    "m": frozenset(MONTHS),
    "y": frozenset((_YEAR_TOKEN,)),
    "weekend": frozenset(("weekend",)),
}
"""A rule is tried only on texts that hold one of its words: most texts are dismissed without a scan."""
_COMPILED = [(name, re.compile(rf"\b{pattern}\b"), _RULE_WORDS[name]) for name, pattern in _RULES]
_COMPILED_ANY_CASE = [(name, re.compile(rf"\b{pattern}\b", re.I), words) for name, pattern, words in
                      ((n, p, _RULE_WORDS[n]) for n, p in _RULES)]  # fmt: skip
"""For the rare text whose lower-case form has another length (then positions would not map back)."""
_TOKEN = re.compile(r"[a-z]+|(?:19|20)\d\d")


def _tokens(low: str) -> set[str]:
    return {_YEAR_TOKEN if t[0] in "12" else t for t in _TOKEN.findall(low)}


def parse_number(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBERS[" ".join(word.lower().split())]


def _utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def day_span(day: date, days: int = 1) -> tuple[datetime, datetime]:
    return _utc(day), _utc(day + timedelta(days=days))


def week_span(day: date) -> tuple[datetime, datetime]:
    """Monday to Sunday of the week holding ``day``."""
    return day_span(day - timedelta(days=day.weekday()), 7)


def month_span(year: int, month: int, months: int = 1) -> tuple[datetime, datetime]:
    end = year * 12 + month - 1 + months
    return datetime(year, month, 1, tzinfo=timezone.utc), datetime(
        end // 12, end % 12 + 1, 1, tzinfo=timezone.utc
    )


def season_span(year: int, season: str) -> tuple[datetime, datetime]:
    """Three months from the season's first; winter starts in December of the year before ``year``'s
    January-February (winter 2023 is December 2022 to February 2023)."""
    first = SEASONS[season.lower()]
    return month_span(year - 1 if first == 12 else year, first, 3)


def _nearest_month(month: int, ref: date) -> int:
    """The year of the ``month`` nearest ``ref``."""
    return min(
        (ref.year - 1, ref.year, ref.year + 1), key=lambda y: abs((y - ref.year) * 12 + month - ref.month)
    )


def _window(name: str, g: dict[str, str | None], ref: date) -> tuple[datetime, datetime] | None:
    """The window of one match (``g`` holds the rule's groups without their prefix), or None."""
    month = MONTHS.get((g.get("month") or "").lower().rstrip("."))
    year = int(g.get("year") or 0) or None
    if name in ("dmy", "mdy") and month and year:
        day = int(g["day"] or 0)
        if 1 <= day <= calendar.monthrange(year, month)[1]:
            return day_span(date(year, month, day))
        return None
    if name == "my" and month and year:
        return month_span(year, month)
    if name == "sy" and year:
        return season_span(year, g["season"] or "")
    if name == "m" and month:
        return month_span(_nearest_month(month, ref), month)
    if name == "y" and year:
        return month_span(year, 1, 12)
    step = {"last": -1, "past": -1, "previous": -1, "this": 0, "next": 1, "coming": 1}.get(
        (g.get("which") or "").lower(), 0
    )
    unit = (g.get("unit") or "").lower()
    if name == "ago":  # a vague count ("a few", "a couple of", "several") spans one unit either side
        n = parse_number(g["num"] or "1")
        vague = int(any(w in (g["num"] or "").lower() for w in _VAGUE))
        if unit == "day":
            return day_span(ref - timedelta(days=n + vague), 1 + 2 * vague)
        if unit == "week":
            return day_span(ref - timedelta(days=7 * (n + vague) + 3), 7 * (1 + 2 * vague))
        if unit == "month":
            total = ref.year * 12 + ref.month - 1 - n - vague
            return month_span(total // 12, total % 12 + 1, 1 + 2 * vague)
        return month_span(ref.year - n - vague, 1, 12 * (1 + 2 * vague))
    if name == "rel":
        if unit == "week":
            return week_span(ref + timedelta(days=7 * step))
        if unit == "weekend":
            return _weekend(ref, step)
        if unit == "month":
            total = ref.year * 12 + ref.month - 1 + step
            return month_span(total // 12, total % 12 + 1)
        return month_span(ref.year + step, 1, 12)
    if name == "relday":
        target = WEEKDAYS[(g["weekday"] or "").lower()]
        delta = (target - ref.weekday()) % 7
        if step < 0:
            delta = delta - 7 if delta else -7
        elif step > 0:
            delta = delta or 7
        return day_span(ref + timedelta(days=delta))
    if name == "relseason":  # this: the one of the reference's year; last: the latest begun before the
        season = (g["season"] or "").lower()  # reference's month; next: the first after it
        now = _utc(ref)
        spans = [season_span(y, season) for y in (ref.year - 1, ref.year, ref.year + 1)]
        if step < 0:
            return [s for s in spans if s[1] <= now][-1]
        if step > 0:
            return next(s for s in spans if s[0] > now)
        return next((s for s in spans if s[0] <= now < s[1]), spans[1])
    if name == "weekend":
        return _weekend(ref, 0)
    word = " ".join((g.get("word") or "").lower().split())
    if word in ("yesterday", "last night"):
        return day_span(ref - timedelta(days=1))
    if word == "tomorrow":
        return day_span(ref + timedelta(days=1))
    if word == "the other day":
        return day_span(ref - timedelta(days=7), 6)
    return day_span(ref) if word else None


def _weekend(ref: date, step: int) -> tuple[datetime, datetime]:
    """Saturday and Sunday: "this weekend" is the one of the current week (the one just gone on a
    Monday-Thursday reference reads as "last weekend" in speech, so those count as that)."""
    saturday = ref + timedelta(days=5 - ref.weekday())
    if step == 0 and ref.weekday() < 4:
        saturday -= timedelta(days=7)
    return day_span(saturday + timedelta(days=7 * step), 2)


@dataclass(frozen=True)
class Found:
    """One time expression: where it is in the text, which rule read it, its groups and its window."""

    start: int
    end: int
    rule: str
    groups: dict[str, str | None]
    window: tuple[datetime, datetime]


def find(text: str, reference: datetime) -> list[Found]:
    """Every time expression of ``text`` with its window relative to ``reference``, in text order (an
    expression is read once, by the first rule that fits at its start)."""
    low = text.lower()
    tokens = _tokens(low)
    rules = _COMPILED
    if len(low) != len(text):
        low, rules = text, _COMPILED_ANY_CASE
    matches = sorted(
        (m.start(), order, name, m)
        for order, (name, pattern, words) in enumerate(rules)
        if not words.isdisjoint(tokens)
        for m in pattern.finditer(low)
    )
    if not matches:
        return []
    ref = reference.astimezone(timezone.utc).date() if reference.tzinfo else reference.date()
    found: list[Found] = []
    end = 0
    for start, _order, name, m in matches:  # leftmost first, the earlier rule at one start; no overlaps
        if start < end:
            continue
        groups = m.groupdict()
        try:
            window = _window(name, groups, ref)
        except (ValueError, KeyError, OverflowError):
            window = None
        end = m.end()  # an expression that names no real time ("31 February") is still read, as nothing
        if window is not None:
            found.append(Found(start, end, name, groups, window))
    return found


def resolve(text: str, reference: datetime) -> tuple[EventTime, ...]:
    """The time expressions of ``text`` as windows relative to ``reference``, in text order."""
    return tuple(EventTime(f.window[0], f.window[1], text[f.start : f.end]) for f in find(text, reference))
