"""People and pets the user mentions anywhere in a clause: "my wife Priya hates chickpeas", "our dog is
called Tico", "I have a budgie called Pip and an old cat named Sooty", "my two rabbits".

A partner named once fills the ``partner`` slot; an unnamed mention ("my wife thinks ...") is kept only while
the slot is empty (``store="fills"``), so it neither duplicates nor replaces the name.
"""

from __future__ import annotations

import re

from .casual import CASUAL
from .rules import article
from .rules_everyday import is_job
from .slots import Fact
from .words import NOT_NAMES, words

__all__ = ["anywhere", "name_like", "named_in_passing"]

_NAME = r"[^\W\d_][\w-]*(?:'(?!s\b)[\w-]+)?"
# "my wife", "our ...", and the ways English says "my wife" without "my": "the wife", "the missus", or
# "missus" opening a clause ("missus reckons ..."); "my late husband" is a partner who died.
_PARTNER = re.compile(
    rf"(?:\bmy\s+(?P<late>late\s+)?(?P<rel>wife|husband|boyfriend|girlfriend|partner|fianc[ée]e?|spouse|hubby|bf|gf|"
    rf"missus|other half)|(?:\bthe\s+|^)(?P<rel2>wife|husband|hubby|missus|other half))\b"
    rf"(?:(?:(?:'s)?\s+name\s+is\s+|,?\s+(?:(?:is\s+called|is\s+named|goes\s+by)\s+)?)(?P<x>{_NAME}))?",
    re.I,
)
_CHILD = re.compile(
    rf"\b(?:(?:my|our)\s+(?:little\s+|baby\s+|eldest\s+|youngest\s+|elder\s+|older\s+|younger\s+)?"
    rf"(?P<rel>daughter|son|granddaughter|grandson|grandchild|grandkid)(?:'s\s+name\s+is|\s+is\s+called|\s+is\s+named)?"
    rf"|(?:i|we)(?:'ve| have)?\s+(?:got\s+|have\s+)?an?\s+(?:\d+-year-old\s+|little\s+|baby\s+)?"
    rf"(?P<rel3>daughter|son)\s+(?:called|named))\s+(?P<x>{_NAME})",
    re.I,
)
# "Arjun (my husband)": a name, then who it is in brackets.
_APPOSED = re.compile(
    rf"(?P<x>{_NAME})\s*\(\s*(?:he's\s+|she's\s+)?my\s+(?P<rel>wife|husband|boyfriend|girlfriend|partner|fianc[ée]e?|"
    rf"spouse)\s*\)"
)
_UNNAMED_CHILD = re.compile(
    r"\bmy\s+(?:little\s+|baby\s+|eldest\s+|youngest\s+|teenage\s+)?(?P<rel>son|daughter|kids|children)\b(?!'s?\s+(?:friend|teacher))"
    r"(?!\s+(?:[A-Z]|and\s+i\b))",
)
_MY_GROUP = re.compile(
    r"\bmy\s+(?:local\s+)?(?P<x>golf|tennis|book|running|cycling|chess|bridge|football|rugby|hiking|walking|knitting|"
    r"rowing|sailing|climbing|swimming|cricket|netball|squash|poker|quiz|film|drama|gospel|church|community|samba|jazz)\s+"
    r"(?P<g>club|choir|band|orchestra|society)\b",
    re.I,
)
_THE_KIDS = re.compile(
    r"\b(?:the|my|our)\s+(?:kids|children|boys|girls|little ones)\b(?!\s+(?:in|at|from|of|on|next door)\b)", re.I
)
_KID_AGE = re.compile(r"(?<![\w'])(?P<x>[A-Z][\w-]+)\s+is\s+(?P<n>\d{1,2})\b(?!\s*(?:%|am|pm|:|years? ago))")
# "her name's Jess", "his name is Ned": names the partner or pet the message mentions without a name.
_NAMED_LATER = re.compile(rf"\b(?:her|his)\s+name(?:'s|\s+is)\s+(?P<x>{_NAME})", re.I)
_KINDS = (
    r"dog|cat|pup|puppy|kitten|rabbit|bunny|hamster|parrot|budgie|cockatiel|bird|horse|pony|tortoise|turtle|"
    r"snake|lizard|gecko|ferret|guinea pig|goldfish|fish|hen|chicken"
)
_PET = re.compile(
    r"\b(?P<own>my|our|and|i(?:'ve| have)?\s+(?:got|have|adopted|rescued)|we(?:'ve| have)?\s+(?:just\s+)?"
    r"(?:got|have|adopted|rescued))\s+(?P<count>(?:(?:a|an|two|three|four|\d+|little|old|new|rescue|sweet|"
    rf"young|[\w-]+-year-old)\s+)*)(?P<kind>{_KINDS})(?P<many>s|es)?\b"
    rf"(?:,?\s+(?:(?:is|'s|are)\s+)?(?P<called>called|named)?\s*(?P<x>{_NAME}(?:\s+and\s+(?!(?:an?|the|my|our)\s){_NAME})?))?",
    re.I,
)
_BREEDS = (
    r"spaniel|labrador|retriever|terrier|collie|kelpie|heeler|poodle|beagle|dachshund|husky|greyhound|whippet|pug|"
    r"bulldog|corgi|schnauzer|labradoodle|cockapoo|sheepdog|alsatian|rottweiler|tabby|siamese|budgerigar|cockatoo"
)
# "a springer spaniel called Biscuit": a fragment that answers "what kind of dog?", an animal only.
_PET_FRAGMENT = re.compile(
    rf"^(?:an?|one)\s+(?:[\w-]+\s+){{0,2}}?(?P<kind>(?:{_KINDS}|{_BREEDS}))\s+(?:called|named)\s+(?P<x>{_NAME})", re.I
)
# Words that follow "my wife" and are not her name; in lower-case text a name must be followed by one of
# _AFTER_NAME ("my girlfriend sophie is ...") to be taken for one.
_NOT_NAME = words(
    "is was has had and but or so says said thinks thought loves likes hates wants keeps just always never "
    "also still really works lives got gets does did will would can could who that the a an of to in at on "
    "for with from as too is's and's actually usually often sometimes finally recently"
)
_KIDS = re.compile(r"\b(?:my|our|and|have|with)\s+(?P<n>two|three|four|five|six|\d)\s+(?P<k>kids|children|sons|daughters|boys|girls|grandchildren|grandkids|grandsons|granddaughters)\b", re.I)
_PARENT_OF = re.compile(r"\bi(?:'m| am)\s+an?\s+(?:mum|mom|mother|dad|father|parent)\s+of\s+(?P<n>two|three|four|five|six|\d)\b", re.I)
_JOB_AS = re.compile(r"\b(?:new\s+)?job\s+as\s+(?:an?\s+)?(?P<x>[\w -]{2,40})", re.I)
_NAMED_PET = re.compile(
    rf"\b(?:i(?:'ve| have)?\s+(?:got|have|adopted|rescued)|we(?:'ve| have)?\s+(?:just\s+)?(?:got|have|adopted|rescued))\s+"
    rf"(?:an?|one)\s+(?:[\w-]+\s+){{0,2}}?(?P<kind>(?!(?:{_KINDS})s?\b)[a-z][\w-]*)\s+(?:called|named)\s+(?P<x>{_NAME})",
    re.I,
)
_PEOPLE = words(
    "friend brother sister colleague coworker boss cousin neighbour neighbor son daughter kid child baby partner "
    "wife husband boyfriend girlfriend mate flatmate roommate teacher doctor aunt uncle nephew niece grandson "
    "granddaughter mum mom dad father mother fiance fiancee client student manager car bike boat van plant"
)
_AFTER_NAME = re.compile(
    r"^(?:\s*(?:,|'s\b|$)|\s+(?:is|was|has|and|just|works|lives|loves|likes|thinks|says|reckons|keeps|wants|does|"
    r"said|hates|cooks|got)\b)",
    re.I,
)


