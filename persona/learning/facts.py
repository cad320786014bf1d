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
    r"^(?:(?:(?:well|so|oh|ok|okay|also|actually|btw|by the way|and|but|hey|hi|hello|fyi|just so you know|"
    r"just to let you know|remember(?: that)?|note(?: that)?|for the record|honestly|in general|generally|"
    r"turns out|it turns out|funny enough|incidentally|"
    r"anyway|hey there|hiya|howdy|oh and|oh also|ok so|so yeah)[,:!]?\s+)|"
    r"(?:(?:yeah|yes|no|nope|sure|update|quick update|big news|good news|bad news|fun fact|thanks|thx|"
    r"cool|nice|great|perfect|sounds good|true|good (?:morning|evening|afternoon)|g'day|hola|salut|hallo|"
    r"hei|oi|ciao)\s*[,:!.—–-]+\s*))+",
    re.I,
)
_TRAILING = re.compile(
    r"(?:[\s,]+(?:now|nowadays|these days|currently|only|at the moment|right now|anymore|any more|again|too|"
    r"as well|actually|though|lately|recently|by the way|btw|thanks|thank you|lol|haha|since \d{4}|after all|"
    r"for good|from now on|for now|"
    r"(?:last|this) (?:year|month|week|summer|winter|spring|fall|autumn)|a (?:while|year|month|week) ago|"
    r"(?:for )?(?:a few|several|\w+|\d+) (?:years|months|weeks|days)(?: ago| now)?))+$",
    re.I,
)
_SUBJECT = r"(?:i|i'm|i've|i am|i'd|i'll|my|we|we're|we've|we just)\b"
_BARE_START = (
    r"(?:live|living|work|working|based|studying|originally|moved|\d{1,3}(?:\s+years?\s+old)?\s*(?:,|$))"
)
_SPLIT = re.compile(
    rf"(?<=[.!?;])\s+|\n+|\s+[—–]\s+|\s+-\s+|"
    rf",?\s+(?:and|but|also|plus|so|though|because|since)\s+(?={_SUBJECT})|:\s+(?={_SUBJECT})|"
    rf",\s*(?={_SUBJECT}|{_BARE_START}|\S+ here\b)|(?<=\bhere),\s*|(?<=[\s,]\d\d),\s*|(?<=[\s,]\d),\s*",
    re.I,
)
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


_NOT_AN_OBJECT = re.compile(
    r"^(?:it|that|this|these|those|them|him|her|please|pls|not|with|so|i|i'm|to|everyone|everybody|when|how|"
    r"what|because|if|the way|the hotter|being|having|you|your|his|their|our|me)\b",
    re.I,
)


def _items(value: str) -> list[str]:
    """The objects of a list ("tea, coffee and cake"); none that read like a clause ("it tastes like soap")."""
    out = [v for v in (_clean(x) for x in _LIST.split(value)) if v]
    return [v for v in out if not _NOT_AN_OBJECT.match(v) and not re.search(r"\bi\b|\bi'm\b", v, re.I)]


def _proper(value: str) -> str | None:
    """The capitalized name a value starts with ("Pune last week for my wife's job" -> "Pune"), or None."""
    words = _clean(value).split()
    run: list[str] = []
    for word in words:
        bare = word.strip(",;:!.")
        if bare[:1].isupper() or (run and bare.lower() in ("de", "del", "da", "do", "upon", "on", "am")):
            run.append(bare)
            if bare != word:
                break
        else:
            break
    while run and not run[-1][:1].isupper():
        run.pop()
    return " ".join(run) or None


@_rule(r"^(?:my name is|my name's|i am called|i'm called|call me|people call me)\s+(?P<x>[\w .'-]{1,40})$")
def _name(m: re.Match[str]) -> list[Fact]:
    name = _clean(m["x"])
    return [Fact(f"My name is {name}.", "profile", "name", name)] if name else []


@_rule(
    r"^(?:i|we)(?:'ve| have|'m| am|'re| are)?\s*(?:just |recently |finally |now |currently )?(?:live|lived|living|"
    r"based|reside|residing|moved|relocated)(?:\s+(?:down|up|back|over|out))?\s+(?:(?:just\s+)?(?:outside(?: of)?|"
    r"near|close to)\s+|(?:in|at|to)\s+)(?P<x>.+)$"
)
def _lives(m: re.Match[str]) -> list[Fact]:
    place = _proper(m["x"]) or _clean(m["x"])
    return [Fact(f"I live in {place}.", "profile", "location", place)] if place else []


