"""Input checks for the public API. Each raises InvalidInputError with a message that says what to do."""

from __future__ import annotations

import base64
import json
import math
import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from .errors import InvalidInputError
from .types import KINDS

__all__ = [
    "MAX_COUNT",
    "MAX_K",
    "MAX_METADATA_BYTES",
    "MAX_METADATA_DEPTH",
    "MAX_SOURCE_CHARS",
    "MAX_TEXT_CHARS",
    "MAX_USER_ID_CHARS",
    "check_cursor",
    "check_encodable",
    "check_filters",
    "check_id",
    "check_importance",
    "check_k",
    "check_kind",
    "check_label",
    "check_metadata",
    "check_number",
    "check_positive_int",
    "check_sensitivity",
    "check_source",
    "check_text",
    "check_time",
    "check_user_id",
    "page_cursor",
]

MAX_TEXT_CHARS = 32_000
"""The longest memory text accepted (characters)."""
MAX_USER_ID_CHARS = 256
"""The longest user id (characters); user ids must not contain control characters."""
MAX_SOURCE_CHARS = 200
"""The longest ``source`` label (characters); sources must not contain control characters."""
MAX_METADATA_BYTES = 65_536
"""The largest metadata accepted: its JSON encoding, in UTF-8 bytes."""
MAX_METADATA_DEPTH = 16
"""How deeply metadata may nest lists and dicts."""
MAX_K = 10_000
MAX_COUNT = 2**31 - 1
"""The largest ``limit`` (and other counts) accepted."""
# Earliest and latest UTC times accepted: a day inside datetime's range, so any timezone can show them.
_EARLIEST = datetime(1, 1, 2, tzinfo=timezone.utc)
_LATEST = datetime(9999, 12, 30, 23, 59, 59, tzinfo=timezone.utc)


def check_encodable(value: str, *, what: str) -> str:
    """``value`` unless it holds a lone surrogate (which cannot be stored or printed as UTF-8)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"{what} contains a lone surrogate ({value[exc.start]!r} at {exc.start}), which is not valid "
            "Unicode; decode the bytes it came from properly (or remove it)."
        ) from None
    return value


def _visible(value: str) -> bool:
    """Whether ``value`` has a character that is not whitespace, a control or an invisible format character."""
    return any(not ch.isspace() and unicodedata.category(ch) not in ("Cc", "Cf") for ch in value)


def check_label(value: object, *, what: str, limit: int) -> str:
    """A name (user id, source): a string with a visible character, no control characters, at most ``limit``."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{what} must be a non-empty string, got {value!r}.")
    if len(value) > limit:
        raise InvalidInputError(f"{what} is {len(value):,} characters; the limit is {limit:,}.")
    check_encodable(value, what=what)
    bad = next((ch for ch in value if unicodedata.category(ch) == "Cc"), None)
    if bad is not None:
        raise InvalidInputError(f"{what} {value!r} contains the control character {bad!r}; remove it.")
    if not _visible(value):
        raise InvalidInputError(f"{what} {value!r} has no visible character; pass a readable name.")
    return value


def check_user_id(user_id: object) -> str:
    return check_label(user_id, what="user_id", limit=MAX_USER_ID_CHARS)


def check_source(source: object) -> str:
    return check_label(source, what="source", limit=MAX_SOURCE_CHARS)


def check_text(text: object, *, what: str = "text") -> str:
    """Memory text, a query or a message: control characters other than NUL are kept (and escaped on output)."""
    if not isinstance(text, str):
        raise InvalidInputError(f"{what} must be a string, got {type(text).__name__}.")
    if not text.strip():
        raise InvalidInputError(f"{what} is empty; pass the words to remember (or to search for).")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInputError(
            f"{what} is {len(text):,} characters; the limit is {MAX_TEXT_CHARS:,}. Split it into several memories."
        )
    if "\x00" in text:
        raise InvalidInputError(f"{what} contains a NUL character; remove it.")
    check_encodable(text, what=what)
    if not _visible(text):
        raise InvalidInputError(f"{what} has no visible character (only spaces, controls or zero-width ones).")
    return text


def check_kind(kind: object, *, allow_none: bool = False) -> str | None:
    if kind is None and allow_none:
        return None
    if kind not in KINDS:
        raise InvalidInputError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}.")
    return str(kind)


