"""The offline rules, part two: how people introduce themselves in chat ("Omar here", "I'm Marcus. 34,
live in Leeds", "I'm a nurse at X in Y"), likes said other ways ("I'm into X", "I've gone off X"), endings
("X and I broke up"). Partners and pets mentioned anywhere in a clause are in `persona.learning.mentions`."""

from __future__ import annotations

import re

from .casual import CASUAL
from .rules import article, clean, items, job_parts, proper, rule, with_place
from .slots import Fact, norm_value
from .words import NOT_NAMES, words

__all__ = ["NOT_NAMES", "is_job"]

_JOBS_NOT_NAMES = words(
    "nurse teacher doctor dentist student chef cook driver engineer developer designer lawyer writer farmer "
    "manager pilot paramedic midwife vet carer cleaner builder plumber electrician mechanic accountant consultant "
    "analyst architect artist musician firefighter solicitor barista waiter waitress nanny tutor"
)
_NOT_HERE = words(
    "i we you she he they it i'm we're it's that's me everyone everybody someone nobody anyone people locals "
    "mum mom dad new same also still just nothing something everything life weather right over sitting waiting "
    "stuck lost out there"
)

_JOB_WORD = re.compile(
    r"(?:[a-z]+(?:er|or|ist|ian|ant|ent|eer|ect|ef|man|woman|person)|GP|CEO|CTO|CFO|COO|DJ|EMT|RN|PA|MP|nurse|student|chef|cook|pilot|clerk|judge|barista|medic|vet|"
    r"nanny|model|coach|tutor|intern|freelancer|illustrator|solicitor|dentist|surgeon|barber|midwife|"
    r"paramedic|carpenter|plumber|electrician|engineer|scientist|artist|editor|author|writer|actor|"
    r"analyst|consultant|accountant|architect|lawyer|doctor|professor|lecturer|researcher|postdoc|"
    r"officer|soldier|firefighter|mechanic|technician|designer|developer|manager|director|founder)$"
)
_NOT_JOBS = words(
    "beginner member fan lover user person parent patient resident client customer talker sleeper "
    "eater drinker smoker runner reader listener learner speaker believer worrier introvert extrovert "
    "father mother brother sister daughter grandmother grandfather grandparent partner neighbor "
    "neighbour owner other regular winner loser vegetarian pescatarian christian libertarian "
    "contrarian omnivore foodie newbie rookie amateur perfectionist optimist pessimist realist "
    "procrastinator night owl woman human german roman norman layman businessperson gamer dreamer thinker "
    "overthinker worker"
)


def is_job(phrase: str) -> bool:
    words = phrase.split(" in ")[0].split()  # "PhD student in physics": the job is before its field
    last = words[-1] if words else ""
    return (
        bool(last)
        and (last.islower() or last in ("GP", "CEO", "CTO", "CFO", "COO", "DJ", "EMT", "RN", "PA", "MP"))
        and last not in _NOT_JOBS
        and bool(_JOB_WORD.match(last))
        and len(words) <= 5
    )


@rule(r"^(?:i'm|i am|this is|it's)\s+(?P<x>[^\W\d_][\w'-]*)(?P<tag>\s+(?:btw|here|by the way|lol))?$")
def _intro(m: re.Match[str]) -> list[Fact]:
    name = m["x"]
    if (
        name.lower() in NOT_NAMES
        or not (name[:1].isupper() or m["tag"])
        or (name.islower() and name.endswith(("ing", "ed", "ly")))
        or (name.isupper() and len(name) > 1)
    ):
        return []
    name = name[:1].upper() + name[1:]
    return [Fact(f"My name is {name}.", "profile", "name", name)]


