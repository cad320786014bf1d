"""The offline rules, part four: endings that name no value, and the slots a change most often hides in.

* a relationship that ends without a name ("we're not together anymore", "we split up", "I'm single
  now"), or a partner who died ("my husband Geoffrey passed away"): the partner slot ends, whatever its
  current value (an ending whose ``value`` is empty ends the current value of its key);
* a car: "I drive a Honda Civic", "my car is a Kia EV6"; "I sold the Civic" ends it (the value is matched
  against the current memories, `persona.learning.supersede`).

Every rule here reads a first-person statement and keeps its facts only when they end a known memory
(``store="ends"``), so a denial said to correct the assistant states nothing new.
"""

from __future__ import annotations

import re

from .rules import clean, proper, rule
from .slots import Fact

__all__: list[str] = []

_SPOUSE = r"(?:wife|husband|partner|girlfriend|boyfriend|fianc[ée]e?|spouse)"


@rule(
    r"^(?:we(?:'re| are)\s+(?:not together|no longer together|over|done|separated|divorced|getting divorced)|"
    r"we\s+(?:just\s+|finally\s+|have\s+|'ve\s+)?(?:broke up|split(?: up)?|separated|divorced|got divorced|got separated|"
    r"called it quits|went our separate ways)|"
    r"i(?:'m| am)\s+(?:single|divorced|separated|a widow|a widower|widowed)(?:\s+(?:again|now))?)\b.*$",
    first=True,
)
def _we_ended(m: re.Match[str]) -> list[Fact]:
    return [Fact("I'm no longer with my partner.", "profile", "partner", "", negated=True, store="ends")]


@rule(
    rf"^my\s+(?:late\s+)?(?:ex-?)?{_SPOUSE}\s+(?P<x>[A-Z][\w'-]*)\s+(?:passed away|died|passed)\b.*$", first=True
)
def _spouse_died(m: re.Match[str]) -> list[Fact]:
    name = m["x"]
    return [Fact(f"{name} passed away.", "profile", "partner", name, negated=True, store="ends")]


@rule(r"^(?:i|we)\s+(?:now\s+)?drive\s+(?:an?|the|my)\s+(?P<x>[\w -]{2,40})$")
def _drives(m: re.Match[str]) -> list[Fact]:
    car = proper(m["x"])
    return [Fact(f"I drive a {car}.", "fact", "car", car)] if car else []


@rule(r"^my\s+(?:new\s+)?car\s+is\s+(?:an?\s+)?(?P<x>[\w -]{2,40})$")
def _my_car(m: re.Match[str]) -> list[Fact]:
    car = proper(m["x"])
    return [Fact(f"I drive a {car}.", "fact", "car", car)] if car else []


@rule(r"^(?:i|we)(?:'ve| have)?\s+(?:just\s+|finally\s+)?(?:sold|got rid of|scrapped)\s+(?:the|my|our)\s+(?P<x>.+?)(?:\s+and\b.*)?$")
def _sold(m: re.Match[str]) -> list[Fact]:
    said = re.split(r",|\s+(?:in the end|at last|finally|for\b|to\b|because\b)", m["x"], maxsplit=1)[0]
    thing = proper(said) or clean(said)
    if not thing:
        return []
    facts = [Fact(f"I no longer have the {thing}.", "fact", "car", thing, negated=True, store="ends")]
    bought = re.search(r"\band\s+(?:i\s+|we\s+)?(?:bought|got)\s+(?:an?|the)\s+(?:new\s+)?(?P<y>[A-Z][\w-]*(?:\s+[A-Z0-9][\w-]*)*)",
                       m.group(0))
    if bought:  # "sold the Civic and bought a Kia EV6": the new one is in the slot the old one held
        facts.append(Fact(f"I have a {bought['y']} now.", "fact", "car", bought["y"]))
    return facts