def name_like(word: str | None, after: str = "", *, called: bool = False, strong: bool = False) -> bool:
    """Whether ``word`` (followed by ``after``) reads as a name: capitalized, or in a message typed all in
    lower case, a word that is not a common one and that a name's usual next word follows (``called``: the
    text says it is a name; ``strong``: the place says so, as in "arjun, 19, ...")."""
    if not word or not re.fullmatch(_NAME, word) or word.lower() in NOT_NAMES or word.lower() in _NOT_NAME:
        return False
    if word[:1].isupper():
        return not (word.isupper() and len(word) > 1)
    return strong or (CASUAL.get() and (called or bool(_AFTER_NAME.match(after))))


def _cap(name: str) -> str:
    return name[:1].upper() + name[1:]


def named_in_passing(message: str) -> list[Fact]:
    """Names ``message`` gives in passing: "Arjun (my husband) is asking ...", and "her name's Jess" for the
    partner or pet it mentions without a name ("missus reckons ... her name's Jess btw")."""
    facts = [
        Fact(f"My {m['rel'].lower()} is {m['x']}.", "profile", "partner", m["x"])
        for m in _APPOSED.finditer(message)
        if name_like(m["x"])
    ]
    for sentence in re.split(r"(?<=[.!?])\s+", message):  # "the kids love pizza night, Finn is 9 and Orla is 6"
        if _THE_KIDS.search(sentence):
            facts += [
                Fact(f"My child {m['x']} is {m['n']}.", "fact", f"child:{m['x'].lower()}", m["x"])
                for m in _KID_AGE.finditer(sentence)
                if name_like(m["x"]) and int(m["n"]) < 18
            ]
    later = _NAMED_LATER.search(message)
    if later and name_like(later["x"], message[later.end() :], called=True):
        name = _cap(later["x"])
        unnamed = [m for m in _PARTNER.finditer(message[: later.start()]) if not name_like(m["x"], "") and not m["late"]]
        if unnamed:
            rel = (unnamed[-1]["rel"] or unnamed[-1]["rel2"]).lower()
            facts.append(Fact(f"My {rel} is {name}.", "profile", "partner", name))
        elif re.search(rf"\b(?:{_KINDS}|{_BREEDS})s?\b", message[: later.start()], re.I):
            facts.append(Fact(f"My pet is called {name}.", "fact", f"pet:{name.lower()}", name))
    return facts