@rule(r"^(?P<x>[^\W\d_][\w'-]*)(?P<last>\s+[A-Z][\w'-]+)?\s+here(?:\s+from\s+(?P<place>.+))?$")
def _here(m: re.Match[str]) -> list[Fact]:
    """ "Omar here", "Margaret Ellison here", and "bec here" from a writer who capitalizes nothing."""
    name = m["x"]
    if (m["last"] and not m["last"].strip()[:1].isupper()) or name.lower() in _JOBS_NOT_NAMES:
        return []  # "nut allergy here" (the pattern ignores case), "Nurse here, on nights"
    if not (name[:1].isupper() or (CASUAL.get() and name.isalpha() and len(name) > 2)) or name.lower() in (
        NOT_NAMES | _NOT_HERE
    ):
        return []
    name = name[:1].upper() + name[1:] + (m["last"] or "")
    facts = [Fact(f"My name is {name}.", "profile", "name", name)]
    place = proper(m["place"]) if m["place"] else None
    return with_place(facts, None, place)


@rule(
    r"^i(?:'m| am|'ve been| have been|'ve become| have become| became| just became)\s+"
    r"(?:(?:now|officially|still|also|actually|currently|just|a\s+(?:full-time|part-time))\s+)*"
    r"(?:a|an)\s+(?P<x>.+?)(?:\s+(?:for|since)\s+(?:\d+|a|an|two|three|five|ten|many|several|the past|last|\d{4})\b.*)?$"
)
def _job_a(m: re.Match[str]) -> list[Fact]:
    job, employer, place = job_parts(m["x"])
    keen = re.match(r"(?:keen|avid|passionate|enthusiastic|amateur|lifelong|obsessive|hobby|weekend)\s+(?P<x>[\w-]+)$", job)
    if keen and not employer:  # "a keen birdwatcher": what they love doing, not their job
        return [Fact(f"I'm {article(job)} {job}.", "preference", f"likes:{norm_value(keen['x'])}", keen["x"])]
    if not is_job(job.split(" in ")[0]) and not is_job(re.sub(r"\s+in\s+\w+$", "", job)):
        return []
    art = article(job)
    return with_place([Fact(f"I'm {art} {job}.", "profile", "job", job)], employer, place)


@rule(
    r"^(?:i(?:'m| am)|we(?:'re| are))\s+(?:now\s+|currently\s+|still\s+)?(?:in|based in|living in|located in|"
    r"(?:just\s+)?(?:outside(?:\s+of)?|near|close to)|back\s+(?:home\s+)?in)\s+(?P<x>.+)$"
)
def _in_place(m: re.Match[str]) -> list[Fact]:
    x = re.sub(r"^(?:an?|the|my|our)\s+(?:[\w-]+\s+){0,2}?(?:flat|house|apartment|studio|room|cottage|condo|"
               r"bungalow|dorm|place)\s+(?:in|near|outside)\s+", "", m["x"], flags=re.I)  # "in a flat in Solihull"
    if re.match(r"(?:the|a|an|my|our|this|that)\s+[a-z]", x):
        return []  # "I'm in the kitchen", "just outside the station": where the user is now, not a town
    place = proper(x)
    return [Fact(f"I live in {place}.", "profile", "location", place)] if place else []


@rule(
    r"^i(?:'m| am)\s+(?P<neg>(?:not|no longer)\s+(?:really\s+|that\s+|much\s+)?)?(?:really\s+|so\s+|super\s+|very\s+|also\s+)?"
    r"(?:into|obsessed with|crazy about|all about|(?:a )?(?:big |huge |massive )?fan of|passionate about|keen on|fond of)"
    r"\s+(?P<x>.+?)"
    r"(?:\s+at all)?$"
)
def _into(m: re.Match[str]) -> list[Fact]:
    if m["neg"]:
        return [Fact(f"I'm not into {x}.", "preference", f"likes:{norm_value(x)}", x, negated=True) for x in items(m["x"])]
    return [Fact(f"I'm into {x}.", "preference", f"likes:{norm_value(x)}", x) for x in items(m["x"])]


_NOT_PLAYED = re.compile(r"(?:a lot|on|at|in|for|with|every|sometimes|too|well|badly|it|them|along)\b", re.I)


