"""The offline rules, part nine: standing requests about what answers use.

* units: "I always want recipes in metric, never cups", "please use imperial";
* the language of code examples: "from now on, rust examples please", "python examples only please".

How long and in what form answers should be is read in `persona.learning.facts` (``answer_length``).
"""

from __future__ import annotations

import re

from .rules import rule
from .slots import Fact

__all__: list[str] = []


@rule(
    r"^(?:i\s+(?:always\s+|only\s+|really\s+)?(?:want|prefer|need|use|like)|(?:please\s+|pls\s+|just\s+|always\s+)*"
    r"(?:use|give|keep|stick to|do|write))\b[^,]*?\b(?P<u>metric|imperial|celsius|fahrenheit)\b.*$"
)
def _units(m: re.Match[str]) -> list[Fact]:
    u = m["u"].lower()
    return [Fact(f"I prefer {u} units.", "preference", "units", u)]


@rule(
    r"^(?:from now on,?\s+|just\s+|only\s+)?(?P<x>[A-Za-z][\w#+.-]{0,15})\s+(?:examples|code|snippets)"
    r"(?:\s+only)?,?\s+(?:please|pls)$"
)
def _examples_in(m: re.Match[str]) -> list[Fact]:
    """ "rust examples please": the language code examples should be in."""
    x = m["x"]
    if x.lower() in ("more", "some", "the", "any", "good", "short", "simple", "real", "code", "your", "no"):
        return []
    return [Fact(f"I want code examples in {x[:1].upper() + x[1:]}.", "preference", "code_language", x.lower())]
