"""The offline rules, part five: who the user is and what they do, said without the usual slot words.

* nationality ("I'm Canadian", "I'm half Italian"), handedness ("I'm left-handed");
* the team they support ("I support Liverpool", "I'm a Celtic supporter"): one team at a time;
* what they own ("I own a Vespa"; "I sold my Vespa" ends it, `persona.learning.supersede`);
* what they study, said as a verb ("I study law at UCL", "I'm doing a PhD in chemistry");
* activities said as habits ("I go climbing most weekends", "I run marathons", "I swim every morning").

Registered after the other parts: a clause another rule reads is theirs.
"""

from __future__ import annotations

import re

from .rules import clean, items, job_parts, proper, rule, with_place
from .slots import Fact, norm_value
from .words import words

__all__ = ["ACTIVITIES", "DEMONYMS", "SUBJECTS", "studies"]

DEMONYMS = words(
    "american british english scottish welsh irish canadian australian mexican brazilian argentinian "
    "chilean colombian peruvian venezuelan cuban french german italian spanish portuguese dutch belgian "
    "swiss austrian polish czech slovak hungarian romanian bulgarian greek turkish russian ukrainian "
    "swedish norwegian danish finnish icelandic estonian latvian lithuanian serbian croatian bosnian "
    "chinese japanese korean vietnamese thai filipino indonesian malaysian singaporean indian pakistani "
    "bangladeshi nepali iranian iraqi syrian lebanese israeli palestinian jordanian saudi emirati "
    "egyptian moroccan algerian tunisian nigerian ghanaian kenyan ethiopian somali ugandan tanzanian "
    "south african zimbabwean jamaican trinidadian haitian kiwi"
)


@rule(r"^i(?:'m| am)\s+(?P<half>half\s+)?(?:(?:originally|proudly|a proud)\s+)?(?P<x>[A-Za-z]+(?:\s+african)?)$")
def _nationality(m: re.Match[str]) -> list[Fact]:
    x = m["x"]
    if x.lower() not in DEMONYMS or not (x[:1].isupper() or x.islower()):
        return []
    x = " ".join(w.capitalize() for w in x.split())
    half = "half " if m["half"] else ""
    return [Fact(f"I'm {half}{x}.", "profile", "nationality", f"{half}{x}")]


def studies(subject: str, school: str | None, place: str | None) -> list[Fact]:
    """What the user studies, where (a school is not an employer), and the town."""
    facts = [Fact(f"I'm studying {subject}.", "profile", "studies", subject)]
    if school:
        facts.append(Fact(f"I study at {school}.", "profile", "school", re.sub(r"^an?\s+", "", school)))
    return with_place(facts, None, place)


@rule(r"^i(?:'m| am)\s+(?P<x>left|right)[- ]handed$")
def _handed(m: re.Match[str]) -> list[Fact]:
    x = m["x"].lower()
    return [Fact(f"I'm {x}-handed.", "profile", "handedness", f"{x}-handed")]


@rule(
    r"^(?:i\s+(?:now\s+)?support\s+(?P<a>[A-Z][\w&' .-]+)|i(?:'m| am)\s+an?\s+(?:(?:big|huge|massive|lifelong|die-hard)\s+)?"
    r"(?P<b>[A-Z][\w&' .-]+?)\s+(?:supporter|season ticket holder)(?:\s+(?:since|for)\b.*)?|"
    r"(?:an?\s+)?(?:(?:big|huge|massive|lifelong|die-hard)\s+)?(?P<c>[A-Z][\w&'.-]+(?:\s+[A-Z][\w&'.-]+)?)\s+supporter"
    r"(?:\s+(?:since|for)\b.*)?)$"
)
def _supports(m: re.Match[str]) -> list[Fact]:
    said = m["a"] or m["b"] or m["c"]
    if re.match(r"(?:the|my|your|his|her|our|their|this|that|it|them|him|everyone|people)\b", said):
        return []  # "I support the idea", "I support my family" (the pattern ignores case)
    team = proper(said)
    return [Fact(f"I support {team}.", "preference", "team", team)] if team else []


@rule(r"^(?:i|we)\s+(?:now\s+)?own\s+(?:an?|two|three|\d+)\s+(?P<x>[\w -]{2,40})$")
def _owns(m: re.Match[str]) -> list[Fact]:
    x = clean(m["x"])
    return [Fact(f"I own a {x}.", "fact", f"owns:{norm_value(x)}", x)] if x else []


@rule(
    r"^i(?:'m| am)?\s*(?:now\s+|currently\s+)?(?:study|doing an?\s+(?:phd|ph\.d\.|masters?|master's|degree|ba|bsc|ma|msc|"
    r"mba|doctorate|diploma|course)\s+in)\s+(?P<x>.+)$"
)
def _study(m: re.Match[str]) -> list[Fact]:
    subject, school, place = job_parts(m["x"])
    if not subject or re.match(r"(?:hard|a lot|late|every|at|for|with|it)\b", subject, re.I):
        return []
    return studies(subject, school, place)


