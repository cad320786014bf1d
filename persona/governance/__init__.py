"""Governance of what a store keeps about its users and whom it shows it to (issue #17, part B).

* `retention`: per-kind times to live (`RetentionPolicy`), the durations they are written in, and the
  typed result of a sweep (`SweepResult`).
* `records`: a user's `Consent` (learning, personalization, their own retention) and the `Disclosure` log
  (which memories went to which model, when, for which reply).

Pure values and their validation: the store writes them (`persona.store.base.GovernanceLog`), the client
applies them (`persona.client_governance`).
"""

from __future__ import annotations

from .records import Consent, Disclosure
from .retention import RETENTION_KINDS, RetentionPolicy, SweepResult, format_duration, parse_duration

__all__ = [
    "RETENTION_KINDS",
    "Consent",
    "Disclosure",
    "RetentionPolicy",
    "SweepResult",
    "format_duration",
    "parse_duration",
]
