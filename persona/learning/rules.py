"""The offline rules, part one: how a message is cut into clauses, and first-person statements of the usual
forms ("my name is ...", "I live in ...", "I'm allergic to ...", "I prefer ...", "I (don't) like ...").
Each rule is a pattern matched at the start of a clause and a builder of `Fact`s; `RULES` keeps them in
order (part two, `persona.learning.rules_everyday`, adds to it)."""

from __future__ import annotations

import re
from collections.abc import Callable

from .casual import CASUAL
from .slots import Fact, norm_value
from .words import words

__all__ = [
    "BARE_START",
    "FILLER",
    "HEALTH",
    "NOT_A_STATEMENT",
    "RULES",
    "SPLIT",
    "Builder",
    "article",
    "clean",
    "items",
    "job_parts",
    "proper",
    "rule",
    "with_place",
    "work_mode",
]

FILLER = re.compile(
    r"^(?:(?:(?:well|so+|oh+|ok|okay|also|actually|btw|by the way|and|but|hey|hi|hello|fyi|just so you know|"
    r"just to let you know|remember(?: that)?|note(?: that)?|for the record|honestly|in general|generally|"
    r"turns out|it turns out|funny enough|incidentally|sadly|unfortunately|luckily|fortunately|ugh|um+|uh+|hmm+|"
    r"welp|oh well|anyways?|so yeah|alright|right|ok so|okay so|yep|yup|nah|confession|heads up|"
    r"as of (?:last|this) \w+|since (?:last|this) \w+|lately|recently|big change|bonjour|"
    r"anyway|hey there|hiya|howdy|oh and|oh also|ok so|so yeah|yeah|yes|ok|okay|now|then|and now|but now|"
    r"these days|nowadays|currently|finally|luckily|i guess|i suppose|fwiw|ngl|not gonna lie|real talk|lowkey|"
    r"funny|weirdly|oddly|sadly|happily|so anyway)[,:!]?\s+)|"
    r"(?:(?:(?:small|quick|big|little)\s+)?(?:update|news)|(?:sure\s+)?look|listen|i\s+(?:should|must|have to|need to)\s+"
    r"(?:say|mention|add|tell you)(?:\s+that)?)[,:!]?\s+(?=(?:i|i'm|i've|i am|we|we're|we've|my|our)\b)|"
    r"(?:(?:yeah|yes|no|nope|sure|update|quick update|small update|big news|good news|bad news|sad news|fun fact|thanks|thx|"
    r"(?:a\s+)?bit of news|some news|news|plot twist|"
    r"weird update|big change|change of plan|"
    r"cool|nice|great|perfect|sounds good|true|good (?:morning|evening|afternoon)|g'day|hola|salut|hallo|"
    r"hei|oi|ciao)\s*[,:!.—–-]+\s*))+",
    re.I,
)
_TRAILING = re.compile(
    r"(?:[\s,]+(?:now|nowadays|these days|currently|only|at the moment|right now|anymore|any more|again|too|"
    r"as well|actually|instead|though|lately|recently|by the way|btw|thanks|thank you|lol|haha|since \d{4}|after all|"
    r"on (?:the |my )?(?:doctor'?s?|doc'?s?|physio'?s?|gp'?s?) orders|"
    r"for good|from now on|for now|(?:on|at|most|every|during) (?:the )?(?:weekends?|mornings?|evenings?|nights?|"
    r"days?|week|summers?|winters?)|(?:on|from|next|every|most) (?:monday|tuesday|wednesday|thursday|friday|saturday|"
    r"sunday)s?|by (?:trade|profession)|for a living|(?:once|twice|\w+ times) a (?:day|week|month|year)|"
    r"(?:last|this) (?:year|month|week|summer|winter|spring|fall|autumn)|a (?:while|year|month|week) ago|"
    r"(?:for )?(?:a few|several|\w+|\d+) (?:years|months|weeks|days)(?: ago| now)?))+$",
    re.I,
)
_SUBJECT = r"(?:i|i'm|i've|i am|i'd|i'll|my|we|we're|we've|we just)\b"
BARE_START = (
    r"(?:live|living|work|working|based|studying|originally|moved|(?:recently\s+|just\s+)?(?:semi-)?retired\b|"
    r"\d{1,3}(?:\s+years?\s+old)?\s*(?:,|$))"
)
SPLIT = re.compile(
    rf"(?<=[.!?;])\s+|\n+|\s+[—–]\s+|\s+-\s+|\s*[()]\s*|"
    rf",?(?<!'m)(?<!\bam)(?<!\bis)(?<!\bare)(?<!\bnot)(?<!\bbe)(?<!\band)(?<!\bfeel)\s+(?:so|because|cause)\s+"
    rf"(?!much\b|many\b|far\b|well\b|long\b|good\b|bad\b|that\b|sure\b|i\s+think\b)|"
    rf",\s*(?=(?:they|it|that|which|this|she|he)\s)|\s+(?=which\s+(?:makes|means|is|was|has)\b)|\s+but\s+(?=\w+\s+\w)|"
    rf"\s+and\s+(?=(?:the|it|this|that|there|everything|nothing)\s+\w+\s)|"
    rf",?\s+and\s+(?=(?:(?:now|also|currently)\s+)?(?:live|work|(?:just\s+)?moved|speak|started|joined|play|sing)\s+(?:in|into|at|as|for|to|with)\s|joined\s)|"
    rf",?\s+(?:and|but|also|plus|so|though|because|since)\s+(?!i\s+(?:just\s+|have\s+|'ve\s+)?(?:broke|broken|split)\s+up|i\s+(?:just\s+|finally\s+)?got\s+(?:married|engaged)|i\s+are\b)(?!(?<=since\s)i\s+was\b)"
    rf"(?=(?:(?:now|then|also|just|finally|currently|recently)\s+)?{_SUBJECT}|(?:it\s+)?turns out\b)|"
    rf",\s*(?=[\w' -]{{1,30}}\s+(?:is|are)\s+(?:\w+\s+)?my\b)|"
    rf":\s+(?={_SUBJECT})|"
    rf",\s*(?={_SUBJECT}|{BARE_START}|\S+ here\b|so\b|but\b|because\b)|(?<=\bhere),\s*|(?<=[\s,]\d\d),\s*|(?<=[\s,]\d),\s*",
    re.I,
)
NOT_A_STATEMENT = re.compile(
    r"^(?:if|when|whether|would|could|should|do|does|did(?!\s+(?:my|the|a|an)\s[^?]*$)|can|what|where|who|why|how)\b(?!')",
    re.I,  # "did my shoulder, ...", with no question mark: said with the "I" dropped
)
_LIST = re.compile(r"\s*(?:,\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+)\s*", re.I)
HEALTH = r"lactose intolerant|gluten intolerant|celiac|coeliac|diabetic|pregnant"

