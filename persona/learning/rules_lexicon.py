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
from .rules import article, clean, items, proper, rule
from .rules_everyday import is_job
from .rules_language import languages
from .slots import Fact, norm_value

__all__ = ["DIETS", "gerund", "place_after"]

DIETS = (
    r"vegetarian|vegan|pescatarian|pescetarian|keto|paleo|plant[- ]based|flexitarian|gluten[- ]free|dairy[- ]free|"
    r"halal|kosher|carnivore|low-carb|veggie"
)
_PLACE_CUE = re.compile(r"\b(?:in|to|near|outside(?:\s+of)?|close to|on|out of)\s+(?=[^\W\d_])", re.I)


def place_after(rest: str, *, moved: bool = False) -> str | None:
    """The first place named after in/near (to, ``moved``) in ``rest`` ("in a small flat near York" -> "York")."""
    rest = re.split(r"[;:]|\s+but\s+", rest, maxsplit=1)[0][:100]
    for m in _PLACE_CUE.finditer(rest):
        if m.group(0).lower().startswith(("to", "on")) and not moved:
            continue  # "I live with my parents to save money"
        after = rest[m.end() :]
        if re.match(r"(?:an?|the|my|our|his|her|their|this|that)\s", after, re.I):
            continue  # "in a terraced house ...": a dwelling, look further
        place = proper(after)
        if place:
            return place
    return None


@rule(
    r"^(?:i|we)(?:'ve| have|'m| am|'re| are)?\s*(?:(?:just|recently|finally|now|currently|still|been|both|all|since|"
    r"eventually|actually|officially)\s+)*"
    r"(?P<v>live|living|based|reside|residing|moved|relocated|shifted|settled|rent|renting|stay)\b(?P<rest>.*)$",
    first=True,
)
def _lives_anywhere(m: re.Match[str]) -> list[Fact]:
    place = place_after(m["rest"], moved=m["v"].lower() in ("moved", "relocated", "shifted"))
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
    if m["job"] and clean(f"retired {m['job']}") != "retired":  # "retired now", "retired last month": when, not what
        job = clean(m["job"])
        return [Fact(f"I'm a {word} {job}.", "profile", "job", f"{word} {job}")] if is_job(job) else []
    text = f"I'm {word} from {what}." if what else f"I'm {word}."
    return [Fact(text, "profile", "job", word)]


@rule(r"^(?:my\s+(?:job|profession|occupation)\s+is|i\s+do)\s+(?P<x>.+?)(?:\s+for a living)$")
def _for_a_living(m: re.Match[str]) -> list[Fact]:
    job = re.sub(r"^(?:an?|the)\s+", "", clean(m["x"]), flags=re.I)
    return [Fact(f"I do {clean(m['x'])} for a living.", "profile", "job", job)] if job else []


@rule(r"^my\s+(?:job|profession|occupation|work)\s+is\s+(?:being\s+)?(?:an?\s+)?(?P<x>[\w -]{2,40})$")
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
    if re.fullmatch(DIETS, job, re.I) or not is_job(job) or re.search(r"\b(?:of|fan|big|huge)\b", job):
        return []  # "I'm not a vegetarian", "not a big sports guy": other rules read them
    return [Fact(f"I'm not a {job} anymore.", "profile", "job", job, negated=True, store="ends")]


@rule(r"^i\s+(?:don't|do not|no longer)\s+work\s+(?:at|for)\s+(?P<x>.+)$", first=True)
def _not_employer(m: re.Match[str]) -> list[Fact]:
    where = proper(m["x"]) or clean(m["x"])
    return [Fact(f"I no longer work at {where}.", "profile", "employer", where, negated=True, store="ends")]


