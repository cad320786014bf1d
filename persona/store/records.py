"""Turning what callers pass to ``add``/``add_many``/``import_user`` into validated records for the store."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime

from ..errors import InvalidInputError
from ..validation import (
    check_importance,
    check_kind,
    check_metadata,
    check_sensitivity,
    check_source,
    check_text,
    check_time,
)
from .base import NewMemory

__all__ = ["DEFAULT_IMPORTANCE", "ITEM_FIELDS", "content_hash", "is_transcript", "prepare_item"]

DEFAULT_IMPORTANCE = 0.5
ITEM_FIELDS = ("text", "kind", "metadata", "created_at", "importance", "source", "sensitivity")


def content_hash(text: str) -> str:
    """What exact-duplicate detection compares (with user and kind)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_transcript(kind: str, metadata: Mapping[str, object]) -> bool:
    """Whether a memory is transcript only: an episode with ``metadata["role"] == "assistant"`` (what the
    assistant said). It is kept and shown as conversation, but never embedded, searched or used as evidence
    about the user."""
    return kind == "episode" and metadata.get("role") == "assistant"


def prepare_item(item: object, now: datetime, index: int | None = None) -> NewMemory:
    """Validate one item (a string or a dict of `ITEM_FIELDS`); ``index`` names it in error messages."""
    where = "" if index is None else f"item {index}: "
    if isinstance(item, str):
        item = {"text": item}
    if not isinstance(item, Mapping):
        raise InvalidInputError(f"{where}each item must be a string or a dict with 'text', got {item!r}.")
    unknown = set(item) - set(ITEM_FIELDS)
    if unknown:
        raise InvalidInputError(
            f"{where}unknown field(s) {sorted(unknown)}; allowed: {', '.join(ITEM_FIELDS)}."
        )
    try:
        text = check_text(item.get("text"))
        kind = check_kind(item.get("kind", "fact"))
        metadata = check_metadata(item.get("metadata"))
        created = check_time(item.get("created_at"), what="created_at") or now
        importance = check_importance(item.get("importance"))
        source = check_source(item.get("source", "api"))
        sensitivity = check_sensitivity(item.get("sensitivity"), allow_none=True)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{where}{exc}") from None
    return NewMemory(
        text=text,
        kind=str(kind),
        metadata=metadata,
        created_at=created,
        importance=DEFAULT_IMPORTANCE if importance is None else importance,
        source=source,
        content_hash=content_hash(text),
        transcript=is_transcript(str(kind), metadata),
        sensitivity=sensitivity,
    )