# (pattern, builder). Builders get the match and return facts; X is the captured object.
Builder = Callable[["re.Match[str]"], list[Fact]]
RULES: list[tuple[re.Pattern[str], Builder]] = []
_FIRST: set[Builder] = set()


def rule(pattern: str, *, first: bool = False) -> Callable[[Builder], Builder]:
    """Register a rule: after the others, or (``first``) before every rule registered without it."""

    def register(fn: Builder) -> Builder:
        entry = (re.compile(pattern, re.I), fn)
        if first:
            RULES.insert(sum(1 for _, f in RULES if f in _FIRST), entry)
            _FIRST.add(fn)
        else:
            RULES.append(entry)
        return fn

    return register


def clean(value: str) -> str:
    return _TRAILING.sub("", value.strip().rstrip(".!,;: ")).strip().rstrip(".!,;: ")


_NOT_PLACES = words(
    "a an the my our your his her their this that town the city home here there general bed work school "
    "uni college love it them touch charge fact case person time fear hope denial peace sin luxury poverty "
    "comfort harmony style hiding debt pain limbo chaos year class line queue traffic trouble shock bits tears"
)
_PLACE_END = words(
    "now with for and but since last this next because so at in on to from of near by until when while "
    "after before these nowadays currently again too though lol haha"
)
_NOT_AN_OBJECT = re.compile(
    r"^(?:it|that|this|these|those|them|him|her|please|pls|not|with|so|i|i'm|to|everyone|everybody|when|how|"
    r"what|because|if|the way|the hotter|being|having|you|your|his|their|our|me|carry|need|want|have|get|go|"
    r"make|take|use|keep|trying|going|getting|looking|hoping|thinking|a lot|on|at|every|sometimes)\b",
    re.I,
)