ACTIVITIES = (
    r"run|swim|cycle|bike|surf|climb|hike|knit|crochet|bake|paint|draw|sing|dance|skate|ski|snowboard|box|row|"
    r"sail|fish|garden|golf|skateboard|paddleboard|kayak|meditate|journal|sew|quilt"
)


@rule(
    rf"^i\s+(?:(?:also|regularly|often|usually|love to|like to|try to)\s+)?(?:go\s+(?P<g>[a-z]+ing)|(?P<v>{ACTIVITIES}))"
    rf"(?P<rest>(?:\s+[\w'-]+){{0,5}})$"
)
def _does(m: re.Match[str]) -> list[Fact]:
    rest = clean("I" + (m["rest"] or ""))[1:].strip()  # without "every morning", "twice a week"
    if m["g"]:
        if m["g"] in ("going", "nothing", "something", "everything"):
            return []
        x = m["g"]
        return [Fact(f"I go {x}.", "preference", f"likes:{x}", x)]
    verb = m["v"].lower()
    rest = re.sub(r"^(?:in|with)\s+(?:an?|the|my|our)\s+(?=(?:\w+\s+)?(?:choir|band|club|team|league|group|orchestra)\b)", "", rest)
    if re.match(r"(?:to|into|away|out|for|from|a|an|the|my|our|late|behind|it|them|that|this)\b", rest, re.I):
        return []  # "I run a bakery", "I run late", "I paint the fence"
    if re.match(r"(?:in|at|on|with|around|along|by|when|sometimes|often|a lot)\b", rest, re.I):
        rest = ""  # "I swim in the canal sometimes": the activity is the verb
    obj = items(rest)[0] if rest and items(rest) else ""
    said = rest if obj else ""  # the activity is the verb ("I run marathons" ends with "I don't run anymore")
    return [Fact(f"I {verb} {said}".strip() + ".", "preference", f"likes:{verb}", verb)]


@rule(
    r"^i(?:'ve| have)?\s+(?:just\s+|finally\s+)?(?:dropped out(?:\s+of\s+.+)?|graduated|finished (?:my|uni|university|"
    r"college|school)\b.*)$",
    first=True,
)
def _done_studying(m: re.Match[str]) -> list[Fact]:
    return [
        Fact("I'm no longer a student.", "profile", "studies", "", negated=True, store="ends"),
        Fact("I no longer study there.", "profile", "school", "", negated=True, store="ends"),
    ]


SUBJECTS = (
    r"biology|chemistry|physics|maths|math|mathematics|statistics|computer science|economics|psychology|sociology|"
    r"criminology|anthropology|history|geography|philosophy|politics|political science|law|medicine|nursing|"
    r"engineering|architecture|english|english literature|literature|linguistics|accounting|finance|business|"
    r"marketing|music|fine art|art|design|journalism|education|theology|classics|astronomy|geology|neuroscience|"
    r"biochemistry|pharmacy|dentistry|veterinary science|zoology|ecology|film studies|media studies|drama"
)


@rule(
    rf"^i(?:'ve| have)?\s+(?:just\s+|finally\s+|officially\s+)?(?:switched|changed|transferred)\s+(?:over\s+)?to\s+"
    rf"(?P<x>{SUBJECTS})(?:\s+(?:this|next|last)\s+(?:semester|term|year)|\s+now|\s+instead)*$"
)
def _switched_subject(m: re.Match[str]) -> list[Fact]:
    """ "I switched to biology this semester": a subject names what the user studies, without "major"."""
    x = m["x"].lower()
    return [Fact(f"I'm studying {x}.", "profile", "studies", x)]


_NAME = r"[A-Z][\w'-]*"


@rule(
    rf"^(?:(?P<x>{_NAME})\s+and\s+(?:i|me)|me\s+and\s+(?P<y>{_NAME})|i|we)(?:'ve| have|'re| are|'m| am)?\s+"
    rf"(?:just\s+|finally\s+|recently\s+|officially\s+)*(?:got|gotten|are|am)?\s*(?P<s>married|engaged)"
    rf"(?!\s+to\b)\b.*$",
    first=True,
)
def _got_married(m: re.Match[str]) -> list[Fact]:
    """ "Hugo and me got married", "Camille and I got engaged", "I got engaged last night"."""
    name, status = m["x"] or m["y"], m["s"].lower()
    if name:
        return [Fact(f"I'm {status} to {name}.", "profile", "partner", name)]
    return [Fact(f"I'm {status}.", "profile", "relationship", status)]


@rule(rf"^(?P<x>{_NAME})\s+(?:just\s+|finally\s+)?(?:proposed|popped the question)\b.*$")
def _proposed(m: re.Match[str]) -> list[Fact]:
    """ "Karim proposed on the Bluffs": the one who proposed is the user's fiancé(e)."""
    name = m["x"]
    if name.lower() in ("he", "she", "they", "it", "i", "we", "you") or re.search(r"\bto\s+(?!me\b)", m.group(0), re.I):
        return []  # "Tom proposed to my sister": not to the user
    return [Fact(f"I'm engaged to {name}.", "profile", "partner", name)]