_SENSITIVITY = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def check_sensitivity(value: object, *, what: str = "sensitivity", allow_none: bool = False) -> str | None:
    """A sensitivity label's spelling (lowercase letters, digits, ``_`` or ``-``, a letter first, at most 32
    characters); which labels exist is the store's policy (`persona.pii.SensitivityPolicy.check`)."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or not _SENSITIVITY.fullmatch(value):
        raise InvalidInputError(
            f"{what} must be a label such as 'normal', 'personal', 'health', 'financial' or 'secret' "
            f"(lowercase letters, digits, '_' or '-'), got {value!r}."
        )
    return value


def check_metadata(metadata: object) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidInputError(f"metadata must be a dict, got {type(metadata).__name__}.")
    if not all(isinstance(key, str) for key in metadata):
        raise InvalidInputError("metadata keys must be strings.")
    _check_json_tree(metadata)
    try:
        encoded = json.dumps(dict(metadata), allow_nan=False, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"metadata must be JSON-serializable (strings, numbers, booleans, None, lists, dicts): {exc}."
        ) from exc
    size = len(check_encodable(encoded, what="metadata").encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise InvalidInputError(
            f"metadata is {size:,} bytes as JSON; the limit is {MAX_METADATA_BYTES:,}. Store large data elsewhere "
            "and keep a reference in the metadata."
        )
    decoded: dict[str, Any] = json.loads(encoded)
    return decoded


def _check_json_tree(value: object) -> None:
    """Depth, NUL-free keys, encodable strings and finite numbers, without recursion (deep input is data)."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            check_encodable(item, what="metadata")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if item.bit_length() > 64:
                raise InvalidInputError(f"metadata integer {_show(item)} is too large; store it as a string.")
        elif isinstance(item, float):
            continue  # json.dumps(allow_nan=False) rejects NaN and infinities
        elif isinstance(item, (Mapping, list, tuple)):
            if depth >= MAX_METADATA_DEPTH:
                raise InvalidInputError(
                    f"metadata nests more than {MAX_METADATA_DEPTH} levels deep; flatten it."
                )
            children = list(item.items()) if isinstance(item, Mapping) else [(None, v) for v in item]
            for key, child in children:
                if key is not None and not isinstance(key, str):
                    raise InvalidInputError(f"metadata keys must be strings, got {key!r}.")
                if isinstance(key, str):
                    check_encodable(key, what="metadata key")
                stack.append((child, depth + 1))


def check_time(value: object, *, what: str, allow_none: bool = True) -> datetime | None:
    """A datetime (naive ones are taken as UTC) or an ISO 8601 string; returns a timezone-aware datetime."""
    if value is None:
        if allow_none:
            return None
        raise InvalidInputError(f"{what} is required.")
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidInputError(
                f"{what} must be a datetime or an ISO 8601 string, got {value!r}."
            ) from exc
    if not isinstance(value, datetime):
        raise InvalidInputError(f"{what} must be a datetime, got {type(value).__name__}.")
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    try:
        utc = value.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not _EARLIEST <= utc <= _LATEST:
        raise InvalidInputError(
            f"{what} {value.isoformat()} is out of range; use a time between "
            f"{_EARLIEST.date()} and {_LATEST.date()} (UTC)."
        )
    return value


def _show(value: object) -> str:
    """A number for a message: huge integers by their size, not their (maybe unprintable) digits."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    return repr(value)


def check_number(value: object, *, what: str, low: float, high: float) -> float:
    """A finite int or float (not a bool) in [low, high], as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"{what} must be a number between {low:g} and {high:g}, got {value!r}.")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or not low <= number <= high:
        raise InvalidInputError(f"{what} must be between {low:g} and {high:g}, got {_show(value)}.")
    return number


def check_importance(value: object, *, allow_none: bool = True) -> float | None:
    if value is None and allow_none:
        return None
    return check_number(value, what="importance", low=0.0, high=1.0)


def check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidInputError(f"k must be a positive integer, got {k!r}.")
    if k > MAX_K:
        raise InvalidInputError(f"k is {k}; the limit is {MAX_K}. Use list() to read everything.")
    return k


def check_filters(filters: object) -> dict[str, Any] | None:
    if filters is None:
        return None
    checked = check_metadata(filters)
    for key, value in checked.items():
        if isinstance(value, dict):
            raise InvalidInputError(
                f"filter {key!r}: pass a value (exact match) or a list of values (any of them), not a dict."
            )
    return checked


def check_id(memory_id: object, *, what: str = "memory_id") -> str:
    """A memory (or reply) id: a non-empty string."""
    if not isinstance(memory_id, str) or not memory_id.strip():
        raise InvalidInputError(f"{what} must be a non-empty string, got {memory_id!r}.")
    if len(memory_id) > MAX_USER_ID_CHARS or "\x00" in memory_id:
        raise InvalidInputError(f"{what} {memory_id[:40]!r}... is not an id; pass an id printed by list or add.")
    return check_encodable(memory_id, what=what)


def check_positive_int(value: object, *, what: str = "limit", allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        kind = "a non-negative" if allow_zero else "a positive"
        raise InvalidInputError(f"{what} must be {kind} integer, got {value!r}.")
    if value > MAX_COUNT:
        raise InvalidInputError(f"{what} is {_show(value)}; the limit is {MAX_COUNT:,}.")
    return value


def page_cursor(position: tuple[float, int]) -> str:
    """The opaque cursor of a store position (`persona.types.MemoryPage.next_cursor`)."""
    raw = json.dumps([position[0], position[1]], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def check_cursor(cursor: object) -> tuple[float, int] | None:
    """The store position of a cursor from `page_cursor`; None for none (the first page)."""
    if cursor is None:
        return None
    problem = InvalidInputError(
        f"cursor {repr(cursor)[:40]} is not a cursor persona gave; pass the next_cursor of the previous page, "
        "or no cursor for the first page."
    )
    if not isinstance(cursor, str) or not cursor or len(cursor) > 100:
        raise problem
    try:
        ts, seq = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError) as exc:
        raise problem from exc
    if isinstance(seq, bool) or not isinstance(seq, int) or not isinstance(ts, (int, float)) or isinstance(ts, bool):
        raise problem
    if not math.isfinite(ts):
        raise problem
    return float(ts), seq