def items(value: str) -> list[str]:
    """The objects of a list ("tea, coffee and cake"); none that read like a clause ("it tastes like soap")."""
    value = re.split(r",\s*(?=(?:it|it's|that|which|who|they|he|she|so|but|because)\b)", value, maxsplit=1)[0]
    value = re.split(r"\s+(?:which|who|because|so|since|when|while|but)\s+", value, maxsplit=1)[0]
    if "," in value and not re.search(r",\s*[^,]*\b(?:and|or)\b[^,]*$", value):
        value = value.split(",", 1)[0]  # "badminton, tore a ligament": a list ends with and/or
    out = [re.sub(r"^(?:to|of|with|about|in)\s+", "", v, flags=re.I) for v in (clean(x) for x in _LIST.split(value)) if v]
    clause_like = r"\bi\b|\bi'm\b|\b(?:is|are|was|were|am|has|had|will|would)\b"
    return [v for v in out if not _NOT_AN_OBJECT.match(v) and not re.search(clause_like, v, re.I)]


def article(word: str) -> str:
    """ "a" or "an" before ``word`` as it is said: an engineer, a UX designer, a university lecturer."""
    vowel = word[:1] in "aeioAEIO" or (word[:1] == "u" and not word.startswith(("uni", "use", "usu", "ur")))
    return "an" if vowel else "a"


def proper(value: str) -> str | None:
    """The capitalized name a value starts with ("Pune last week for my wife's job" -> "Pune"), or None."""
    words = clean(value).split()
    run: list[str] = []
    for word in words:
        bare = word.strip(",;:!.")
        if bare[:1].isupper() or (run and bare.lower() in ("de", "del", "da", "do", "upon", "on", "am", "&")):
            run.append(bare)
            if bare != word:
                break
        else:
            break
    while run and not run[-1][:1].isupper():
        run.pop()
    if CASUAL.get() and len(words) > 1 and words[0].lower() == "the" and words[1].isalpha():
        words = words[1:]  # "moved back to the gold coast"
    if not run and CASUAL.get() and words and words[0].isalpha() and words[0].lower() not in _NOT_PLACES:
        for word in words[:3]:  # "in san diego now", from a writer who capitalizes nothing
            bare = word.strip(",;:!.")
            if not bare.isalpha() or bare.lower() in _NOT_PLACES or bare.lower() in _PLACE_END:
                break
            run.append(bare.capitalize())
            if bare != word:
                break
    return " ".join(run) or None


@rule(r"^(?:my name is|my name's|i am called|i'm called|call me|people call me)\s+(?P<x>[\w .'-]{1,40})$")
def _name(m: re.Match[str]) -> list[Fact]:
    name = clean(m["x"])
    return [Fact(f"My name is {name}.", "profile", "name", name)] if name else []


@rule(
    r"^(?:i|we)(?:'ve| have|'m| am|'re| are)?\s*(?:just |recently |finally |now |currently )?(?:live|lived|living|"
    r"based|reside|residing|moved|relocated)(?:\s+(?:down|up|back|over|out))?\s+(?:(?:just\s+)?(?:outside(?: of)?|"
    r"near|close to)\s+|(?:in|at|to)\s+)(?P<x>.+)$"
)
def _lives(m: re.Match[str]) -> list[Fact]:
    place = proper(m["x"])
    if not place or re.match(r"(?:an?|my|our)\s", place, re.I):  # "in a small flat", "in my car": not where
        return []
    return [Fact(f"I live in {place}.", "profile", "location", place)] if place else []


@rule(
    r"^(?:i|we)\s+(?:don't|do not|no longer|used to|lived)\s+(?:live\s+)?(?:in|at)\s+(?P<x>.+)$",
    first=True,
)
def _not_lives(m: re.Match[str]) -> list[Fact]:
    place = proper(m["x"]) or clean(m["x"])
    return (
        [Fact(f"I no longer live in {place}.", "fact", "location", place, negated=True, store="ends")]
        if place
        else []
    )


