"""Sensitivity labels and the routing policy: which labels may reach which models.

Every memory has one label (`persona.types.Memory.sensitivity`, default ``normal``). The built-ins are
``normal``, ``personal``, ``health``, ``financial`` and ``secret``; an operator adds more by naming them in
the policy's rules. A rule is one of:

- ``any``: every model may see memories with this label;
- ``trusted``: only local models (``local/...``) and the models the operator trusts (``trusted_models``);
- ``local``: only local models;
- ``never``: no prompt carries them.

By default ``normal`` and ``personal`` go to any model, and ``health``, ``financial`` and ``secret`` only to
trusted ones. A label the policy does not know (a store written with another configuration) is treated as
``trusted``: the policy fails closed.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import InvalidInputError
from ..validation import check_sensitivity

__all__ = [
    "BUILTIN_LABELS",
    "DEFAULT_RULES",
    "LOCAL_PREFIX",
    "RULES",
    "SENSITIVE_LABELS",
    "SensitivityPolicy",
    "check_label_name",
]

BUILTIN_LABELS: tuple[str, ...] = ("normal", "personal", "health", "financial", "secret")
SENSITIVE_LABELS: tuple[str, ...] = ("health", "financial", "secret")
"""The labels that by default reach only local or trusted models."""
RULES: tuple[str, ...] = ("any", "trusted", "local", "never")
DEFAULT_RULES: dict[str, str] = {
    "normal": "any",
    "personal": "any",
    "health": "trusted",
    "financial": "trusted",
    "secret": "trusted",
}
LOCAL_PREFIX = "local/"
# How strong a label is, when several detectors suggest one for the same text (the strongest wins).
_RANK = {"normal": 0, "personal": 1, "health": 3, "financial": 3, "secret": 4}


def check_label_name(value: object, *, what: str = "sensitivity") -> str:
    """A label's spelling (`persona.validation.check_sensitivity`)."""
    label = check_sensitivity(value, what=what)
    assert label is not None
    return label


def stronger(a: str, b: str) -> str:
    """The stronger of two labels (a label the ranking does not know counts as between personal and health)."""
    return a if _RANK.get(a, 2) >= _RANK.get(b, 2) else b


@dataclass(frozen=True)
class SensitivityPolicy:
    """Which sensitivity labels may reach which models.

    ``rules`` maps labels to ``any``/``trusted``/``local``/``never`` and is laid over `DEFAULT_RULES` (so
    ``{"legal": "trusted"}`` adds a label, ``{"personal": "trusted"}`` tightens one). ``trusted_models``
    are model names, exact or with shell wildcards (``"azure/*"``), that may see ``trusted`` labels.
    ``normal`` always goes to every model.
    """

    rules: Mapping[str, str] = field(default_factory=dict)
    trusted_models: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.rules, Mapping):
            raise InvalidInputError(
                f"sensitivity rules must be a dict of label -> rule, got {type(self.rules).__name__}."
            )
        merged = dict(DEFAULT_RULES)
        for label, rule in self.rules.items():
            check_label_name(label, what="a sensitivity label")
            if rule not in RULES:
                raise InvalidInputError(
                    f"the rule for sensitivity {label!r} must be one of {', '.join(RULES)}, got {rule!r}."
                )
            if label == "normal" and rule != "any":
                raise InvalidInputError(
                    "'normal' memories go to every model; give other labels stricter rules."
                )
            merged[label] = str(rule)
        object.__setattr__(self, "rules", merged)
        if isinstance(self.trusted_models, str) or not isinstance(self.trusted_models, Iterable):
            raise InvalidInputError(
                f"trusted_models must be a list of model names, got {type(self.trusted_models).__name__}."
            )
        models = tuple(self.trusted_models)
        for name in models:
            if not isinstance(name, str) or not name.strip():
                raise InvalidInputError(
                    f"trusted_models must hold model names such as 'azure/gpt-4o', got {name!r}."
                )
        object.__setattr__(self, "trusted_models", models)

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label a memory may carry: the built-ins and the ones the rules add."""
        return tuple(self.rules)

    def check(self, label: object, *, what: str = "sensitivity") -> str:
        """``label`` if the policy knows it, else `InvalidInputError` naming the known ones."""
        name = check_label_name(label, what=what)
        if name not in self.rules:
            raise InvalidInputError(
                f"{what} {name!r} is not a known label; use one of {', '.join(self.rules)}, or add it with "
                f"Persona(..., sensitivity_rules={{{name!r}: 'trusted'}})."
            )
        return name

    def is_local(self, model: str) -> bool:
        return model.startswith(LOCAL_PREFIX)

    def is_trusted(self, model: str) -> bool:
        return self.is_local(model) or any(
            model == pattern or fnmatch.fnmatchcase(model, pattern) for pattern in self.trusted_models
        )

    def allows(self, label: str, model: str) -> bool:
        """Whether a memory labelled ``label`` may appear in a prompt for ``model``."""
        rule = self.rules.get(label, "trusted")
        if rule == "any":
            return True
        if rule == "trusted":
            return self.is_trusted(model)
        if rule == "local":
            return self.is_local(model)
        return False

    def blocked(self, model: str) -> frozenset[str]:
        """The known labels ``model`` may not see (unknown labels are refused too, by `allows`)."""
        return frozenset(label for label in self.rules if not self.allows(label, model))

    def reason(self, label: str, model: str) -> str:
        """Why ``model`` may not see ``label`` memories, in words."""
        rule = self.rules.get(label, "trusted")
        if rule == "never":
            return f"{label}: never sent to any model"
        if rule == "local":
            return f"{label}: only local models (local/...), not {model}"
        return f"{label}: only local (local/...) or trusted models (Persona(trusted_models=...)), not {model}"