@rule(
    rf"^(?:i|we)(?:'m| am|'ve| have|'re| are)?\s*(?:(?:been|gone|going|went|now|also|strictly|fully|mostly|doing|on|a|"
    rf"an|just|totally|completely|100%|pure|purely|both|all|eat|only eat|keep|follow|recently|become|became)\s+)*"
    rf"(?P<x>{DIETS})(?:\s+(?:diet|now|again|too|as well|these days|at the moment|since\b.*|as of\b.*|"
    rf"for\b.*|in\b.*|last\b.*|this\b.*|i guess|i think|apparently))*$",
    first=True,
)
def _diet_any(m: re.Match[str]) -> list[Fact]:
    x = m["x"].lower()
    if re.search(r"\bonce\b|\bwent\b.*\bfor\s+(?:a|one|two|three)\s+(?:day|week|month|while|bit)s?\b", m.group(0), re.I):
        return []  # "I went vegan for a month once": an episode, not the diet
    verb = re.search(r"\b(?:eat|keep|follow)\b", m.group(0)[: m.start("x")], re.I)  # "I eat halal", "I keep kosher"
    return [Fact(f"I {verb[0].lower()} {x}." if verb else f"I'm {x}.", "profile", "diet", x)]


@rule(
    rf"^i(?:'ve| have)?\s*(?:(?:gave|given)\s+up(?:\s+on)?|stopped|quit|am done with|'m done with|'m off|am off|"
    rf"'m not (?:doing|on)|am not (?:doing|on)|'m no longer|am no longer|'m not)"
    rf"\s+(?:being\s+|doing\s+|the\s+)?(?:an?\s+)?(?P<x>{DIETS})\b.*$",
    first=True,
)
def _diet_ended(m: re.Match[str]) -> list[Fact]:
    x = m["x"].lower()
    return [Fact(f"I'm not {x} anymore.", "profile", "diet", x, negated=True, store="ends")]


@rule(
    r"^(?:i(?:'m| am|'ve been| have been)|.*\b(?:put|got|has|have)\s+me)\s+(?:now\s+|strictly\s+)?on\s+an?\s+"
    r"(?P<x>(?:low|high|no|zero)[- ][\w]+|[\w]+[- ]free)\s+diet\b.*$"
)
def _on_a_diet(m: re.Match[str]) -> list[Fact]:
    """ "I'm on a low-salt diet", "the doctor has put me on a low-sodium diet": a diet of any name."""
    x = m["x"].lower()
    return [Fact(f"I'm on a {x} diet.", "profile", "diet", x)]


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
    return [Fact(f"I speak {x}.", "fact", f"speaks:{norm_value(x)}", x) for x in languages(m["x"])]


@rule(r"^(?P<x>[A-Z][\w-]+)\s+is\s+my\s+(?:first|native|mother)\s+(?:language|tongue)\b.*$")
def _first_language(m: re.Match[str]) -> list[Fact]:
    return [Fact(f"I speak {m['x']}.", "fact", f"speaks:{norm_value(m['x'])}", m["x"])]