@rule(
    r"^(?:i(?:'m| am)\s+(?:originally\s+)?from|i\s+(?:originally\s+)?(?:come|hail)\s+from|"
    r"i\s+(?:grew up|was born|was born and raised|was raised)\s+in|born and raised in)\s+(?P<x>.+)$"
)
def _from(m: re.Match[str]) -> list[Fact]:
    place = proper(m["x"]) or clean(m["x"])
    return [Fact(f"I'm from {place}.", "profile", "hometown", place)] if place else []


@rule(
    r"^(?:i(?:'m| am)\s+(?:(?:very|severely|mildly|deathly|highly|really|quite|a bit|also)\s+)*allergic to|"
    r"i have an?\s+(?:\w+\s+)?allergy to)\s+(?P<x>.+)$"
)
def _allergic(m: re.Match[str]) -> list[Fact]:
    return [Fact(f"I'm allergic to {x}.", "fact", f"allergy:{norm_value(x)}", x) for x in items(m["x"])]


@rule(r"^i(?:'m| am)\s+(?:not|no longer)\s+allergic to\s+(?P<x>.+)$")
def _not_allergic(m: re.Match[str]) -> list[Fact]:
    return [
        Fact(f"I'm not allergic to {x}.", "fact", f"allergy:{norm_value(x)}", x, negated=True, store="ends")
        for x in items(m["x"])
    ]


@rule(rf"^i(?:'m| am)\s+(?:also\s+|very\s+|severely\s+|type [12]\s+)?(?P<x>{HEALTH})$")
def _health(m: re.Match[str]) -> list[Fact]:
    x = m["x"].lower()
    return [Fact(f"I'm {x}.", "fact", f"health:{norm_value(x)}", x)]


@rule(
    r"^i(?:'m| am)\s+(?:(?:a|an|now|now a|strictly|strictly a)\s+)?(?P<x>vegetarian|vegan|pescatarian|omnivore)$"
)
def _diet(m: re.Match[str]) -> list[Fact]:
    x = m["x"].lower()
    return [Fact(f"I'm {x}.", "profile", "diet", x)]


@rule(
    r"^i(?:'m| am|'ll be| will be| just turned| turned)\s+(?P<x>\d{1,3})(?:\s+years?(?:\s+old)?|\s*y/?o)?"
    r"(?:\s+(?:if|now|today|yesterday|this year|btw|and|lol|haha|as of|on|last|this)\b.*)?$"
)
def _age(m: re.Match[str]) -> list[Fact]:
    return [Fact(f"I'm {m['x']} years old.", "profile", "age", m["x"])] if 0 < int(m["x"]) <= 120 else []


_HOW = r"(?:\s+(?:weekends|part-time|full-time|nights|days|evenings|shifts|(?:night|day|late|early|long) shifts|remotely|from home|there|here|now))*"


@rule(
    rf"^i(?:\s+|'m\s+|\s+am\s+|'ve been\s+|\s+have been\s+)(?:(?:now|currently|still|also)\s+)?"
    rf"(?:work|working|doing\s+(?:[\w-]+\s+)?work|(?:started|begun|began|start)\s+working){_HOW}"
    rf"\s+as\s+(?P<x>.+?)(?:\s+for\s+(?:\d+|a|an|two|three|five|ten|many|several|the past)\s+(?:\w+\s+)?"
    rf"(?:years?|months?|weeks?|days?|decades?|while)\b.*)?$"
)
def _job(m: re.Match[str]) -> list[Fact]:
    job, employer, place = job_parts(m["x"])
    bare = re.sub(r"^(?:an?|the)\s+", "", job, flags=re.I)
    return with_place([Fact(f"I work as {job}.", "profile", "job", bare)], employer, place) if job else []


