"""Retention: how long each kind of record is kept, and what a sweep erased.

A policy maps a kind to a time to live. The kinds are the memory kinds (`persona.types.KINDS`: a memory
expires ``ttl`` after its ``created_at``), ``"reply"`` (the reply log and the feedback on each reply, by the
reply's time) and ``"disclosure"`` (the disclosure log). A kind the policy does not name is kept forever.
A user's consent may override the policy per kind (`persona.governance.records.Consent.retention`): a
duration of their own, or None to keep that kind forever for them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..errors import InvalidInputError
from ..types import KINDS

__all__ = [
    "RETENTION_KINDS",
    "RetentionPolicy",
    "SweepResult",
    "check_ttls",
    "format_duration",
    "parse_duration",
]

RETENTION_KINDS: tuple[str, ...] = (*KINDS, "reply", "disclosure")
"""What a retention policy can name: the memory kinds, ``reply`` (replies and their feedback), ``disclosure``."""

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
FOREVER = ("forever", "never", "keep")
"""Spellings of "no time to live" in a per-user override (`parse_duration(..., allow_forever=True)`)."""


def parse_duration(text: str, *, allow_forever: bool = False) -> timedelta | None:
    """``"30d"`` -> 30 days. Units: s, m, h, d, w. ``"forever"`` -> None when ``allow_forever``."""
    if not isinstance(text, str):
        raise InvalidInputError(f"a duration must be text such as '30d' or '12h', got {type(text).__name__}.")
    if allow_forever and text.strip().lower() in FOREVER:
        return None
    found = _DURATION.match(text.lower())
    if found is None:
        extra = " or 'forever'" if allow_forever else ""
        raise InvalidInputError(
            f"duration {text!r} is not a number and a unit: write e.g. '365d', '12h', '90m', '2w'{extra}."
        )
    seconds = float(found.group(1)) * _UNITS[found.group(2)]
    if seconds <= 0:
        raise InvalidInputError(f"duration {text!r} must be longer than zero.")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta | None) -> str:
    """The shortest exact spelling: ``365d``, ``12h``, ``90s``; ``forever`` for None."""
    if value is None:
        return "forever"
    seconds = value.total_seconds()
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{seconds:g}s"


def check_ttls(value: object, *, what: str, allow_forever: bool) -> dict[str, timedelta | None]:
    """A mapping of retention kinds to durations (timedelta or text such as '30d'; None when ``allow_forever``)."""
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            f"{what} must be a dict of kind -> duration, e.g. {{'episode': timedelta(days=365)}}; "
            f"got {type(value).__name__}."
        )
    out: dict[str, timedelta | None] = {}
    for kind, ttl in value.items():
        if kind not in RETENTION_KINDS:
            raise InvalidInputError(f"{what}: unknown kind {kind!r}; use one of {', '.join(RETENTION_KINDS)}.")
        if ttl is None and allow_forever:
            out[kind] = None
        elif isinstance(ttl, str):
            out[kind] = parse_duration(ttl, allow_forever=allow_forever)
        elif isinstance(ttl, timedelta):
            if ttl <= timedelta(0):
                raise InvalidInputError(f"{what}[{kind!r}] must be longer than zero, got {ttl}.")
            out[kind] = ttl
        else:
            forever = " or None (keep forever)" if allow_forever else ""
            raise InvalidInputError(
                f"{what}[{kind!r}] must be a timedelta or a duration such as '30d'{forever}, got {ttl!r}."
            )
    return out


@dataclass(frozen=True)
class RetentionPolicy:
    """Times to live per kind (see the module docstring); an empty policy keeps everything."""

    ttl: Mapping[str, timedelta] = field(default_factory=dict)

    @classmethod
    def of(cls, value: RetentionPolicy | Mapping[str, Any] | str | None) -> RetentionPolicy:
        """A policy from a `RetentionPolicy`, a dict of kind -> timedelta (or '30d'), text such as
        ``"episode=365d,reply=30d"`` (the CLI's and ``$PERSONA_RETENTION``'s form), or None (empty)."""
        if value is None:
            return cls()
        if isinstance(value, RetentionPolicy):
            return value
        if isinstance(value, str):
            value = _parse_pairs(value)
        checked = check_ttls(value, what="retention", allow_forever=False)
        return cls({k: v for k, v in checked.items() if v is not None})

    def __bool__(self) -> bool:
        return bool(self.ttl)

    def for_user(self, override: Mapping[str, timedelta | None]) -> dict[str, timedelta]:
        """The times to live for a user whose consent overrides some kinds (None there: keep forever)."""
        merged: dict[str, timedelta | None] = {**self.ttl, **override}
        return {k: v for k, v in merged.items() if v is not None}

    def to_dict(self) -> dict[str, str]:
        return {k: format_duration(self.ttl[k]) for k in RETENTION_KINDS if k in self.ttl}


def _parse_pairs(text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        kind, sep, duration = part.partition("=")
        if not sep:
            raise InvalidInputError(f"retention {part.strip()!r} must read KIND=DURATION, e.g. episode=365d.")
        pairs[kind.strip()] = duration.strip()
    return pairs


@dataclass(frozen=True)
class SweepResult:
    """What a retention sweep erased (or, with ``dry_run``, would erase), per user and kind.

    Kinds are the memory kinds, ``reply``, ``feedback`` (feedback on the erased replies) and ``disclosure``.
    """

    at: datetime
    """The time the sweep measured ages from."""
    dry_run: bool
    erased: dict[str, dict[str, int]]
    """user id -> kind -> how many; users with nothing expired are absent."""
    seconds: float
    """How long the sweep took."""

    @property
    def total(self) -> int:
        return sum(sum(kinds.values()) for kinds in self.erased.values())

    def by_kind(self) -> dict[str, int]:
        """How many of each kind, over all users."""
        totals: dict[str, int] = {}
        for kinds in self.erased.values():
            for kind, count in kinds.items():
                totals[kind] = totals.get(kind, 0) + count
        return dict(sorted(totals.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "dry_run": self.dry_run,
            "total": self.total,
            "by_kind": self.by_kind(),
            "erased": {user: dict(kinds) for user, kinds in sorted(self.erased.items())},
            "seconds": self.seconds,
        }