@rule(r"^i\s+(?:also\s+)?(?:play|practi[cs]e)\s+(?P<x>(?!it\b|with\b)[\w' -]+)(?:,.*)?$")
def _plays(m: re.Match[str]) -> list[Fact]:
    x = clean(m["x"])
    if _NOT_PLAYED.match(x):
        return []
    return [Fact(f"I play {x}.", "fact", f"likes:{norm_value(x)}", x)] if x else []


@rule(r"^i\s+(?:would|'d)\s+(?:really\s+)?appreciate\s+(?P<x>.+?)(?:,?\s+please)?$")
def _appreciate(m: re.Match[str]) -> list[Fact]:
    x = clean(m["x"])
    return [Fact(f"I prefer {x}.", "preference", f"likes:{norm_value(x)}", x)] if x else []


_FORMAT = re.compile(
    r"\b(?:emojis?|emoticons|jargon|markdown|bullet|bullets|lists?|tables?|caps|exclamation|slang|swearing|small talk|"
    r"filler|fluff|disclaimers?|code|headings|headers|links|waffle|abbreviations|acronyms|exclamation marks|"
    r"exclamation points|technical terms|big words|long words|capitals|capital letters)\b",
    re.I,
)


@rule(
    r"^(?:please\s+|pls\s+)?no\s+(?P<x>[\w -]+?)(?:\s+in\s+(?:your\s+|the\s+)?(?:replies|answers|responses))?(?:\s+please|\s+pls)?$"
)
def _no_please(m: re.Match[str]) -> list[Fact]:
    x = clean(m["x"])
    if (
        not x
        or x.lower() in ("no", "not", "thanks")
        or m.group(0).lower().startswith(("no longer", "no more", "no idea", "no problem", "no worries"))
        or re.search(r"\bin\s+(?!(?:your\s+|the\s+)?(?:replies|answers|responses)\b)", x, re.I)
        or not (re.search(r"\bin\s+(?:your\s+|the\s+)?(?:replies|answers|responses)\b", m.group(0), re.I) or _FORMAT.search(x))
    ):
        return []
    return [Fact(f"I don't want {x} in answers.", "preference", f"likes:{norm_value(x)}", x, negated=True)]


@rule(
    r"^(?:please\s+|pls\s+|and\s+|also\s+)*(?:don't|do not|never|stop|try not to)\s+(?:use|using|add|adding|include|"
    r"including|put|putting)\s+(?:so many\s+|too many\s+|any\s+|all (?:the|those|these)\s+)?(?P<x>[\w -]+?)"
    r"(?:\s+in\s+(?:your\s+|the\s+)?(?:replies|answers|responses|messages))?(?:\s+please|\s+pls)?(?:,.*)?$"
)
def _do_not_use(m: re.Match[str]) -> list[Fact]:
    """ "please do not use abbreviations in your replies", "don't use so many exclamation marks": a form of
    writing the user does not want (a word of `_FORMAT`, or said to be in the replies)."""
    x = clean(m["x"])
    if not x or not (_FORMAT.search(x) or re.search(r"\b(?:replies|answers|responses|messages)$", m.group(0), re.I)):
        return []
    return [Fact(f"I don't want {x} in answers.", "preference", f"likes:{norm_value(x)}", x, negated=True)]


@rule(r"^(?P<x>[\w -]+?)\s+only,?\s+(?:please|pls)$")
def _only_please(m: re.Match[str]) -> list[Fact]:
    x = clean(m["x"])
    return [Fact(f"I prefer {x} only.", "preference", f"likes:{norm_value(x)}", x)] if x else []


@rule(r"^i(?:'m| am)\s+(?:not|no longer)\s+(?:a\s+)?(?P<x>vegetarian|vegan|pescatarian)(?:\s+.*)?$")
def _not_diet(m: re.Match[str]) -> list[Fact]:
    x = m["x"].lower()
    return [Fact(f"I'm not {x} anymore.", "profile", "diet", x, negated=True, store="ends")]


