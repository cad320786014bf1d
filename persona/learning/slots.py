"""A fact about the user and the slot it fills.

Each ``Fact`` may carry a ``key``: the slot it fills. A key without a colon is single-valued (``name``,
``location``, ``job``): a new value supersedes the old one. A key with a colon names one thing
(``likes:coffee``, ``allergy:peanuts``): only its negation supersedes it.

``store`` says when chat keeps the fact: ``"always"``; ``"ends"``, only when it ends a current memory
("I'm not vegetarian anymore" once "I'm vegetarian" is known; said to correct the assistant, "I'm not
vegetarian lol", it states nothing new); ``"fills"``, only when its slot is empty ("my wife" once her name
is known adds nothing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["FACT_KINDS", "Fact", "norm_value"]

FACT_KINDS = ("fact", "preference", "profile")


@dataclass(frozen=True)
class Fact:
    """One statement about the user, in the first person as the user would say it ("I live in Berlin."), like
    the memories an app stores with ``add``: a profile reads in one voice."""

    text: str
    kind: str = "fact"
    key: str | None = None
    value: str | None = None
    negated: bool = False
    store: str = "always"

    def metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.key:
            out["key"] = self.key
            out["value"] = norm_value(self.value or "")
            out["negated"] = self.negated
        return out


def norm_value(value: str) -> str:
    """A value as compared across facts: lower case, words only."""
    return " ".join(re.findall(r"[\w'-]+", value.lower()))
