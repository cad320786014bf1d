"""Governance of what persona stores and shows: sensitivity labels, their routing to models, PII at write time.

- `persona.pii.labels`: the built-in sensitivity labels and `SensitivityPolicy`, which says which labels may
  reach which models (the prompt layer asks it for every memory it hands to prompting).
- `persona.pii.detectors`: the `Detector` protocol and the built-in detectors (emails, phones, cards, IBANs,
  national ids, IP addresses, street addresses), each returning `Span`s.
- `persona.pii.screening`: `PiiPolicy`, what a store does with detected PII when a memory is written
  (keep, label, mask or reject), applied in one place by `persona.memories.Memories`.

Nothing here imports numpy or any heavy library; the optional Presidio adapter imports it when first used.
"""

from __future__ import annotations

from .detectors import BUILTIN_DETECTORS, Detector, Span, detect
from .labels import BUILTIN_LABELS, SENSITIVE_LABELS, SensitivityPolicy
from .screening import PII_ACTIONS, PiiPolicy, Screened

__all__ = [
    "BUILTIN_DETECTORS",
    "BUILTIN_LABELS",
    "PII_ACTIONS",
    "SENSITIVE_LABELS",
    "Detector",
    "PiiPolicy",
    "Screened",
    "SensitivityPolicy",
    "Span",
    "detect",
]
