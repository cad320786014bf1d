"""The `Persona` methods for privacy: retention (`sweep`), `consent` / `set_consent` and `disclosures`, and their
async twins.

`Persona` inherits these from `GovernanceMethods`. The policies and typed results are in
`persona.governance`; the rows are the store's (`persona.store.base.GovernanceLog`). A sweep erases through
the store's erasing path and tells the index cache through the `Change` the store reports, as ``delete``
does; consent is read by every prompt and chat turn (`persona.client_chat`).
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .errors import InvalidInputError
from .governance.records import Consent, Disclosure
from .governance.retention import RETENTION_KINDS, RetentionPolicy, SweepResult, check_ttls
from .store.base import Expiry
from .validation import check_positive_int, check_time, check_user_id

if TYPE_CHECKING:
    from .memories import Memories

__all__ = ["GovernanceMethods"]


class GovernanceMethods:
    """Retention, consent and the disclosure log for `persona.Persona` (which sets the attributes below)."""

    retention: RetentionPolicy
    _memories: Memories

    def _check_open(self) -> None:
        raise NotImplementedError

    # -- retention -------------------------------------------------------------------------------------------

    def sweep(self, *, dry_run: bool = False) -> SweepResult:
        """Erase what outlived its time to live: the store's ``retention`` policy, or a user's own (their
        consent). Erased as ``delete`` erases (no text left in the store, its history or index files).
        ``dry_run=True`` only counts. Runs when the store opens; the service runs it on a schedule."""
        self._check_open()
        if not isinstance(dry_run, bool):
            raise InvalidInputError(f"dry_run must be True or False, got {dry_run!r}.")
        started = time.perf_counter()
        now = self._memories.now()
        store = self._memories.store
        overrides = {
            user: {k: None if v is None else timedelta(seconds=v) for k, v in kinds.items()}
            for user, kinds in store.retention_overrides().items()
        }
        rules = [
            Expiry(kind, (now - ttl).timestamp(), tuple(sorted(u for u, o in overrides.items() if kind in o)))
            for kind, ttl in self.retention.ttl.items()
        ]
        for user, own in overrides.items():
            rules += [Expiry(k, (now - ttl).timestamp(), user_id=user) for k, ttl in own.items() if ttl is not None]
        found = store.expired(rules) if rules else {}
        if dry_run or not found:
            return SweepResult(now, dry_run, found, time.perf_counter() - started)
        if any(kind not in ("reply", "disclosure") for kinds in found.values() for kind in kinds):
            self._memories.cache.require_usable()  # index files must go too: refuse before erasing
        erased: dict[str, dict[str, int]] = {}
        for user, kinds in sorted(found.items()):
            policy = self.retention.for_user(overrides.get(user, {}))
            ttls = [(k, (now - policy[k]).timestamp()) for k in RETENTION_KINDS if k in kinds and k in policy]
            counts, change = store.erase_expired(user, ttls, now=now)
            if change is not None:
                self._memories.cache.apply(change)
            if counts:
                erased[user] = counts
        return SweepResult(now, False, erased, time.perf_counter() - started)

    # -- consent ---------------------------------------------------------------------------------------------

    def consent(self, user_id: str) -> Consent:
        """The user's consent; the defaults (learning and personalization on, the store's retention) when
        they never set any."""
        self._check_open()
        user_id = check_user_id(user_id)
        return self._memories.store.get_consent(user_id) or Consent(user_id)

    def set_consent(
        self,
        user_id: str,
        *,
        learning: bool | None = None,
        personalization: bool | None = None,
        retention: Mapping[str, timedelta | str | None] | None = None,
    ) -> Consent:
        """Set what the user agreed to; what is not passed stays as it was. ``learning=False``: chat stores
        nothing of their turns. ``personalization=False``: no memory of theirs reaches a prompt.
        ``retention``: their own times to live per kind (timedelta or '30d'; None keeps a kind forever;
        ``{}`` clears them), applied by the next sweep. Exported with the user; ``forget_user`` erases it."""
        self._check_open()
        user_id = check_user_id(user_id)
        for name, value in (("learning", learning), ("personalization", personalization)):
            if value is not None and not isinstance(value, bool):
                raise InvalidInputError(f"{name} must be True, False or None (unchanged), got {value!r}.")
        own = None if retention is None else check_ttls(retention, what="retention", allow_forever=True)
        current = self.consent(user_id)
        updated = replace(
            current,
            learning=current.learning if learning is None else learning,
            personalization=current.personalization if personalization is None else personalization,
            retention=current.retention if own is None else own,
            updated_at=self._memories.now(),
        )
        self._memories.store.set_consent(updated)
        return updated

    # -- disclosures -----------------------------------------------------------------------------------------

    def disclosures(
        self,
        user_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> builtins.list[Disclosure]:
        """Which of the user's memories went to which model (and provider), when, for which reply: every
        prompt that carried memories, newest first (``since`` inclusive, ``until`` exclusive)."""
        self._check_open()
        return self._memories.store.disclosures(
            check_user_id(user_id),
            since=check_time(since, what="since"),
            until=check_time(until, what="until"),
            limit=None if limit is None else check_positive_int(limit, what="limit"),
        )

    # -- async twins ---------------------------------------------------------------------------------------------

    async def asweep(self, *, dry_run: bool = False) -> SweepResult:
        """The async twin of `sweep`."""
        import asyncio

        return await asyncio.to_thread(self.sweep, dry_run=dry_run)

    async def aconsent(self, user_id: str) -> Consent:
        """The async twin of `consent`."""
        import asyncio

        return await asyncio.to_thread(self.consent, user_id)

    async def aset_consent(
        self,
        user_id: str,
        *,
        learning: bool | None = None,
        personalization: bool | None = None,
        retention: Mapping[str, timedelta | str | None] | None = None,
    ) -> Consent:
        """The async twin of `set_consent`."""
        import asyncio

        return await asyncio.to_thread(
            self.set_consent, user_id, learning=learning, personalization=personalization, retention=retention
        )

    async def adisclosures(
        self,
        user_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> builtins.list[Disclosure]:
        """The async twin of `disclosures`."""
        import asyncio

        return await asyncio.to_thread(self.disclosures, user_id, since=since, until=until, limit=limit)
