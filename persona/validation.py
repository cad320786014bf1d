"""Input checks for the public API. Each raises InvalidInputError with a message that says what to do."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from .errors import InvalidInputError
from .types import KINDS

__all__ = [
    "MAX_K",
    "MAX_TEXT_CHARS",
    "MAX_USER_ID_CHARS",
    "check_filters",
    "check_id",
    "check_importance",
    "check_k",
    "check_kind",
    "check_metadata",
    "check_positive_int",
    "check_text",
    "check_time",
    "check_user_id",
]

MAX_TEXT_CHARS = 32_000
"""The longest memory text accepted (characters)."""
MAX_USER_ID_CHARS = 256
MAX_K = 10_000


def check_user_id(user_id: object) -> str:
    if not isinstance(user_id, str) or not user_id.strip():
        raise InvalidInputError(f"user_id must be a non-empty string, got {user_id!r}.")
    if len(user_id) > MAX_USER_ID_CHARS:
        raise InvalidInputError(f"user_id is {len(user_id)} characters; the limit is {MAX_USER_ID_CHARS}.")
    return user_id


def check_text(text: object, *, what: str = "text") -> str:
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
    return text


def check_kind(kind: object, *, allow_none: bool = False) -> str | None:
    if kind is None and allow_none:
        return None
    if kind not in KINDS:
        raise InvalidInputError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}.")
    return str(kind)


def check_metadata(metadata: object) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidInputError(f"metadata must be a dict, got {type(metadata).__name__}.")
    if not all(isinstance(key, str) for key in metadata):
        raise InvalidInputError("metadata keys must be strings.")
    try:
        encoded = json.dumps(dict(metadata), allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"metadata must be JSON-serializable (strings, numbers, booleans, None, lists, dicts): {exc}."
        ) from exc
    decoded: dict[str, Any] = json.loads(encoded)
    return decoded


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
    return value


def check_importance(value: object, *, allow_none: bool = True) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInputError(f"importance must be a number between 0 and 1, got {value!r}.")
    if not 0.0 <= float(value) <= 1.0:
        raise InvalidInputError(f"importance must be between 0 and 1, got {value}.")
    return float(value)


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


def check_id(memory_id: object) -> str:
    """A memory (or reply) id: a non-empty string."""
    if not isinstance(memory_id, str) or not memory_id.strip():
        raise InvalidInputError(f"memory_id must be a non-empty string, got {memory_id!r}.")
    return memory_id


def check_positive_int(value: object, *, what: str = "limit") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{what} must be a positive integer, got {value!r}.")
    return value
