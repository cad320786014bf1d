"""The offline rules, part three: slots read by families of words rather than by fixed sentences.

* where the user lives: any of live/living/based/reside/moved/relocated/settled/renting, then the first place
  named after in/to/near/outside ("we've been living in Cape Town", "I live in a village near York");
* work: retired/semi-retired, "my job is", "I do X for a living", "I work in <field>", and endings ("I'm
  not a nurse anymore", "I don't work at X anymore");
* diet words (vegan, vegetarian, pescatarian, keto, halal, ...) however they are introduced ("I went vegan",
  "I'm doing keto", "I've been pescatarian for years") and ended ("I gave up on keto");
* languages ("fluent in", "my first language is"), names ("call me", "name's"), partners ("married to");
* activities stopped ("I no longer play X", "I stopped running").

Endings are ``store="ends"`` facts: they supersede a current memory and are otherwise dropped
(`persona.learning.slots.Fact`)."""

from __future__ import annotations

import re

from .mentions import name_like
from .rules import clean, items, proper, rule
from .rules_everyday import is_job
from .slots import Fact, norm_value

__all__ = ["DIETS"]

DIETS = (
    r"vegetarian|vegan|pescatarian|pescetarian|keto|paleo|plant[- ]based|flexitarian|gluten[- ]free|dairy[- ]free|"
    r"halal|kosher|carnivore|low-carb"
)
_PLACE_CUE = re.compile(r"\b(?:in|to|near|outside(?:\s+of)?|close to|on)\s+(?=[^\W\d_])", re.I)


def place_after(rest: str, *, moved: bool = False) -> str | None:
    """The first place named after in/near (to, ``moved``) in ``rest`` ("in a small flat near York" -> "York")."""
    for m in _PLACE_CUE.finditer(rest.split(",")[0]):
        if m.group(0).lower().startswith(("to", "on")) and not moved:
            continue  # "I live with my parents to save money"
        after = rest[m.end() :]
        if re.match(r"(?:an?|the|my|our|his|her|their|this|that)\s", after, re.I):
            continue  # "in a terraced house ...": a dwelling, look further
        return proper(after)
    return None


@rule(
    r"^(?:i|we)(?:'ve| have|'m| am|'re| are)?\s*(?:(?:just|recently|finally|now|currently|still|been|both|all)\s+)*"
    r"(?P<v>live|living|based|reside|residing|moved|relocated|settled|rent|renting)\b(?P<rest>.*)$",
    first=True,
)
def _lives_anywhere(m: re.Match[str]) -> list[Fact]:
    place = place_after(m["rest"], moved=m["v"].lower() in ("moved", "relocated"))
    return [Fact(f"I live in {place}.", "profile", "location", place)] if place else []


@rule(r"^(?:my\s+)?home\s+(?:is|is now|these days is)\s+(?P<x>.+)$")
def _home(m: re.Match[str]) -> list[Fact]:
    place = proper(m["x"])
    return [Fact(f"I live in {place}.", "profile", "location", place)] if place else []


@rule(
    r"^i(?:'m| am|'ve| have)?\s*(?:(?:just|recently|now|officially|finally|happily|been|a|an)\s+)*(?P<semi>semi-)?"
    r"retired(?:\s+(?:from|as)\s+(?P<x>.+)|\s+(?P<job>[\w -]{2,40}?))?(?:\s+(?:these days|now))?$",
    first=True,
)
def _retired(m: re.Match[str]) -> list[Fact]:
    word = "semi-retired" if m["semi"] else "retired"
    what = clean(m["x"] or "")
    if m["job"]:
        job = clean(m["job"])
        return [Fact(f"I'm a {word} {job}.", "profile", "job", f"{word} {job}")] if is_job(job) else []
    text = f"I'm {word} from {what}." if what else f"I'm {word}."
    return [Fact(text, "profile", "job", word)]