def anywhere(clause: str, *, message: str = "") -> list[Fact]:
    """The partners, children and pets ``clause`` (of ``message``) mentions as the user's own."""
    facts: list[Fact] = []
    for m in _PARTNER.finditer(clause):
        rel, name = (m["rel"] or m["rel2"]).lower(), m["x"]
        if m["late"]:  # "my late husband Gerald": not a current partner
            if name_like(name, clause[m.end() :]):
                facts.append(Fact(f"My late {rel} was {_cap(name)}.", "fact", f"late_partner:{name.lower()}", _cap(name)))
        elif name_like(name, clause[m.end() :]):
            name = _cap(name)
            facts.append(Fact(f"My {rel} is {name}.", "profile", "partner", name))
        elif m["rel2"] and not re.match(r"\s+(?:is|was|and|says|thinks|reckons|wants|keeps|does|usually|always)\b",
                                        clause[m.end() :], re.I):
            continue  # "the wife" says who only when something follows it that a person does
        elif not re.match(r"\s*'s\b", clause[m.end() :]) or "wife" in rel or "husband" in rel:
            facts.append(Fact(f"I have a {rel}.", "profile", "partner", rel, store="fills"))
    for m in _CHILD.finditer(clause):
        if name_like(m["x"], clause[m.end() :]):
            name, rel = _cap(m["x"]), (m["rel"] or m["rel3"]).lower()
            family = "grandchild" if rel.startswith("grand") else "child"
            facts.append(Fact(f"My {rel} is {name}.", "fact", f"{family}:{name.lower()}", name))
    if not any(f.key and f.key.startswith("child:") for f in facts):
        for m in _UNNAMED_CHILD.finditer(clause):  # "my son is doing his exams", "my kids are starving"
            rel = m["rel"].lower()
            said = rel if rel in ("kids", "children") else f"{article(rel)} {rel}"
            facts.append(Fact(f"I have {said}.", "fact", "child", rel, store="fills"))
    for m in _MY_GROUP.finditer(clause):  # "a dinner at my golf club": a member of it
        thing = m["x"].lower()
        facts.append(Fact(f"I'm in a {thing} {m['g'].lower()}.", "preference", f"likes:{thing}", thing))
    for m in _PARENT_OF.finditer(clause):
        facts.append(Fact(f"I have {m['n'].lower()} kids.", "fact", None, "kids"))
    for m in _KIDS.finditer(clause):
        facts.append(Fact(f"I have {m['n'].lower()} {m['k'].lower()}.", "fact", None, m["k"].lower()))
    for m in _JOB_AS.finditer(clause) if re.match(r"(?:i|i'm|my|we)\b", clause, re.I) else ():
        job = re.sub(r"\s+(?:in|at|for|with|and|but|so)\b.*$", "", m["x"]).strip()
        if job and is_job(job):
            art = article(job)
            facts.append(Fact(f"I work as {art} {job}.", "profile", "job", job))
    for m in _NAMED_PET.finditer(clause):
        kind = m["kind"].lower()
        if kind not in _PEOPLE and name_like(m["x"], clause[m.end() :], called=True):
            name = _cap(m["x"])
            facts.append(Fact(f"My {kind} is called {name}.", "fact", f"pet:{name.lower()}", name))
    if re.search(rf"\b(?:{_KINDS})s?\b", message or clause, re.I):  # "we got a kitten, we named her Mia"
        for m in re.finditer(rf"\b(?:we|i)\s+(?:named|called)\s+(?:her|him|it|them)\s+(?P<x>{_NAME})", clause, re.I):
            if name_like(m["x"], clause[m.end() :], called=True):
                name = _cap(m["x"])
                facts.append(Fact(f"My pet is called {name}.", "fact", f"pet:{name.lower()}", name))
    fragment = _PET_FRAGMENT.match(clause)
    if fragment and name_like(fragment["x"], clause[fragment.end() :], called=True):
        name = _cap(fragment["x"])
        facts.append(Fact(f"My {fragment['kind'].lower()} is called {name}.", "fact", f"pet:{name.lower()}", name))
    pets = 0
    for m in _PET.finditer(clause):
        if m["own"].lower() == "and" and not pets:
            continue  # "and a cat" continues a list of pets only
        pets += 1
        kind = m["kind"].lower()
        names = [
            _cap(n)
            for n in re.split(r"\s+and\s+", m["x"] or "")
            if name_like(n, clause[m.end() :], called=bool(m["called"]))
        ]
        if names:
            facts += [Fact(f"My {kind} is called {n}.", "fact", f"pet:{n.lower()}", n) for n in names]
        elif m["many"] and m["count"].strip():
            facts.append(Fact(f"I have {m['count'].strip()} {kind}{m['many']}.", "fact", "pet", kind, store="fills"))
        elif m["own"].lower().startswith(("i", "we")):
            count = m["count"].strip() or "a"
            facts.append(Fact(f"I have {count} {kind}{m['many'] or ''}.", "fact", "pet", kind, store="fills"))
    return facts