@_rule(r"^i\s+(?:don't|do not|no longer)\s+live\s+(?:in|at)\s+(?P<x>.+)$")
def _not_lives(m: re.Match[str]) -> list[Fact]:
    place = _clean(m["x"])
    return [Fact(f"I no longer live in {place}.", "fact", "location", place, negated=True)] if place else []


@_rule(r"^i(?:'m| am)\s+from\s+(?P<x>.+)$")
def _from(m: re.Match[str]) -> list[Fact]:
    place = _clean(m["x"])
    return [Fact(f"I'm from {place}.", "profile", "hometown", place)] if place else []


@_rule(
    r"^(?:i(?:'m| am)\s+(?:(?:very|severely|mildly|deathly|highly|really|quite|a bit|also)\s+)*allergic to|"
    r"i have an?\s+(?:\w+\s+)?allergy to)\s+(?P<x>.+)$"
)
def _allergic(m: re.Match[str]) -> list[Fact]:
    return [Fact(f"I'm allergic to {x}.", "fact", f"allergy:{norm_value(x)}", x) for x in _items(m["x"])]


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


@_rule(
    r"^i(?:'m| am|'ll be| will be| just turned| turned)\s+(?P<x>\d{1,3})(?:\s+years?\s+old|\s*y/?o)?"
    r"(?:\s+(?:if|now|today|yesterday|this year|btw|and|lol|haha|as of)\b.*)?$"
)
def _age(m: re.Match[str]) -> list[Fact]:
    return [Fact(f"I'm {m['x']} years old.", "profile", "age", m["x"])] if 0 < int(m["x"]) <= 120 else []


@_rule(r"^i\s+(?:(?:now|currently|still)\s+)?(?:work|working|'m working|am working)\s+as\s+(?P<x>.+)$")
def _job(m: re.Match[str]) -> list[Fact]:
    job, employer, place = _job_parts(m["x"])
    bare = re.sub(r"^(?:an?|the)\s+", "", job, flags=re.I)
    return _with_place([Fact(f"I work as {job}.", "profile", "job", bare)], employer, place) if job else []


def _job_parts(value: str) -> tuple[str, str | None, str | None]:
    """("a product manager at Kestrel Software in Pune") -> job, employer, place."""
    job = re.split(r"\s+(?=(?:at|for|in|based in)\s)", value, maxsplit=1)[0]
    employer = re.search(r"\b(?:at|for)\s+(?P<e>(?:an?\s+)?[\w&' -]+?)(?=\s+(?:in|based in)\s|$)", value)
    place = re.search(r"\b(?:in|based in)\s+(?P<p>.+)$", value)
    where = _proper(place["p"]) if place else None
    who = _clean(employer["e"]) if employer else None
    if who and not (
        who[:1].isupper() or re.search(r"\b(?:startup|company|firm|bank|hospital|school|agency)$", who)
    ):
        who = None
    return _clean(job), who, where


def _with_place(facts: list[Fact], employer: str | None, place: str | None) -> list[Fact]:
    if employer:
        facts.append(Fact(f"I work at {employer}.", "profile", "employer", re.sub(r"^an?\s+", "", employer)))
    if place:
        facts.append(Fact(f"I live in {place}.", "profile", "location", place))
    return facts


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


@_rule(
    r"^(?:i|we)\s+(?:really\s+|absolutely\s+|do\s+|also\s+|all\s+)?(?P<v>like|love|enjoy|adore)\s+(?P<x>.+)$"
)
def _likes(m: re.Match[str]) -> list[Fact]:
    verb = m["v"].lower()
    return [Fact(f"I {verb} {x}.", "preference", f"likes:{norm_value(x)}", x) for x in _items(m["x"])]