@rule(r"^(?:my\s+(?:job|profession|occupation)\s+is|i\s+do)\s+(?P<x>.+?)(?:\s+for a living)$")
def _for_a_living(m: re.Match[str]) -> list[Fact]:
    job = re.sub(r"^(?:an?|the)\s+", "", clean(m["x"]), flags=re.I)
    return [Fact(f"I work as {job}.", "profile", "job", job)] if job else []


@rule(r"^my\s+(?:job|profession|occupation)\s+is\s+(?:being\s+)?(?:an?\s+)?(?P<x>[\w -]{2,40})$")
def _my_job(m: re.Match[str]) -> list[Fact]:
    job = clean(m["x"])
    return [Fact(f"I work as {job}.", "profile", "job", job)] if job else []


@rule(r"^i\s+(?:now\s+|currently\s+|still\s+)?work\s+in\s+(?P<x>.+)$")
def _work_in(m: re.Match[str]) -> list[Fact]:
    x = clean(m["x"])
    if re.match(r"(?:an?|the)\s", x, re.I):  # "in a bookshop": where
        where = re.sub(r"\s+(?:in|near|on)\s+.*$", "", re.sub(r"^(?:an?|the)\s+", "", x, flags=re.I))
        return [Fact(f"I work in a {where}.", "profile", "employer", where)] if where else []
    if x[:1].isupper() or not re.fullmatch(r"[a-z][a-z -]{2,40}", x):
        return []  # "in London" is a place, not what the user does
    return [Fact(f"I work in {x}.", "profile", "job", x)]


@rule(
    r"^i(?:'m| am)\s+(?:not|no longer)\s+(?:an?\s+)(?P<x>[\w -]{2,40}?)(?:\s+(?:anymore|any more|now))?(?:,.*)?$",
    first=True,
)
def _not_job(m: re.Match[str]) -> list[Fact]:
    job = clean(m["x"])
    if re.fullmatch(DIETS, job, re.I) or not is_job(job):
        return []  # "I'm not a vegetarian", "not a big sports guy": other rules read them
    return [Fact(f"I'm not a {job} anymore.", "profile", "job", job, negated=True, store="ends")]


@rule(r"^i\s+(?:don't|do not|no longer)\s+work\s+(?:at|for)\s+(?P<x>.+)$", first=True)
def _not_employer(m: re.Match[str]) -> list[Fact]:
    where = proper(m["x"]) or clean(m["x"])
    return [Fact(f"I no longer work at {where}.", "profile", "employer", where, negated=True, store="ends")]


@rule(
    rf"^i(?:'m| am|'ve| have)?\s*(?:(?:been|gone|going|went|now|also|strictly|fully|mostly|doing|on|a|an|just|"
    rf"totally|completely|100%|"
    rf"recently|become|became)\s+)*(?P<x>{DIETS})(?:\s+(?:diet|now|again|these days|at the moment|since\b.*|"
    rf"for\b.*|in\b.*|last\b.*|this\b.*|i guess|i think|apparently))*$",
    first=True,
)
def _diet_any(m: re.Match[str]) -> list[Fact]:
    x = m["x"].lower()
    return [Fact(f"I'm {x}.", "profile", "diet", x)]


@rule(
    rf"^i(?:'ve| have)?\s*(?:(?:gave|given)\s+up(?:\s+on)?|stopped|quit|am done with|'m done with|'m off|am off)"
    rf"\s+(?:being\s+|doing\s+|the\s+)?(?:an?\s+)?(?P<x>{DIETS})\b.*$",
    first=True,
)
def _diet_ended(m: re.Match[str]) -> list[Fact]:
    x = m["x"].lower()
    return [Fact(f"I'm not {x} anymore.", "profile", "diet", x, negated=True, store="ends")]


@rule(
    r"^i(?:'ve| have)?\s*(?:started|begun|began|gone back to)\s+eating\s+(?P<x>meat|fish|chicken|eggs|dairy|"
    r"cheese|pork|beef|seafood|red meat)(?:\s+again)?\b.*$"
)
def _eats_again(m: re.Match[str]) -> list[Fact]:
    x = m["x"].lower()
    return [Fact(f"I eat {x} again.", "profile", "diet", x)]