def job_parts(value: str) -> tuple[str, str | None, str | None]:
    """("a product manager at Kestrel Software in Pune") -> job, employer, place."""
    job = re.split(r"\s+(?=(?:(?:living|based|working|located)\s+)?(?:at|for|in)\s)", value, maxsplit=1)[0]
    field = re.match(rf"{re.escape(job)}\s+in\s+(?!(?:an?|the|my|our)\s)(?P<f>[a-z][a-z -]{{2,40}}?)(?=\s+(?:at|for|in)\s|$)", value)
    if field and not proper(field["f"]):  # "a PhD student in organic chemistry in Lyon": the field is the job's
        job = f"{job} in {field['f']}"
    employer = re.search(r"\b(?:at|for)\s+(?P<e>(?:an?\s+)?[\w&' -]+?)(?=\s+(?:\w+\s+)?in\s|$)", value)
    places = (proper(p["p"]) for p in re.finditer(r"\bin\s+(?=(?!(?:an?|the|my|our)\s)(?P<p>[^\W\d_].*)$)", value))
    where = next((p for p in places if p), None)
    who = clean(employer["e"]) if employer else None
    if who and not (
        who[:1].isupper() or re.search(r"\b(?:startup|company|firm|bank|hospital|school|agency)$", who)
    ):
        who = None
    return clean(job), who, where


def work_mode(said: str) -> list[Fact]:
    """How the user works when ``said`` tells ("I'm working remotely for Kestrel", "I work from home")."""
    mode = re.search(r"\b(?:fully\s+)?remote(?:ly)?\b|\bfrom home\b|\bhybrid\b", said, re.I)
    if not mode:
        return []
    if mode[0].lower() == "from home":
        return [Fact("I work from home.", "profile", "work_mode", "remote")]
    if mode[0].lower() == "hybrid":
        return [Fact("I work hybrid.", "profile", "work_mode", "hybrid")]
    return [Fact("I'm a remote worker.", "profile", "work_mode", "remote")]


def with_place(facts: list[Fact], employer: str | None, place: str | None) -> list[Fact]:
    """``facts`` with the employer and town a job was said with; a job's field ("a PhD student in physics")
    is a slot of its own, so it outlives the job ("now I'm a postdoc")."""
    at = next((i for i, f in enumerate(facts) if f.key == "job"), None)
    job = facts[at] if at is not None else None
    if at is not None and job and job.value and " in " in job.value:
        head, _, field = job.value.partition(" in ")
        facts[at] = Fact(job.text.replace(f" in {field}", ""), job.kind, "job", head)
        facts.insert(at + 1, Fact(f"My field is {field}.", "profile", "field", field))
    if employer:
        facts.append(Fact(f"I work at {employer}.", "profile", "employer", re.sub(r"^an?\s+", "", employer)))
    if place:
        facts.append(Fact(f"I live in {place}.", "profile", "location", place))
    return facts


@rule(rf"^i(?:\s+|'m\s+|\s+am\s+)(?:(?:now|currently|still|also)\s+)?(?:work|working){_HOW}\s+(?:at|for)\s+(?P<x>.+)$")
def _employer(m: re.Match[str]) -> list[Fact]:
    where, _, job = clean(m["x"]).partition(" as ")  # "at Norvik Bank as a data analyst"
    where, _, town = where.partition(" in ")  # "for Spotify in Stockholm"
    if re.match(r"(?:the\s+)?(?:moment|weekends?|night|home|times|least|first|last)\b", where, re.I):
        return []  # "I work nights at the moment"
    place = proper(town) if town else None
    facts = [Fact(f"I work at {where}.", "profile", "employer", where)] if where else []
    facts += [Fact(f"I live in {place}.", "profile", "location", place)] if place else []
    bare = re.sub(r"^(?:an?|the)\s+", "", job, flags=re.I)
    return facts + ([Fact(f"I work as {job}.", "profile", "job", bare)] if bare else []) + work_mode(m.group(0)[: m.start("x")])


@rule(r"^my\s+(?:favou?rite)\s+(?P<what>[\w -]{1,30}?)\s+(?:is|are)\s+(?P<x>.+)$")
def _favorite(m: re.Match[str]) -> list[Fact]:
    what, x = norm_value(m["what"]), clean(m["x"])
    key = "favorite_" + what.replace(" ", "_")
    return [Fact(f"My favorite {what} is {x}.", "preference", key, x)] if x else []


