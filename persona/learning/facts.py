"""Facts a user states about themselves, and the offline rules that find them.

``extract_rules(message)`` is the offline default: first-person statements such as "my name is ...",
"I live in ...", "I'm allergic to ...", "I prefer ...", "I (don't) like ...", "my favorite X is ...".
The model-based extractor is in `persona.learning.llm_facts`; storing facts and superseding what they
contradict is in `persona.learning.supersede`.

Each ``Fact`` may carry a ``key``: the slot it fills. A key without a colon is single-valued (``name``,
``location``, ``job``): a new value supersedes the old one. A key with a colon names one thing
(``likes:coffee``, ``allergy:peanuts``): only its negation supersedes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["FACT_KINDS", "Fact", "extract_rules", "norm_value"]

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

    def metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.key:
            out["key"] = self.key
            out["value"] = norm_value(self.value or "")
            out["negated"] = self.negated
        return out


# -- rules ---------------------------------------------------------------------------------------------------

_FILLER = re.compile(
    r"^(?:(?:well|so|oh|ok|okay|also|actually|btw|by the way|and|but|hey|hi|hello|fyi|just so you know|"
    r"just to let you know|remember(?: that)?|note(?: that)?|for the record)[,:!]?\s+)+",
    re.I,
)
_TRAILING = re.compile(
    r"(?:[\s,]+(?:now|nowadays|these days|currently|at the moment|right now|anymore|any more|again|too|"
    r"as well|actually|though|lately|recently|by the way|btw|thanks|thank you|lol|haha|since \d{4}|"
    r"(?:last|this) (?:year|month|week|summer|winter|spring|fall|autumn)|a (?:while|year|month|week) ago|"
    r"(?:for )?(?:a few|several|\w+|\d+) (?:years|months|weeks|days)(?: ago| now)?))+$",
    re.I,
)
_SPLIT = re.compile(r"(?<=[.!;])\s+|\n+|,?\s+(?:and|but|also|plus|so)\s+(?=(?:i|i'm|i've|i am|my)\b)", re.I)
_NOT_A_STATEMENT = re.compile(
    r"^(?:if|when|whether|would|could|should|do|does|did|can|what|where|who|why|how)\b", re.I
)
_LIST = re.compile(r"\s*(?:,\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+)\s*", re.I)
_HEALTH = r"lactose intolerant|gluten intolerant|celiac|coeliac|diabetic|pregnant"

# (pattern, builder). Builders get the match and return facts; X is the captured object.
_Builder = Callable[["re.Match[str]"], list[Fact]]
_RULES: list[tuple[re.Pattern[str], _Builder]] = []


def _rule(pattern: str) -> Callable[[_Builder], _Builder]:
    def register(fn: _Builder) -> _Builder:
        _RULES.append((re.compile(pattern, re.I), fn))
        return fn

    return register


def norm_value(value: str) -> str:
    """A value as compared across facts: lower case, words only."""
    return " ".join(re.findall(r"[\w'-]+", value.lower()))


def _clean(value: str) -> str:
    return _TRAILING.sub("", value.strip().rstrip(".!,;: ")).strip().rstrip(".!,;: ")


def _items(value: str) -> list[str]:
    return [v for v in (_clean(x) for x in _LIST.split(value)) if v]


@_rule(r"^(?:my name is|my name's|i am called|i'm called|call me|people call me)\s+(?P<x>[\w .'-]{1,40})$")
def _name(m: re.Match[str]) -> list[Fact]:
    name = _clean(m["x"])
    return [Fact(f"My name is {name}.", "profile", "name", name)] if name else []


@_rule(
    r"^i(?:'ve| have|'m| am)?\s*(?:just |recently |finally )?(?:live|lived|living|based|reside|residing|moved|"
    r"relocated)\s+(?:in|at|to)\s+(?P<x>.+)$"
)
def _lives(m: re.Match[str]) -> list[Fact]:
    place = _clean(m["x"])
    return [Fact(f"I live in {place}.", "profile", "location", place)] if place else []


@_rule(r"^i\s+(?:don't|do not|no longer)\s+live\s+(?:in|at)\s+(?P<x>.+)$")
def _not_lives(m: re.Match[str]) -> list[Fact]:
    place = _clean(m["x"])
    return (
        [Fact(f"I no longer live in {place}.", "fact", "location", place, negated=True)]
        if place
        else []
    )


@_rule(r"^i(?:'m| am)\s+from\s+(?P<x>.+)$")
def _from(m: re.Match[str]) -> list[Fact]:
    place = _clean(m["x"])
    return [Fact(f"I'm from {place}.", "profile", "hometown", place)] if place else []


@_rule(
    r"^(?:i(?:'m| am)\s+(?:(?:very|severely|mildly|deathly|highly|really|quite|a bit|also)\s+)*allergic to|"
    r"i have an?\s+(?:\w+\s+)?allergy to)\s+(?P<x>.+)$"
)
def _allergic(m: re.Match[str]) -> list[Fact]:
    return [
        Fact(f"I'm allergic to {x}.", "fact", f"allergy:{norm_value(x)}", x) for x in _items(m["x"])
    ]


@_rule(r"^i(?:'m| am)\s+(?:not|no longer)\s+allergic to\s+(?P<x>.+)$")
def _not_allergic(m: re.Match[str]) -> list[Fact]:
    return [
        Fact(f"I'm not allergic to {x}.", "fact", f"allergy:{norm_value(x)}", x, negated=True)
        for x in _items(m["x"])
    ]


@_rule(rf"^i(?:'m| am)\s+(?P<x>{_HEALTH})$")
def _health(m: re.Match[str]) -> list[Fact]:
    x = m["x"].lower()
    return [Fact(f"I'm {x}.", "fact", f"health:{norm_value(x)}", x)]


@_rule(
    r"^i(?:'m| am)\s+(?:(?:a|an|now|now a|strictly|strictly a)\s+)?(?P<x>vegetarian|vegan|pescatarian|omnivore)$"
)
def _diet(m: re.Match[str]) -> list[Fact]:
    x = m["x"].lower()
    return [Fact(f"I'm {x}.", "profile", "diet", x)]


@_rule(r"^i(?:'m| am)\s+(?P<x>\d{1,3})(?:\s+years?\s+old|\s*y/?o)?$")
def _age(m: re.Match[str]) -> list[Fact]:
    return [Fact(f"I'm {m['x']} years old.", "profile", "age", m["x"])]


@_rule(r"^i\s+work\s+as\s+(?P<x>.+)$")
def _job(m: re.Match[str]) -> list[Fact]:
    job = _clean(m["x"])
    bare = re.sub(r"^(?:an?|the)\s+", "", job, flags=re.I)
    return [Fact(f"I work as {job}.", "profile", "job", bare)] if job else []


@_rule(r"^i\s+(?:work|am working|'m working)\s+(?:at|for)\s+(?P<x>.+)$")
def _employer(m: re.Match[str]) -> list[Fact]:
    where = _clean(m["x"])
    return [Fact(f"I work at {where}.", "profile", "employer", where)] if where else []


@_rule(r"^my\s+(?:favou?rite)\s+(?P<what>[\w -]{1,30}?)\s+(?:is|are)\s+(?P<x>.+)$")
def _favorite(m: re.Match[str]) -> list[Fact]:
    what, x = norm_value(m["what"]), _clean(m["x"])
    key = "favorite_" + what.replace(" ", "_")
    return [Fact(f"My favorite {what} is {x}.", "preference", key, x)] if x else []


@_rule(r"^i\s+(?:would\s+|'d\s+)?(?:really\s+|much\s+|generally\s+|usually\s+|always\s+)?prefer\s+(?P<x>.+)$")
def _prefer(m: re.Match[str]) -> list[Fact]:
    x = _clean(m["x"])
    head = re.split(r"\s+(?:over|to|rather than|instead of)\s+", x, maxsplit=1)[0]
    return [Fact(f"I prefer {x}.", "preference", f"likes:{norm_value(head)}", head)] if x else []


@_rule(r"^i\s+(?:really\s+|absolutely\s+|do\s+|also\s+)?(?P<v>like|love|enjoy|adore)\s+(?P<x>.+)$")
def _likes(m: re.Match[str]) -> list[Fact]:
    verb = m["v"].lower()
    return [Fact(f"I {verb} {x}.", "preference", f"likes:{norm_value(x)}", x) for x in _items(m["x"])]


@_rule(
    r"^i\s+(?P<v>(?:(?:really\s+)?(?:don't|do not|no longer|never)\s+(?:really\s+)?(?:like|enjoy|love|eat|drink)|"
    r"(?:really\s+)?(?:hate|dislike|detest|can't stand|cannot stand|can not stand)|"
    r"(?:can't|cannot|can not|can no longer)\s+(?:eat|drink|have|handle|tolerate|stomach)))\s+(?P<x>.+)$"
)
def _dislikes(m: re.Match[str]) -> list[Fact]:
    verb = " ".join(m["v"].lower().split())  # the user's own words: "can't eat" is not "don't like"
    return [
        Fact(f"I {verb} {x}.", "preference", f"likes:{norm_value(x)}", x, negated=True) for x in _items(m["x"])
    ]


@_rule(r"^i\s+speak\s+(?P<x>.+)$")
def _speaks(m: re.Match[str]) -> list[Fact]:
    return [Fact(f"I speak {x}.", "fact", f"speaks:{norm_value(x)}", x) for x in _items(m["x"])]


@_rule(r"^my\s+birthday\s+is\s+(?:on\s+)?(?P<x>.+)$")
def _birthday(m: re.Match[str]) -> list[Fact]:
    x = _clean(m["x"])
    return [Fact(f"My birthday is {x}.", "profile", "birthday", x)] if x else []


@_rule(
    r"^i\s+have\s+(?P<x>(?:a|an|one|two|three|four|five|\d+)\s+(?:[\w-]+\s+){0,2}"
    r"(?:dogs?|cats?|kids?|children|sons?|daughters?|brothers?|sisters?|pets?|birds?|horses?|rabbits?)"
    r"(?:\s+(?:named|called)\s+[\w ,'-]+)?)$"
)
def _has(m: re.Match[str]) -> list[Fact]:
    x = _clean(m["x"])
    return [Fact(f"I have {x}.", "fact", None, x)] if x else []


def extract_rules(message: str) -> list[Fact]:
    """The facts that first-person statements in ``message`` state (offline, deterministic)."""
    facts: list[Fact] = []
    for raw in _SPLIT.split(message):
        clause = _FILLER.sub("", raw.strip().strip("\"'")).strip()
        if not clause or clause.endswith("?") or _NOT_A_STATEMENT.match(clause) or len(clause) > 300:
            continue
        clause = re.sub(r"\s+", " ", clause.rstrip(".!;,: ")).replace("’", "'")
        for pattern, build in _RULES:
            match = pattern.match(clause)
            if match:
                facts.extend(f for f in build(match) if 0 < len(f.value or f.text) <= 120)
                break
    return list(dict.fromkeys(facts))