@rule(
    r"^(?:i(?:'m| am)\s+(?:also\s+)?(?:fluent|bilingual)\s+in|my\s+(?:first|native|mother)\s+(?:language|tongue)\s+is)"
    r"\s+(?P<x>.+)$"
)
def _fluent(m: re.Match[str]) -> list[Fact]:
    return [Fact(f"I speak {x}.", "fact", f"speaks:{norm_value(x)}", x) for x in items(m["x"])]


@rule(r"^(?P<x>[A-Z][\w-]+)\s+is\s+my\s+(?:first|native|mother)\s+(?:language|tongue)\b.*$")
def _first_language(m: re.Match[str]) -> list[Fact]:
    return [Fact(f"I speak {m['x']}.", "fact", f"speaks:{norm_value(m['x'])}", m["x"])]


@rule(r"^(?:(?:you can|you may|please|just)\s+)?call me\s+(?P<x>[^\W\d_][\w'-]*)(?:\s+please)?$", first=True)
def _call_me(m: re.Match[str]) -> list[Fact]:
    name = m["x"][:1].upper() + m["x"][1:]
    return [Fact(f"My name is {name}.", "profile", "name", name)] if name_like(name) else []


@rule(r"^(?:the\s+)?name's\s+(?P<x>[^\W\d_][\w'-]*)$")
def _names(m: re.Match[str]) -> list[Fact]:
    name = m["x"][:1].upper() + m["x"][1:]
    return [Fact(f"My name is {name}.", "profile", "name", name)] if name_like(name) else []


@rule(
    r"^(?:i(?:'m| am|'ve been| have been| got)|we(?:'re| are| got))\s+(?:happily\s+|just\s+|recently\s+)?"
    r"(?:married|engaged)\s+to\s+(?P<x>[^\W\d_][\w'-]*)\b.*$",
    first=True,
)
def _married_to(m: re.Match[str]) -> list[Fact]:
    name = m["x"]
    rest = m.string[m.end("x") :]
    if not name_like(name, rest):
        return []
    name = name[:1].upper() + name[1:]
    return [Fact(f"I'm married to {name}.", "profile", "partner", name)]


@rule(
    r"^i\s+(?:(?:don't|do not|no longer)\s+(?P<v>play|do|watch|go)\s+(?P<x>[\w' -]+?)\s+(?:anymore|any more)|"
    r"no longer\s+(?P<v2>play|do|watch|go)\s+(?P<x2>[\w' -]+?)|(?:'ve\s+|have\s+)?stopped\s+(?P<x3>(?!eating|drinking)\w+ing(?:\s+[\w'-]+)?)|"
    r"(?:don't|do not)\s+(?P<x4>[a-z]{3,12})\s+(?:anymore|any more)|no longer\s+(?P<x5>[a-z]{3,12}))"
    r"(?:,.*)?$",
    first=True,
)
def _stopped(m: re.Match[str]) -> list[Fact]:
    x = clean(m["x"] or m["x2"] or m["x3"] or m["x4"] or m["x5"] or "")
    if not x or re.match(r"(?:it|that|this|them|so|to)\b", x, re.I):
        return []
    verb = m["v"] or m["v2"]
    if m["x4"] or m["x5"]:  # "I don't surf anymore": the activity is "surfing"
        return [Fact(f"I've stopped {gerund(x)}.", "preference", f"likes:{gerund(x)}", gerund(x), negated=True, store="ends")]
    text = f"I no longer {verb} {x}." if verb else f"I stopped {x}."
    key = re.sub(r"^(?:play|do|watch|go)ing\s+", "", x) if not verb else x
    return [Fact(text, "preference", f"likes:{norm_value(key)}", key, negated=True, store="ends")]