@rule(
    r"^i(?:\s+would\s+|'d\s+|\s+)(?:really\s+|much\s+|generally\s+|usually\s+|always\s+)?"
    r"(?:prefer|rather\s+(?:have|get|you\s+(?:gave|give|kept|keep)))\s+(?P<x>.+)$"
)
def _prefer(m: re.Match[str]) -> list[Fact]:
    x = clean(re.split(r",?\s+(?:not|rather than|instead of)\s+", m["x"], maxsplit=1)[0])
    head = re.split(r"\s+(?:over|to|rather than|instead of)\s+", x, maxsplit=1)[0]
    return [Fact(f"I prefer {x}.", "preference", f"likes:{norm_value(head)}", head)] if x else []


@rule(
    r"^(?:i|we)\s+(?:really\s+|absolutely\s+|do\s+|also\s+|all\s+)?(?P<v>like|love|enjoy|adore)\s+(?P<x>.+)$"
)
def _likes(m: re.Match[str]) -> list[Fact]:
    verb = m["v"].lower()
    if re.search(r"\b(?:more|better|less|most)$", clean(m["x"]), re.I):
        return []  # "I like bio more": a comparison, not a liking
    if re.match(r"(?:to\s+)?(?:understand|know|think|believe|feel|keep|make sure|be|have|get|see|hear|ask|check|"
                r"plan|try|stay|feel)\b", m["x"], re.I):
        return []  # "I like to understand the reasoning fully": how the user wants things, not a pastime
    said = f"{verb} to" if re.match(r"to\s", m["x"], re.I) else verb  # "I like to cook"
    return [Fact(f"I {said} {x}.", "preference", f"likes:{norm_value(x)}", x) for x in items(m["x"])]


@rule(
    r"^i\s*(?P<v>(?:(?:really\s+)?(?:don't|do not|no longer|never)\s+(?:really\s+)?(?:like|enjoy|love|eat|drink)|"
    r"(?:really\s+)?(?:hate|dislike|detest|can't stand|cannot stand|can not stand)|"
    r"(?:can't|cannot|can not|can no longer)\s+(?:eat|drink|have|handle|tolerate|stomach)|"
    r"(?:'ve\s+|\s*have\s+)?(?:stopped|quit)\s+(?:eating|drinking)|(?:'ve\s+|\s*have\s+)?(?:totally\s+|completely\s+)?gone\s+(?:totally\s+|completely\s+)?off|"
    r"(?:'m|\s*am)\s+done with|(?:'ll|\s*will|\s*shall)\s+avoid|(?:'ve\s+|\s*have\s+)?given up(?:\s+on)?|"
    r"gave up(?:\s+on)?))\s+(?P<x>.+)$"
)
def _dislikes(m: re.Match[str]) -> list[Fact]:
    verb = " ".join(m["v"].lower().replace(" totally", "").replace(" completely", "").split())  # the user's own
    # words: "can't eat" is not "don't like"
    verb = verb if verb.startswith("'") else " " + verb
    return [
        Fact(f"I{verb} {x}.", "preference", f"likes:{norm_value(x)}", x, negated=True) for x in items(m["x"])
    ]


@rule(r"^my\s+birthday\s+is\s+(?:on\s+)?(?P<x>.+)$")
def _birthday(m: re.Match[str]) -> list[Fact]:
    x = clean(m["x"])
    return [Fact(f"My birthday is {x}.", "profile", "birthday", x)] if x else []


@rule(
    r"^i\s+have\s+(?P<x>(?:a|an|one|two|three|four|five|\d+)\s+(?:[\w-]+\s+){0,2}"
    r"(?:dogs?|cats?|kids?|children|sons?|daughters?|brothers?|sisters?|pets?|birds?|horses?|rabbits?)"
    r"(?:\s+(?:named|called)\s+[\w ,'-]+)?)$"
)
def _has(m: re.Match[str]) -> list[Fact]:
    x = clean(m["x"])
    return [Fact(f"I have {x}.", "fact", None, x)] if x else []