@rule(r"^i\s+(?:only\s+eat\s+(?P<a>[\w -]+)|eat\s+(?P<b>[\w -]+?)\s+only)$")
def _eats_only(m: re.Match[str]) -> list[Fact]:
    x = clean(m["a"] or m["b"])
    return [Fact(f"I eat {x} only.", "profile", "diet", x)] if x else []


@rule(
    r"^(?:(?P<x>[^\W\d_][\w'-]*)\s+and\s+(?:i|me)|me\s+and\s+(?P<y>[^\W\d_][\w'-]*)|we)\s+(?:have\s+|'ve\s+)?"
    r"(?:just\s+|finally\s+|officially\s+)?(?:broke up|broken up|split up|separated|divorced|got divorced|"
    r"(?:are|'re)\s+(?:divorced|separated|over|done|not together(?:\s+anymore)?))\b.*$"
)
def _broke_up(m: re.Match[str]) -> list[Fact]:
    name = m["x"] or m["y"]
    if not name or not (name[:1].isupper() or CASUAL.get()) or name.lower() in NOT_NAMES | {"she", "he", "they"}:
        return []  # a lower-case name only from a writer who capitalizes nothing ("jake and i broke up")
    name = name[:1].upper() + name[1:]
    return [Fact(f"{name} and I broke up.", "profile", "partner", name, negated=True, store="ends")]


@rule(
    r"^(?:(?:my|our|the)\s+(?:old\s+)?(?:dog|cat|pet|rabbit|bird|horse|hamster|parrot)\s+|(?:old|poor|little|sweet)\s+)?"
    r"(?P<x>[^\W\d_][\w'-]*)\s+(?:(?:has\s+)?passed away|died|passed|(?:has\s+)?been put down)\b.*$"
)
def _passed(m: re.Match[str]) -> list[Fact]:
    name = m["x"]
    if not name[:1].isupper() or name.lower() in NOT_NAMES | {"i", "we", "he", "she", "it", "they", "my"}:
        return []
    return [Fact(f"{name} passed away.", "fact", f"pet:{name.lower()}", name, negated=True, store="ends")]


@rule(r"^i(?:'ve| have)?\s+(?:just\s+)?(?:left|quit)\s+(?P<x>[^\W\d_][\w&' -]*?)(?:\s+(?:and|to)\b.*)?$")
def _left_job(m: re.Match[str]) -> list[Fact]:
    where = proper(m["x"])
    return (
        [Fact(f"I no longer work at {where}.", "profile", "employer", where, negated=True, store="ends")]
        if where
        else []
    )


@rule(r"^(?:i'm|i am)\s+(?P<x>[^\W\d_][\w'-]*),\s+(?:an?\s+)?(?P<rest>.+)$")
def _intro_as(m: re.Match[str]) -> list[Fact]:
    """ "I'm Fatima, a med student in Cairo": a name, then what the user is."""
    name = m["x"]
    if not name[:1].isupper() or name.lower() in NOT_NAMES:
        return []
    facts = [Fact(f"My name is {name}.", "profile", "name", name)]
    job, employer, place = job_parts(m["rest"])
    if is_job(job):
        art = article(job)
        facts = with_place([*facts, Fact(f"I'm {art} {job}.", "profile", "job", job)], employer, place)
    return facts


@rule(r"^i(?:'m| am)?\s*(?:now\s+|currently\s+)?studying\s+(?P<x>.+)$")
def _studying(m: re.Match[str]) -> list[Fact]:
    from .rules_identity import studies

    subject, school, place = job_parts(m["x"])
    return studies(subject, school, place) if subject else []


@rule(r"^i\s+(?:studied|majored in|graduated in|graduated from)\s+(?P<x>[^,]+?)(?:,.*)?$")
def _studied(m: re.Match[str]) -> list[Fact]:
    x = clean(m["x"])
    return [Fact(f"I studied {x}.", "fact", "education", x)] if x else []


@rule(r"^i(?:'m| am)\s+(?:now\s+|currently\s+|also\s+)?learning\s+(?P<x>[^,]+?)(?:\s+for\b.*|,.*)?$")
def _learning(m: re.Match[str]) -> list[Fact]:
    x = clean(m["x"])
    return [Fact(f"I'm learning {x}.", "fact", f"learning:{norm_value(x)}", x)] if x else []


