"""Export and import of one user's memories and history, their consent and their disclosure log: a
versioned, JSON-serializable format (``consent``, ``disclosures`` and ``policy`` are optional keys:
exports written before them import as they did)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from ..errors import InvalidInputError
from ..governance.records import Consent, Disclosure
from ..types import HistoryEntry
from ..validation import (
    check_encodable,
    check_id,
    check_importance,
    check_kind,
    check_metadata,
    check_text,
    check_time,
    check_user_id,
)
from .base import NewMemory, PolicyRow, Store
from .records import ITEM_FIELDS, prepare_item

__all__ = [
    "EXPORT_FORMAT",
    "EXPORT_SCHEMA_VERSION",
    "export_data",
    "history_to_import",
    "parse_export",
    "parse_governance",
    "parse_policy",
]

EXPORT_FORMAT = "persona.export"
EXPORT_SCHEMA_VERSION = 1


def export_data(store: Store, user_id: str) -> dict[str, Any]:
    """Every memory (oldest first) and history entry of a user, their consent (null when never set) and
    disclosures (oldest first); deterministic, so exports compare equal."""
    consent = store.get_consent(user_id)
    disclosures = store.disclosures(user_id, since=None, until=None, limit=None)
    return {
        "format": EXPORT_FORMAT,
        "schema_version": EXPORT_SCHEMA_VERSION,
        "user_id": user_id,
        "memories": [m.to_dict() for m in store.list(user_id, oldest_first=True)],
        "history": [h.to_dict() for h in store.user_history(user_id)],
        "consent": None if consent is None else consent.to_dict(),
        "disclosures": [d.to_dict() for d in reversed(disclosures)],
        "policy": [asdict(row) for row in store.policy_rows(user_id)],
    }


def parse_policy(data: Mapping[str, Any]) -> list[PolicyRow]:
    """An export's ``strategy="auto"`` evidence, validated (optional: older exports have none)."""
    raw = data.get("policy") or []
    if not isinstance(raw, list):
        raise InvalidInputError(f"export 'policy' must be a list, got {type(raw).__name__}.")
    rows = []
    for i, entry in enumerate(raw):
        try:
            row = PolicyRow(str(entry["arm"]), int(entry["pulls"]), int(entry["rewards"]),
                            float(entry["weight"]), float(entry["reward"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"export policy row {i}: needs arm, pulls, rewards, weight, reward ({exc}).") from exc
        if row.pulls < 0 or row.rewards < 0 or not 0.0 <= row.reward <= row.weight:
            raise InvalidInputError(f"export policy row {i}: counts must be non-negative, reward <= weight.")
        rows.append(row)
    return rows


def parse_governance(data: Mapping[str, Any], user_id: str) -> tuple[Consent | None, list[Disclosure]]:
    """An export's consent and disclosures, validated (both optional)."""
    raw_consent = data.get("consent")
    if isinstance(raw_consent, Mapping) and raw_consent.get("user_id", user_id) != user_id:
        raise InvalidInputError(f"export consent belongs to {raw_consent.get('user_id')!r}, not {user_id!r}.")
    consent = None if raw_consent is None else Consent.from_dict(raw_consent, user_id)
    raw = data.get("disclosures") or []
    if not isinstance(raw, list):
        raise InvalidInputError(f"export 'disclosures' must be a list, got {type(raw).__name__}.")
    for i, entry in enumerate(raw):
        if isinstance(entry, Mapping) and entry.get("user_id", user_id) != user_id:
            raise InvalidInputError(f"export disclosure {i} belongs to {entry.get('user_id')!r}, not {user_id!r}.")
    return consent, [Disclosure.from_dict(entry, user_id, i) for i, entry in enumerate(raw)]


def parse_export(data: object, now: datetime) -> tuple[str, list[NewMemory], list[HistoryEntry]]:
    """Validate an export completely before anything is written: (user_id, memories, history)."""
    if not isinstance(data, Mapping) or data.get("format") != EXPORT_FORMAT:
        raise InvalidInputError("not a persona export: expected a dict with format 'persona.export'.")
    if data.get("schema_version") != EXPORT_SCHEMA_VERSION:
        raise InvalidInputError(
            f"export schema_version {data.get('schema_version')!r} is not supported "
            f"(this persona reads {EXPORT_SCHEMA_VERSION}); upgrade persona."
        )
    user_id = check_user_id(data.get("user_id"))
    raw = data.get("memories")
    if not isinstance(raw, list):
        raise InvalidInputError("export 'memories' must be a list.")
    items: list[NewMemory] = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, Mapping):
            raise InvalidInputError(f"memory {i}: must be an object.")
        if entry.get("user_id", user_id) != user_id:
            raise InvalidInputError(f"memory {i}: belongs to {entry.get('user_id')!r}, not {user_id!r}.")
        item = prepare_item({k: entry[k] for k in ITEM_FIELDS if k in entry}, now, i)
        memory_id = entry.get("id")
        if not isinstance(memory_id, str) or not memory_id:
            raise InvalidInputError(f"memory {i}: missing 'id'.")
        item.id = check_id(memory_id, what=f"memory {i} id")
        item.updated_at = check_time(entry.get("updated_at"), what=f"memory {i} updated_at")
        item.valid_to = check_time(entry.get("valid_to"), what=f"memory {i} valid_to")
        superseded_by = entry.get("superseded_by")
        if superseded_by is not None:
            superseded_by = check_id(superseded_by, what=f"memory {i} superseded_by")
        item.superseded_by = superseded_by
        items.append(item)
    raw_history = data.get("history")
    if raw_history is None:
        raw_history = []
    if not isinstance(raw_history, list):
        raise InvalidInputError(f"export 'history' must be a list, got {type(raw_history).__name__}.")
    history = [_history_entry(h, i) for i, h in enumerate(raw_history)]
    if history and not items:
        raise InvalidInputError("export has history but no memories; nothing to import.")
    return user_id, items, history


def _history_entry(entry: object, i: int) -> HistoryEntry:
    if not isinstance(entry, Mapping):
        raise InvalidInputError(f"history entry {i}: must be an object.")
    try:
        at = check_time(entry["at"], what=f"history entry {i} at", allow_none=False)
        assert at is not None
        text, kind = entry.get("text"), entry.get("kind")
        metadata, importance = entry.get("metadata"), entry.get("importance")
        event = entry["event"]
        if not isinstance(event, str) or not event:
            raise InvalidInputError(f"event must be a non-empty string, got {event!r}.")
        return HistoryEntry(
            memory_id=check_id(entry["memory_id"]),
            event=check_encodable(event, what="event"),
            at=at,
            text=None if text is None else check_text(text),
            kind=None if kind is None else check_kind(kind),
            metadata=None if metadata is None else check_metadata(metadata),
            importance=check_importance(importance),
        )
    except KeyError as exc:
        raise InvalidInputError(f"history entry {i}: missing {exc}.") from None
    except InvalidInputError as exc:
        raise InvalidInputError(f"history entry {i}: {exc}") from None


def history_to_import(
    history: Sequence[HistoryEntry], inserted: set[str], exported: set[str], taken: set[str]
) -> list[HistoryEntry]:
    """Which of an export's history entries an import writes, in order (issue #14, item 6).

    All entries of the memories it inserted (``inserted``). Entries of memories deleted before the export
    (ids in no exported memory) only when the id is unknown to the store (``taken`` holds the ids that have
    a memory or history there, any user's), and with their content purged, as after a delete. Nothing for
    an exported memory that was not inserted (it already existed under another id): its history would
    outlive that memory's deletion, or land on another user's memory.
    """
    out: list[HistoryEntry] = []
    for entry in history:
        if entry.memory_id in inserted:
            out.append(entry)
        elif entry.memory_id not in exported and entry.memory_id not in taken:
            out.append(replace(entry, text=None, kind=None, metadata=None, importance=None))
    return out