@rule(
    r"^(?:(?:you can|you may|please|just|actually)\s+)*call me\s+(?P<x>[^\W\d_][\w'-]*)"
    r"(?:\s+(?:please|from now on|now|instead|then))*$",
    first=True,
)
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
    r"^i(?:\s+|(?='))(?:(?:don't|do not|no longer)\s+(?P<v>play|do|watch|go)\s+(?P<x>[\w' -]+?)\s+(?:anymore|any more)|"
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
    r"^i(?:'ve| have|'m| am|'ll| will)?\s+(?:just\s+|recently\s+|now\s+)?(?:joined|(?:start|started|starting) "
    r"(?:at|with|working (?:at|for)|a (?:new )?job (?:at|with))|got a job (?:at|with)|moved to a job at|(?:got|was|been|just got) "
    r"hired (?:at|by))\s+(?P<x>.+)$"
)
def _joined(m: re.Match[str]) -> list[Fact]:
    x = clean(m["x"])
    if re.match(r"(?:the|a|an|my|our)\s+[a-z]", x) and not re.search(r"\b(?:called|named)\s", x):
        return []  # "I joined the conversation late" (a writer without capitals): no name, no employer
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
    art = article(job)
    return [
        Fact(f"I used to be {art} {job}.", "fact", f"former_job:{norm_value(job)}", job, negated=True),
        Fact(f"I'm not {art} {job} anymore.", "profile", "job", job, negated=True, store="ends"),
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


_BUSINESSES = (
    r"studio|shop|bakery|cafe|café|restaurant|bar|business|company|startup|farm|salon|practice|clinic|gym|agency|store|"
    r"pharmacy|chemist|b&b|bed and breakfast|guesthouse|guest house|hotel|hostel|pub|garage|nursery|bookshop|bookstore|"
    r"workshop|food truck|stall|deli|dental practice|firm|consultancy|boutique|brewery|vineyard|kennels|surgery"
)


@rule(
    rf"^(?:i|we)(?:'ve| have)?\s+(?:just\s+|now\s+|finally\s+)?(?:run|own|manage|have|started|opened|set up|launched)\s+"
    rf"(?P<own>a|an|my own|our own|my|our)\s+(?P<x>(?:[\w'-]+\s+){{0,3}}?(?:{_BUSINESSES}))(?![\w&])(?P<rest>.*)$"
)
def _runs(m: re.Match[str]) -> list[Fact]:
    x = clean(m["x"])
    own = m["own"].lower()
    if own in ("my", "our") and not re.match(r"(?:i|we)\s+(?:run|own|manage)\b", m.group(0), re.I):
        return []  # "I have my shop's accounts", "we opened our bakery's doors": only "run/own my X" says whose
    said = f"{own} {x}" if "own" in own or own in ("my", "our") else f"{article(x)} {x}"
    facts = [Fact(f"I run {said}.", "profile", "employer", x)]
    place = place_after(m["rest"])
    return facts + ([Fact(f"I live in {place}.", "profile", "location", place)] if place else [])


_FIELDS = (
    r"marketing|sales|finance|IT|tech|HR|law|medicine|nursing|retail|hospitality|construction|education|healthcare|"
    r"insurance|banking|investment banking|consulting|real estate|publishing|advertising|academia|government|"
    r"logistics|software|engineering|accounting|journalism|research|pharma|biotech|fashion|film|music|media"
)


@rule(rf"^i(?:'m| am)\s+(?:now\s+|currently\s+|still\s+)?in\s+(?P<x>{_FIELDS})(?:\s+now)?$", first=True)
def _in_field(m: re.Match[str]) -> list[Fact]:
    return [Fact(f"I work in {m['x']}.", "profile", "job", m["x"])]


@rule(
    r"^i(?:'m| am|'ve| have| just| got)?\s*(?:just\s+|recently\s+|been\s+)*(?:got\s+|been\s+)?(?:laid off|made redundant|"
    r"fired|let go|unemployed|between jobs|out of work|lost my job|quit my job|left my job|jobless)\b.*$",
    first=True,
)
def _no_job(m: re.Match[str]) -> list[Fact]:
    facts = [Fact("I'm between jobs.", "profile", "job", "between jobs")]
    at = re.search(r"\b(?:at|from|with)\s+(?P<x>[A-Z][\w&' -]*)", m.group(0))
    where = proper(at["x"]) if at else None
    if where:
        facts.append(Fact(f"I no longer work at {where}.", "profile", "employer", where, negated=True, store="ends"))
    return facts


@rule(r"^i(?:'ve| have)?\s+(?:just\s+)?(?:got\s+)?promoted\s+to\s+(?:an?\s+)?(?P<x>[\w -]{2,40})$")
def _promoted(m: re.Match[str]) -> list[Fact]:
    job = clean(m["x"])
    return [Fact(f"I work as {job}.", "profile", "job", job)] if is_job(job) else []


@rule(r"^i(?:'m| am)\s+(?:now\s+)?(?P<x>single|divorced|widowed|separated)(?:\s+now|\s+again)?\b.*$", first=True)
def _single(m: re.Match[str]) -> list[Fact]:
    x = m["x"].lower()
    return [Fact(f"I'm {x}.", "profile", "partner", x)]


@rule(
    r"^(?:i go by|(?P<x2>[A-Z][\w'-]+) is my name|i'm called|i(?:'ve| have)? changed my name to)\s*(?P<x>[^\W\d_][\w'-]*)?"
    r"(?:\s+(?:now|these days|from now on|instead))*$",
    first=True,
)
def _go_by(m: re.Match[str]) -> list[Fact]:
    name = m["x"] or m["x2"]
    if not name_like(name):
        return []
    name = name[:1].upper() + name[1:]
    return [Fact(f"My name is {name}.", "profile", "name", name)]


@rule(r"^i(?:'m| am)\s+(?:an?\s+)?native\s+(?P<x>[A-Z][\w-]+)\s+speaker\b.*$")
def _native(m: re.Match[str]) -> list[Fact]:
    return [Fact(f"I speak {m['x']}.", "fact", f"speaks:{norm_value(m['x'])}", m["x"])]


@rule(r"^i(?:\s+have|'ve got|\s+have got|\s+got)\s+an?\s+(?:severe\s+|mild\s+|bad\s+)?(?P<x>[\w -]{2,30}?)\s+allergy$")
def _x_allergy(m: re.Match[str]) -> list[Fact]:
    x = clean(m["x"])
    return [Fact(f"I have a {x} allergy.", "fact", f"allergy:{norm_value(x)}", x)] if x else []


@rule(
    r"^i(?:'m| am)\s+(?:(?:really|totally|kind of|kinda|so|completely)\s+)?(?:addicted to|hooked on|getting into|"
    r"loving)\s+(?P<x>.+)$|^i\s+(?:really\s+)?can't get enough of\s+(?P<x2>.+)$"
)
def _hooked(m: re.Match[str]) -> list[Fact]:
    return [Fact(f"I'm into {x}.", "preference", f"likes:{norm_value(x)}", x) for x in items(m["x"] or m["x2"])]


@rule(
    r"^i(?:'m| am)\s+(?:not\s+(?:a\s+(?:big\s+|huge\s+)?fan\s+of|big\s+on|keen\s+on|a\s+\w+\s+person)|"
    r"(?:so\s+)?(?:sick|tired)\s+of|(?:so\s+)?over(?!\s+(?:the moon|\d|it\b|there\b|here\b|that\b|him\b|her\b)))\s+(?P<x>.+)$"
)
def _not_fan(m: re.Match[str]) -> list[Fact]:
    return [
        Fact(f"I'm not a fan of {x}.", "preference", f"likes:{norm_value(x)}", x, negated=True) for x in items(m["x"])
    ]


@rule(r"^(?P<x>[\w' -]{2,30}?)\s+(?:is|are)(?:n't| not)\s+(?:really\s+)?my\s+(?:thing|cup of tea|jam)\b.*$")
def _not_my_thing(m: re.Match[str]) -> list[Fact]:
    x = clean(m["x"])
    if items(x) != [x] or re.match(r"(?:it|that|this|they|he|she)$", x, re.I):
        return []
    return [Fact(f"{x[:1].upper()}{x[1:]} isn't my thing.", "preference", f"likes:{norm_value(x)}", x, negated=True)]


@rule(
    r"^i(?:'ve| have)?\s+(?:switched|swapped|moved|changed)\s+from\s+(?P<a>[\w' -]{2,30}?)\s+to\s+(?P<b>[\w' -]{2,30}?)"
    r"(?:\s+(?:now|recently|lately))?$"
)
def _switched(m: re.Match[str]) -> list[Fact]:
    a, b = clean(m["a"]), clean(m["b"])
    if a[:1].isupper() and b[:1].isupper():  # "from Leeds to York": places
        return [Fact(f"I live in {b}.", "profile", "location", b)]
    return [
        Fact(f"I've switched from {a}.", "preference", f"likes:{norm_value(a)}", a, negated=True, store="ends"),
        Fact(f"I've switched to {b}.", "preference", f"likes:{norm_value(b)}", b),
    ]


@rule(r"^(?:i|we)(?:'ve| have)?\s+(?:just\s+|finally\s+)?bought\s+(?:a|an|our|my)\s+(?:\w+\s+)?(?:house|flat|home|place|apartment|condo|cottage)\b(?P<rest>.*)$")
def _bought_home(m: re.Match[str]) -> list[Fact]:
    place = place_after(m["rest"])
    return [Fact(f"I live in {place}.", "profile", "location", place)] if place else []


@rule(
    r"^(?:i(?:'m| am)\s+(?:no longer with|not with(?=\s+\S+\s+(?:anymore|any more)))|i\s+(?:just\s+)?(?:broke up with|"
    r"split (?:up )?(?:with|from)|divorced|left)|my\s+ex(?:-?(?:wife|husband|girlfriend|boyfriend|partner))?,?)\s+"
    r"(?P<x>[A-Z][\w'-]*)\b.*$|^(?P<y>[A-Z][\w'-]*)\s+(?:just\s+)?(?:dumped me|left me|broke up with me|cheated on me)\b.*$",
    first=True,
)
def _left_partner(m: re.Match[str]) -> list[Fact]:
    name = m["x"] or m["y"]
    if name.lower() in ("he", "she", "they", "it", "i", "we", "you", "my"):
        return []
    return [Fact(f"{name} and I broke up.", "profile", "partner", name, negated=True, store="ends")]


@rule(r"^(?:we|i)\s+(?:(?:had to|have to)\s+)?(?:lost|put down|sa(?:y|id) goodbye to)\s+(?P<x>[A-Z][\w'-]*)\b.*$", first=True)
def _lost_pet(m: re.Match[str]) -> list[Fact]:
    name = m["x"]
    return [Fact(f"{name} passed away.", "fact", f"pet:{name.lower()}", name, negated=True, store="ends")]


@rule(r"^i\s+used\s+to\s+(?P<v>love|like|enjoy|play|do|be into)\s+(?P<x>[\w' -]{2,40}?)(?:,.*|\s+but\b.*)?$", first=True)
def _used_to_like(m: re.Match[str]) -> list[Fact]:
    x = clean(m["x"])
    if not x or re.match(r"(?:it|that|this|them|be|to)\b", x, re.I):
        return []
    return [Fact(f"I used to {m['v'].lower()} {x}.", "preference", f"likes:{norm_value(x)}", x, negated=True, store="ends")]


@rule(r"^(?:it was |it's |today is |yesterday was )?my\s+(?P<x>\d{1,3})(?:st|nd|rd|th)\s+birthday\b.*$")
def _nth_birthday(m: re.Match[str]) -> list[Fact]:
    return [Fact(f"I'm {m['x']} years old.", "profile", "age", m["x"])] if 0 < int(m["x"]) <= 120 else []


_FIELD_SLOTS = {
    "name": ("profile", "name", "My name is {}."),
    "age": ("profile", "age", "I'm {} years old."),
    "location": ("profile", "location", "I live in {}."),
    "city": ("profile", "location", "I live in {}."),
    "based in": ("profile", "location", "I live in {}."),
    "job": ("profile", "job", "I work as {}."),
    "occupation": ("profile", "job", "I work as {}."),
    "pronouns": ("profile", "pronouns", "My pronouns are {}."),
    "diet": ("profile", "diet", "My diet is {}."),
}


@rule(r"^(?:my\s+)?(?P<k>name|age|location|city|based in|job|occupation|pronouns|diet)\s*[:=-]\s*(?P<x>[^,;]{1,40})$", first=True)
def _form_field(m: re.Match[str]) -> list[Fact]:
    """ "Name: Lena", "age - 29", "location: Hamburg": a profile written as a form."""
    kind, key, text = _FIELD_SLOTS[m["k"].lower()]
    x = clean(m["x"])
    if key == "age" and not re.fullmatch(r"\d{1,3}", x):
        return []
    return [Fact(text.format(x), kind, key, x)] if x else []


@rule(r"^(?:my pronouns are|i use|pronouns)\s+(?P<x>(?:she|he|they|ze|xe)/(?:her|him|them|they|she|he|hir|xem))\b.*$", first=True)
def _pronouns(m: re.Match[str]) -> list[Fact]:
    x = m["x"].lower()
    return [Fact(f"My pronouns are {x}.", "profile", "pronouns", x)]