@rule(r"^i\s+teach\s+(?P<x>.+)$")
def _teach(m: re.Match[str]) -> list[Fact]:
    subject, employer, place = job_parts(m["x"])
    return (
        with_place([Fact(f"I teach {subject}.", "profile", "job", subject)], employer, place)
        if subject
        else []
    )


_CONDITIONS = r"asthma|diabetes|type 1 diabetes|type 2 diabetes|celiac disease|coeliac disease|adhd|epilepsy|migraines|arthritis|ibs|eczema|high blood pressure"


@rule(rf"^i(?:\s+have|'ve got|\s+have got|\s+got|\s+suffer from|'ve been diagnosed with|\s+was diagnosed with)\s+(?P<x>{_CONDITIONS})\b.*$")
def _condition(m: re.Match[str]) -> list[Fact]:
    x = m["x"].lower()
    return [Fact(f"I have {x}.", "fact", f"health:{norm_value(x)}", x)]


@rule(
    r"^(?P<x>[^,]{1,40}?)\s+(?:is|are)\s+(?:basically\s+|definitely\s+|probably\s+|still\s+)?my\s+"
    r"(?:absolute\s+|all-time\s+)?(?:favou?rite|fave?)(?:\s+(?P<what>[\w -]{1,20}?))?$"
)
def _is_my_favorite(m: re.Match[str]) -> list[Fact]:
    x, what = clean(m["x"]), norm_value(m["what"] or "thing")
    if items(x) != [x]:
        return []
    return [Fact(f"My favorite {what} is {x}.", "preference", "favorite_" + what.replace(" ", "_"), x)]


@rule(
    r"^(?P<x>[\w' -]{1,30}?)\s+(?:is|are)\s+(?:basically\s+|totally\s+|definitely\s+)?my\s+(?:main\s+|big\s+|one\s+|"
    r"new\s+)?(?:hobby|passion|thing|jam|go-to|comfort food|fuel|obsession|weakness|guilty pleasure)\b.*$"
)
def _hobby(m: re.Match[str]) -> list[Fact]:
    x = clean(m["x"])
    what = re.search(r"\bmy\s+(?:\w+\s+)?(hobby|passion|thing|jam|go-to|comfort food|fuel|obsession|weakness|guilty pleasure)",
                     m.group(0), re.I)
    return (
        [Fact(f"{x[:1].upper()}{x[1:]} is my {what[1].lower() if what else 'hobby'}.", "preference", f"likes:{norm_value(x)}", x)]
        if items(x) == [x]
        else []
    )


@rule(
    r"^i(?:'m| am)\s+(?P<neg>not\s+)?(?:really\s+)?(?:an?\s+)(?:(?:big|huge|massive|die-hard|lifelong|real|true|total)\s+)?(?P<x>[\w' -]{1,30}?)\s+(?:guy|girl|person|fan|lover)$"
)
def _kind_of_person(m: re.Match[str]) -> list[Fact]:
    x = clean(m["x"])
    if not x or re.fullmatch(r"(?:morning|night|evening|early|late|people|indoor|outdoor|glass half \w+)", x, re.I):
        return []  # "a morning person" says when, not what the user likes
    if m["neg"]:
        return [Fact(f"I'm not into {x}.", "preference", f"likes:{norm_value(x)}", x, negated=True)]
    return [Fact(f"I'm into {x}.", "preference", f"likes:{norm_value(x)}", x)]


@rule(
    r"^i(?:'m| am)\s+(?:really\s+|honestly\s+|so\s+)?(?:scared|afraid|terrified)\s+of\s+(?P<x>[^,]+?)(?:,.*)?$"
)
def _afraid(m: re.Match[str]) -> list[Fact]:
    return [
        Fact(f"I'm scared of {x}.", "preference", f"likes:{norm_value(x)}", x, negated=True)
        for x in items(m["x"])
    ]
