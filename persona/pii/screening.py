"""What a store does with PII when a memory is written: `PiiPolicy`.

``Persona(..., pii=...)`` takes an action, a dict of detector name -> action, or a `PiiPolicy`:

- ``keep``: store the text as it is;
- ``label`` (the default): store it as it is, and give a memory labelled ``normal`` the sensitivity the
  detector suggests (a card number makes it ``financial``, so it reaches only trusted models); a label
  the caller chose otherwise is kept;
- ``mask``: replace each span in the stored text with its mask (``[EMAIL]``, ``[CARD]``, ...); the
  original is not kept anywhere;
- ``reject``: refuse the write with `InvalidInputError`, naming the detector and the position of the span
  (never its text).

A dict names actions per detector (``{"card": "reject", "email": "mask"}``); detectors it does not name use
its ``"*"`` entry, else ``keep``. `persona.memories.Memories` screens every write in one place (``add``,
``add_many``, ``update`` of the text, ``import_user`` and the turns chat learns from): the text and the
metadata's top-level string values, before anything is embedded, so search runs on what is stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInputError
from .detectors import Detector, Span, default_detectors, detect
from .labels import stronger

__all__ = ["PII_ACTIONS", "PiiPolicy", "Screened"]

PII_ACTIONS: tuple[str, ...] = ("keep", "label", "mask", "reject")


@dataclass(frozen=True)
class Screened:
    """A text after screening: what to store, the sensitivity to store it with, and what was found."""

    text: str
    sensitivity: str | None
    spans: list[Span]


@dataclass(frozen=True)
class PiiPolicy:
    """Per-detector actions (`PII_ACTIONS`) and the detectors to run (default: the built-ins, plus
    ``extra_detectors`` after them)."""

    actions: str | Mapping[str, str] = "label"
    detectors: Sequence[Detector] | None = None
    extra_detectors: Sequence[Detector] = ()
    _table: dict[str, str] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        found = [*(default_detectors() if self.detectors is None else self.detectors), *self.extra_detectors]
        for detector in found:
            if not isinstance(detector, Detector) or not isinstance(getattr(detector, "name", None), str):
                raise InvalidInputError(
                    f"a PII detector needs a name and detect(text) -> spans, got {type(detector).__name__}."
                )
        object.__setattr__(self, "detectors", tuple(found))
        names = {d.name for d in found}
        if isinstance(self.actions, str):
            table = {name: self._action(self.actions, "pii") for name in names}
        elif isinstance(self.actions, Mapping):
            unknown = set(self.actions) - names - {"*"}
            if unknown:
                raise InvalidInputError(
                    f"pii names unknown detector(s) {sorted(unknown)}; known: {', '.join(sorted(names))} (or '*')."
                )
            default = self._action(self.actions.get("*", "keep"), "pii['*']")
            table = {n: self._action(self.actions.get(n, default), f"pii[{n!r}]") for n in names}
        else:
            raise InvalidInputError(
                f"pii must be one of {', '.join(PII_ACTIONS)}, a dict of detector -> action, or a PiiPolicy; "
                f"got {type(self.actions).__name__}."
            )
        object.__setattr__(self, "_table", table)

    @staticmethod
    def _action(value: object, what: str) -> str:
        if value not in PII_ACTIONS:
            raise InvalidInputError(f"{what} must be one of {', '.join(PII_ACTIONS)}, got {value!r}.")
        return str(value)

    @classmethod
    def of(cls, value: str | Mapping[str, str] | PiiPolicy) -> PiiPolicy:
        """A policy from what ``Persona(pii=...)`` accepts."""
        return value if isinstance(value, PiiPolicy) else cls(actions=value)

    def action(self, detector: str) -> str:
        """What happens to a span found by ``detector``."""
        return self._table.get(detector, "keep")

    @property
    def active(self) -> bool:
        """Whether any detector's action is other than ``keep`` (else writes skip detection)."""
        return any(action != "keep" for action in self._table.values())

    def screen(self, text: str, sensitivity: str | None, *, where: str = "") -> Screened:
        """``text`` as the policy stores it, and the sensitivity to store it with (None: the caller's, or
        ``normal``). Raises `InvalidInputError` for a span whose detector rejects."""
        if not self.active:
            return Screened(text, sensitivity, [])
        assert self.detectors is not None
        spans = detect(text, self.detectors)
        if not spans:
            return Screened(text, sensitivity, [])
        suggested: str | None = None
        masked = text
        for span in reversed(spans):  # from the end, so earlier offsets stay valid
            act = self.action(span.detector)
            if act == "reject":
                first = next(s for s in spans if self.action(s.detector) == "reject")
                raise InvalidInputError(
                    f"{where}the text holds {_article(first.label)} {first.label.lower().replace('_', ' ')} "
                    f"(detector {first.detector!r}) at characters {first.start}-{first.end}; remove it, or "
                    f"open the store with Persona(pii={{{first.detector!r}: 'mask'}}) to store it masked."
                )
            if act == "mask":
                masked = masked[: span.start] + f"[{span.label}]" + masked[span.end :]
            elif act == "label":
                suggested = span.sensitivity if suggested is None else stronger(suggested, span.sensitivity)
        label = sensitivity
        if suggested is not None and sensitivity in (None, "normal"):
            label = suggested
        return Screened(masked, label, spans)

    def screen_metadata(self, metadata: dict[str, Any], *, where: str = "") -> dict[str, Any]:
        """The metadata with its top-level string values screened as text (masked, or refused)."""
        if not self.active:
            return metadata
        out = dict(metadata)
        for key, value in metadata.items():
            if isinstance(value, str) and value.strip():
                out[key] = self.screen(value, None, where=f"{where}metadata[{key!r}]: ").text
        return out


def _article(label: str) -> str:
    return "an" if label[:1] in "AEIOU" else "a"