@_rule(
    r"^i\s*(?P<v>(?:(?:really\s+)?(?:don't|do not|no longer|never)\s+(?:really\s+)?(?:like|enjoy|love|eat|drink)|"
    r"(?:really\s+)?(?:hate|dislike|detest|can't stand|cannot stand|can not stand)|"
    r"(?:can't|cannot|can not|can no longer)\s+(?:eat|drink|have|handle|tolerate|stomach)|"
    r"(?:'ve\s+|\s*have\s+)?(?:stopped|quit)\s+(?:eating|drinking)|(?:'ve\s+|\s*have\s+)?(?:totally\s+)?gone off|"
    r"(?:'m|\s*am)\s+done with|(?:'ll|\s*will|\s*shall)\s+avoid|(?:'ve\s+|\s*have\s+)?given up(?:\s+on)?|"
    r"gave up(?:\s+on)?))\s+(?P<x>.+)$"
)
def _dislikes(m: re.Match[str]) -> list[Fact]:
    verb = " ".join(m["v"].lower().split())  # the user's own words: "can't eat" is not "don't like"
    verb = verb if verb.startswith("'") else " " + verb
    return [
        Fact(f"I{verb} {x}.", "preference", f"likes:{norm_value(x)}", x, negated=True) for x in _items(m["x"])
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


_NOT_NAMES = set(
    ["fine", "good", "ok", "okay", "back", "sorry", "tired", "busy", "here", "home", "vegan", "vegetarian", "new", "sure", "ready", "done", "free", "single", "married", "retired", "pregnant", "sick", "ill", "bored", "hungry", "excited", "happy", "sad", "stressed", "nervous", "late", "early", "english", "french", "german", "italian", "spanish", "american", "british", "canadian", "australian", "irish", "scottish", "welsh", "chinese", "japanese", "korean", "indian", "polish", "dutch", "swedish", "norwegian", "danish", "finnish", "brazilian", "mexican", "portuguese", "russian", "greek", "turkish", "egyptian", "muslim", "christian", "jewish", "catholic", "hindu", "buddhist", "atheist", "gay", "straight", "bi", "trans", "also", "still", "not", "so", "just", "really", "in", "on", "at", "from", "a", "an", "the", "out", "off", "up", "down", "all", "almost", "always", "never", "alone", "allergic", "diabetic", "coeliac", "celiac", "vegetarian", "pescatarian", "curious", "confused", "lost", "stuck", "broke", "poor", "rich", "old", "young", "fit", "lazy", "human"]
)
_JOB_WORD = re.compile(
    r"(?:[a-z]+(?:er|or|ist|ian|ant|ent|eer|ect|ef)|nurse|student|chef|cook|pilot|clerk|judge|barista|medic|vet|"
    r"nanny|model|coach|tutor|intern|freelancer|illustrator|solicitor|dentist|surgeon|barber|midwife|"
    r"paramedic|carpenter|plumber|electrician|engineer|scientist|artist|editor|author|writer|actor|"
    r"analyst|consultant|accountant|architect|lawyer|doctor|professor|lecturer|researcher|postdoc|"
    r"officer|soldier|firefighter|mechanic|technician|designer|developer|manager|director|founder)$"
)
_NOT_JOBS = set(
    ["beginner", "member", "fan", "lover", "user", "person", "parent", "patient", "resident", "client", "customer", "talker", "sleeper", "eater", "drinker", "smoker", "runner", "reader", "listener", "learner", "speaker", "believer", "worrier", "introvert", "extrovert", "father", "mother", "brother", "sister", "daughter", "grandmother", "grandfather", "grandparent", "partner", "neighbor", "neighbour", "owner", "other", "regular", "winner", "loser", "vegetarian", "pescatarian", "christian", "libertarian", "contrarian", "omnivore", "foodie", "newbie", "rookie", "amateur", "perfectionist", "optimist", "pessimist", "realist", "procrastinator", "night", "owl"]
)


def _is_job(phrase: str) -> bool:
    words = phrase.split()
    last = words[-1] if words else ""
    return (
        bool(last)
        and last.islower()
        and last not in _NOT_JOBS
        and bool(_JOB_WORD.match(last))
        and len(words) <= 5
    )


@_rule(r"^(?:i'm|i am|this is|it's)\s+(?P<x>[^\W\d_][\w'-]*)(?P<tag>\s+(?:btw|here|by the way|lol))?$")
def _intro(m: re.Match[str]) -> list[Fact]:
    name = m["x"]
    if name.lower() in _NOT_NAMES or not (name[:1].isupper() or m["tag"]) or (name.isupper() and len(name) > 1):
        return []
    name = name[:1].upper() + name[1:]
    return [Fact(f"My name is {name}.", "profile", "name", name)]


@_rule(r"^(?P<x>[^\W\d_][\w'-]*)\s+here(?:\s+from\s+(?P<place>.+))?$")
def _here(m: re.Match[str]) -> list[Fact]:
    name = m["x"]
    if not name[:1].isupper() or name.lower() in _NOT_NAMES | {"i", "we", "you", "she", "he", "they", "it"}:
        return []
    facts = [Fact(f"My name is {name}.", "profile", "name", name)]
    place = _proper(m["place"]) if m["place"] else None
    return _with_place(facts, None, place)


@_rule(
    r"^i(?:'m| am)\s+(?:(?:now|officially|still|also|actually|currently|just|a\s+(?:full-time|part-time))\s+)*"
    r"(?:a|an)\s+(?P<x>.+)$"
)
def _job_a(m: re.Match[str]) -> list[Fact]:
    job, employer, place = _job_parts(m["x"])
    if not _is_job(job.split(" in ")[0]) and not _is_job(re.sub(r"\s+in\s+\w+$", "", job)):
        return []
    article = "an" if job[:1].lower() in "aeiou" else "a"
    return _with_place([Fact(f"I'm {article} {job}.", "profile", "job", job)], employer, place)


@_rule(r"^i(?:'m| am)\s+(?:now\s+|currently\s+|still\s+)?(?:in|based in|living in|located in)\s+(?P<x>.+)$")
def _in_place(m: re.Match[str]) -> list[Fact]:
    place = _proper(m["x"])
    return [Fact(f"I live in {place}.", "profile", "location", place)] if place else []


@_rule(
    r"^i(?:'m| am)\s+(?:really\s+|so\s+|super\s+|very\s+|also\s+)?(?:into|obsessed with|crazy about|all about|"
    r"a (?:big |huge )?fan of|passionate about)\s+(?P<x>.+)$"
)
def _into(m: re.Match[str]) -> list[Fact]:
    return [Fact(f"I'm into {x}.", "preference", f"likes:{norm_value(x)}", x) for x in _items(m["x"])]


@_rule(r"^i\s+(?:also\s+)?(?:play|practi[cs]e)\s+(?P<x>(?!it\b|with\b)[\w' -]+)$")
def _plays(m: re.Match[str]) -> list[Fact]:
    x = _clean(m["x"])
    return [Fact(f"I play {x}.", "fact", f"plays:{norm_value(x.split()[0])}", x)] if x else []


@_rule(r"^i\s+(?:would|'d)\s+(?:really\s+)?appreciate\s+(?P<x>.+?)(?:,?\s+please)?$")
def _appreciate(m: re.Match[str]) -> list[Fact]:
    x = _clean(m["x"])
    return [Fact(f"I prefer {x}.", "preference", f"likes:{norm_value(x)}", x)] if x else []


@_rule(
    r"^(?:please\s+|pls\s+)?no\s+(?P<x>[\w -]+?)(?:\s+in\s+(?:your\s+|the\s+)?(?:replies|answers|responses))?(?:\s+please|\s+pls)?$"
)
def _no_please(m: re.Match[str]) -> list[Fact]:
    x = _clean(m["x"])
    if (
        not x
        or x.lower() in ("no", "not", "thanks")
        or m.group(0).lower().startswith(("no longer", "no more", "no idea", "no problem", "no worries"))
    ):
        return []
    return [Fact(f"I don't want {x} in answers.", "preference", f"likes:{norm_value(x)}", x, negated=True)]


@_rule(r"^(?P<x>[\w -]+?)\s+only,?\s+(?:please|pls)$")
def _only_please(m: re.Match[str]) -> list[Fact]:
    x = _clean(m["x"])
    return [Fact(f"I prefer {x} only.", "preference", f"likes:{norm_value(x)}", x)] if x else []


@_rule(r"^i(?:'m| am)\s+(?:not|no longer)\s+(?:a\s+)?(?P<x>vegetarian|vegan|pescatarian)(?:\s+.*)?$")
def _not_diet(m: re.Match[str]) -> list[Fact]:
    x = m["x"].lower()
    return [Fact(f"I'm not {x} anymore.", "profile", "diet", x, negated=True)]


@_rule(r"^i\s+(?:only\s+eat\s+(?P<a>[\w -]+)|eat\s+(?P<b>[\w -]+?)\s+only)$")
def _eats_only(m: re.Match[str]) -> list[Fact]:
    x = _clean(m["a"] or m["b"])
    return [Fact(f"I eat {x} only.", "profile", "diet", x)] if x else []


@_rule(
    r"^(?:(?P<x>[^\W\d_][\w'-]*)\s+and\s+i|we)\s+(?:just\s+)?(?:broke up|split up|separated|divorced|got divorced)\b.*$"
)
def _broke_up(m: re.Match[str]) -> list[Fact]:
    name = m["x"]
    if not name or not name[:1].isupper():
        return []
    return [Fact(f"{name} and I broke up.", "profile", "partner", name, negated=True)]


@_rule(r"^(?:my\s+(?:dog|cat|pet|rabbit|bird)\s+)?(?P<x>[^\W\d_][\w'-]*)\s+(?:passed away|died|passed)\b.*$")
def _passed(m: re.Match[str]) -> list[Fact]:
    name = m["x"]
    if not name[:1].isupper() or name.lower() in _NOT_NAMES | {"i", "we", "he", "she", "it", "they", "my"}:
        return []
    return [Fact(f"{name} passed away.", "fact", f"pet:{name.lower()}", name, negated=True)]


@_rule(r"^i(?:'ve| have)?\s+(?:just\s+)?(?:left|quit)\s+(?P<x>[^\W\d_][\w&' -]*?)(?:\s+(?:and|to)\b.*)?$")
def _left_job(m: re.Match[str]) -> list[Fact]:
    where = _proper(m["x"])
    return (
        [Fact(f"I no longer work at {where}.", "profile", "employer", where, negated=True)] if where else []
    )


# -- found anywhere in a clause: partners and pets --------------------------------------------------------------

_PARTNER = re.compile(
    r"\bmy\s+(?P<rel>wife|husband|boyfriend|girlfriend|partner|fianc[ée]e?|spouse)\b(?:,?\s+(?P<x>[^\W\d_][\w'-]*))?"
)
_PET = re.compile(
    r"\b(?:my|i(?:'ve| have)?\s+(?:got|have|adopted)|we(?:'ve| have)?\s+(?:just\s+)?(?:got|adopted))\s+"
    r"(?:(?:a|an|two|three|\d+|little|old|new|rescue|sweet)\s+)*(?P<kind>dog|cat|pup|puppy|kitten|rabbit|"
    r"bunny|hamster|parrot|horse|tortoise|snake)(?P<many>s)?\b(?:,?\s+(?:called|named)?\s*(?P<x>[^\W\d_][\w'-]*"
    r"(?:\s+and\s+[^\W\d_][\w'-]*)?))?",
    re.I,
)


def _anywhere(clause: str) -> list[Fact]:
    facts: list[Fact] = []
    for m in _PARTNER.finditer(clause):
        rel, name = m["rel"].lower(), m["x"]
        if name and name[:1].isupper() and name.lower() not in _NOT_NAMES:
            facts.append(Fact(f"My {rel} is {name}.", "profile", "partner", name))
        elif not re.match(r"\s*'s\b", clause[m.end() :]) or "wife" in rel or "husband" in rel:
            facts.append(Fact(f"I have a {rel}.", "profile", f"partner:{rel}", rel))
    for m in _PET.finditer(clause):
        kind = m["kind"].lower() + ("s" if m["many"] else "")
        names = [n for n in re.split(r"\s+and\s+", m["x"] or "") if n[:1].isupper()]
        if names:
            facts += [
                Fact(f"My {m['kind'].lower()} is called {n}.", "fact", f"pet:{n.lower()}", n) for n in names
            ]
        elif m.group(0).lower().startswith(("i", "we")):
            facts.append(Fact(f"I have {m.group(0).split(None, 2)[-1]}.", "fact", None, kind))
    return facts


def extract_rules(message: str) -> list[Fact]:
    """The facts that first-person statements in ``message`` state (offline, deterministic)."""
    facts: list[Fact] = []
    intro = False
    for raw in _SPLIT.split(message.replace("’", "'")):
        clause = _FILLER.sub("", raw.strip().strip("\"'")).strip()
        if not clause or clause.endswith("?") or _NOT_A_STATEMENT.match(clause) or len(clause) > 300:
            continue
        clause = re.sub(r"\s+", " ", clause.rstrip(".!;,: ")).replace("’", "'")
        if re.match(
            _BARE_START, clause, re.I
        ):  # "34, live in Leeds, work as a teacher": the subject is the user
            clause = "I " + clause if not clause[0].isdigit() else "I'm " + clause.rstrip(",")
        found = _first_rule(clause)
        if not found and intro and not clause.lower().startswith(("i ", "i'", "my ", "we ")):
            found = _first_rule("I'm a " + clause)  # "Ingrid here, civil engineer in Bergen"
        intro = intro or any(f.key == "name" for f in found)
        facts += found
        facts += [f for f in _anywhere(clause) if f.text not in {g.text for g in found}]
    return list(dict.fromkeys(facts))


def _first_rule(clause: str) -> list[Fact]:
    for pattern, build in _RULES:
        match = pattern.match(clause)
        if match:
            return [f for f in build(match) if 0 < len(f.value or f.text) <= 120]
    return []
