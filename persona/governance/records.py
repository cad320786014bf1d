"""A user's `Consent`, and the `Disclosure` log: which memories went to which model, when, for which reply."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..errors import InvalidInputError
from ..validation import check_encodable, check_id
from .retention import check_ttls, format_duration

__all__ = ["Consent", "Disclosure"]


@dataclass(frozen=True)
class Consent:
    """What a user agreed to. A user who never set any has the defaults: everything on, the store's retention.

    * ``learning`` off: chat stores nothing of their turns (as ``chat(..., learn=False)``).
    * ``personalization`` off: their prompts carry none of their memories, whatever the strategy or template.
    * ``retention``: their own times to live per kind, over the store's policy (None: keep that kind forever).
    """

    user_id: str
    learning: bool = True
    personalization: bool = True
    retention: dict[str, timedelta | None] = field(default_factory=dict)
    updated_at: datetime | None = None
    """When it was last set; None for the defaults."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "learning": self.learning,
            "personalization": self.personalization,
            "retention": {k: format_duration(v) for k, v in sorted(self.retention.items())},
            "updated_at": None if self.updated_at is None else self.updated_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: object, user_id: str) -> Consent:
        """The consent an export holds (`to_dict`), validated."""
        if not isinstance(data, Mapping):
            raise InvalidInputError(f"export 'consent' must be an object, got {type(data).__name__}.")
        flags = {}
        for name in ("learning", "personalization"):
            value = data.get(name, True)
            if not isinstance(value, bool):
                raise InvalidInputError(f"export consent {name!r} must be true or false, got {value!r}.")
            flags[name] = value
        updated = data.get("updated_at")
        try:
            at = None if updated is None else datetime.fromisoformat(str(updated))
        except ValueError:
            raise InvalidInputError(f"export consent updated_at {updated!r} is not an ISO 8601 time.") from None
        retention = check_ttls(data.get("retention") or {}, what="export consent retention", allow_forever=True)
        return cls(user_id, flags["learning"], flags["personalization"], retention, at)


@dataclass(frozen=True)
class Disclosure:
    """One prompt that carried a user's memories: which ones, to which model and provider, when.

    ``reply_id`` is the chat reply it was sent for; None for a bare `Persona.prompt` (the caller sends it,
    ``model`` is the one it was rendered for). Memory ids only: the log holds no memory text.
    """

    user_id: str
    at: datetime
    model: str
    provider: str
    memory_ids: list[str]
    reply_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "at": self.at.isoformat(),
            "model": self.model,
            "provider": self.provider,
            "memory_ids": list(self.memory_ids),
            "reply_id": self.reply_id,
        }

    @classmethod
    def from_dict(cls, data: object, user_id: str, i: int) -> Disclosure:
        """A disclosure an export holds (`to_dict`), validated."""
        where = f"export disclosure {i}"
        if not isinstance(data, Mapping):
            raise InvalidInputError(f"{where} must be an object.")
        try:
            at = datetime.fromisoformat(str(data["at"]))
            model, provider, ids = data["model"], data["provider"], data["memory_ids"]
        except KeyError as exc:
            raise InvalidInputError(f"{where}: missing {exc}.") from None
        except ValueError:
            raise InvalidInputError(f"{where}: 'at' is not an ISO 8601 time.") from None
        if at.tzinfo is None:
            raise InvalidInputError(f"{where}: 'at' must carry a UTC offset.")
        reply_id = data.get("reply_id")
        if not isinstance(model, str) or not isinstance(provider, str) or not model:
            raise InvalidInputError(f"{where}: 'model' and 'provider' must be text.")
        if not isinstance(ids, list) or not all(isinstance(m, str) and m for m in ids):
            raise InvalidInputError(f"{where}: 'memory_ids' must be a list of ids.")
        if reply_id is not None and (not isinstance(reply_id, str) or not reply_id):
            raise InvalidInputError(f"{where}: 'reply_id' must be an id or null.")
        return cls(
            user_id,
            at,
            check_encodable(model, what=f"{where} model"),
            check_encodable(provider, what=f"{where} provider"),
            [check_id(m, what=f"{where} memory id") for m in ids],
            None if reply_id is None else check_id(reply_id, what=f"{where} reply_id"),
        )