@rule(
    r"^i(?:'ve| have)?\s+(?:just\s+|recently\s+|now\s+)?(?:joined|started (?:at|with|working (?:at|for))|got a job (?:at|with)|"
    r"moved to a job at)\s+(?P<x>.+)$"
)
def _joined(m: re.Match[str]) -> list[Fact]:
    x = clean(m["x"])
    named = re.search(r"\b(?:called|named)\s+(?P<n>.+)$", x)  # "a logistics startup called Fleetwise"
    where = proper(named["n"]) if named else proper(x)
    if not where or where.lower() in ("the", "a"):
        return []
    return [Fact(f"I work at {where}.", "profile", "employer", where)]


@rule(r"^i(?:'m| am)\s+(?:now\s+|currently\s+)?(?:majoring|doing a (?:degree|major))\s+in\s+(?P<x>[\w -]{2,40})$")
def _major(m: re.Match[str]) -> list[Fact]:
    x = clean(m["x"])
    return [Fact(f"I'm studying {x}.", "profile", "studies", x)] if x else []


@rule(r"^i\s+(?:have\s+)?(?:switched|changed)\s+(?:my\s+)?(?:major|majors|course|degree|subject)\s+to\s+(?P<x>[\w -]{2,40})$")
def _switched_course(m: re.Match[str]) -> list[Fact]:
    x = clean(m["x"])
    return [Fact(f"I'm studying {x}.", "profile", "studies", x)] if x else []


@rule(r"^i\s+used\s+to\s+(?:be|work as)\s+(?:an?\s+)?(?P<x>[\w -]{2,40}?)(?:\s+(?:before|once|years ago))?(?:,.*)?$")
def _used_to_be(m: re.Match[str]) -> list[Fact]:
    job = clean(m["x"])
    if not is_job(job):
        return []
    article = "an" if job[:1] in "aeioAEIO" else "a"
    return [
        Fact(f"I used to be {article} {job}.", "fact", f"former_job:{norm_value(job)}", job, negated=True),
        Fact(f"I'm not {article} {job} anymore.", "profile", "job", job, negated=True, store="ends"),
    ]


def gerund(verb: str) -> str:
    """The -ing form of an activity verb: surf -> surfing, run -> running, dance -> dancing."""
    verb = verb.lower()
    if verb.endswith("ing"):
        return verb
    if verb.endswith("e") and not verb.endswith("ee"):
        return verb[:-1] + "ing"
    if len(verb) <= 4 and re.fullmatch(r"[^aeiou]*[aeiou][bdgmnprt]", verb):
        return verb + verb[-1] + "ing"
    return verb + "ing"


@rule(
    r"^i(?:'ve| have)?\s+(?:just\s+|recently\s+)?(?:started|taken up|took up|got into|gotten into|picked up)\s+"
    r"(?P<x>(?!eating|drinking|working|studying|living)[\w' -]{3,40}?)(?:\s+(?:again|recently|lately|to\b.*|for\b.*|"
    r"last\b.*|this\b.*|a few\b.*))?$"
)
def _took_up(m: re.Match[str]) -> list[Fact]:
    x = clean(m["x"])
    if re.match(r"(?:a|an|the|my|to|at|with|on)\b", x, re.I):
        return []  # "I started a new job", "started at Acme": other rules
    return [Fact(f"I've taken up {x}.", "preference", f"likes:{norm_value(x)}", x)] if x else []


@rule(r"^(?:i|we)\s+(?:run|own|manage|have)\s+(?:a|an|my own|our own)\s+(?P<x>(?:[\w'-]+\s+){0,3}(?:studio|shop|bakery|cafe|café|restaurant|bar|business|company|startup|farm|salon|practice|clinic|gym|agency|store))\b(?P<rest>.*)$")
def _runs(m: re.Match[str]) -> list[Fact]:
    x = clean(m["x"])
    facts = [Fact(f"I run a {x}.", "profile", "employer", x)]
    place = place_after(m["rest"])
    return facts + ([Fact(f"I live in {place}.", "profile", "location", place)] if place else [])
