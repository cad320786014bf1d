"""The offline rules, part eight: work said in the other ways people say it.

* a workplace named by what it is ("I started at a new restaurant in Fitzroy");
* work done for an organisation ("I do social media for a hotel in Miami Beach", "I do IT for a school");
* a change of job said, then where ("switched jobs btw, now at Ledgerly").
"""

from __future__ import annotations

import re

from .rules import article, clean, job_parts, proper, rule, with_place
from .rules_everyday import is_job
from .slots import Fact

__all__: list[str] = []

_ORGS = (
    r"hotel|company|startup|start-up|bank|hospital|school|charity|agency|firm|restaurant|cafe|café|shop|council|"
    r"university|college|magazine|newspaper|brand|studio|nonprofit|non-profit|clinic|bakery|bar|pub|gym|museum|"
    r"library|airline|retailer|supermarket|factory|warehouse|lab|practice|publisher|club|theatre|theater|church"
)


_WORKPLACES = r"hotel|company|startup|start-up|bank|hospital|charity|agency|firm|restaurant|cafe|café|shop|bakery|bar|pub|"
_WORKPLACES += r"council|magazine|newspaper|studio|clinic|museum|library|airline|retailer|supermarket|factory|warehouse|lab"


@rule(
    rf"^i(?:'ve| have|'m| am)?\s+(?:just\s+|recently\s+)?(?:started|starting|start|got a (?:new\s+)?job|took a job)\s+"
    rf"(?:work(?:ing)?\s+)?at\s+"
    rf"(?P<x>(?:an?|the)\s+(?:[\w'-]+\s+){{0,2}}?(?:{_WORKPLACES})(?:\s+(?:in|near|on)\s+[^,]+)?)$"
)
def _started_at_a(m: re.Match[str]) -> list[Fact]:
    """ "I started at a new restaurant in Fitzroy": the workplace said by what it is, with its place."""
    x = re.sub(r"^(?:an?|the)\s+", "", clean(m["x"]), flags=re.I)
    return [Fact(f"I work at a {x}.", "profile", "employer", x)]


@rule(
    rf"^i\s+(?:now\s+|currently\s+)?do\s+(?P<job>[\w -]{{2,30}}?)\s+for\s+(?:an?|the)\s+(?P<org>(?:[\w'-]+\s+){{0,2}}?"
    rf"(?:{_ORGS}))(?:\s+(?:in|near)\s+(?P<place>[^,]+))?(?:,\s*(?P<name>[A-Z][\w&' -]+))?$"
)
def _do_for(m: re.Match[str]) -> list[Fact]:
    """ "I do social media for a hotel in Miami Beach, Casa Brisa": the work, the employer and the town."""
    job = clean(m["job"])
    if re.match(r"(?:it|this|that|everything|nothing|anything|a lot|lots|stuff)$", job, re.I):
        return []
    facts = [Fact(f"I do {job} for a {clean(m['org'])}.", "profile", "job", job)]
    name = proper(m["name"]) if m["name"] else None
    if name:
        facts.append(Fact(f"I work at {name}.", "profile", "employer", name))
    place = proper(m["place"]) if m["place"] else None
    if place:
        facts.append(Fact(f"I live in {place}.", "profile", "location", place))
    return facts


@rule(
    r"^(?:i(?:'ve| have)?\s+)?(?:switched|changed|new)\s+jobs?\b[^,]*,\s*(?:i'm\s+|i am\s+)?now\s+(?:at|with)\s+"
    r"(?P<x>[A-Z][\w&'-]*(?:\s+[A-Z][\w&'-]*)*)\b.*$"
)
def _now_at(m: re.Match[str]) -> list[Fact]:
    """ "switched jobs btw, now at Ledgerly, still data eng": a change of job, then where."""
    return [Fact(f"I work at {m['x']}.", "profile", "employer", m["x"])]


@rule(r"^(?:(?:my\s+)?new\s+(?:job|role|position)|started\s+a\s+new\s+job)\s*[:,-]\s*(?:as\s+)?(?P<x>.+)$")
def _new_job(m: re.Match[str]) -> list[Fact]:
    """ "new job: data analyst at Monzo": a job announced, then what and where."""
    job, employer, place = job_parts(re.sub(r"^(?:an?|the)\s+", "", m["x"], flags=re.I))
    if not is_job(job):
        return []
    return with_place([Fact(f"I work as {article(job)} {job}.", "profile", "job", job)], employer, place)


_ROLES = r"owner|manager|head|director|founder|co-founder|cofounder|ceo|cto|cfo|coo|president|chair|captain|lead"


@rule(
    rf"^i(?:'m| am)\s+(?:now\s+)?(?:the\s+)?(?P<x>(?:{_ROLES})\s+of\s+(?!my\b|the\s+(?:house|household|family|home)\b)[\w&' -]+?)"
    rf"(?:\s+at\s+(?P<e>[A-Z][\w&' -]+))?$"
)
def _role_of(m: re.Match[str]) -> list[Fact]:
    """ "I'm head of marketing at Zalando", "I'm the owner of a gym": a role said with "of"."""
    job = clean(m["x"])
    facts = [Fact(f"I'm the {job}.", "profile", "job", job)]
    return facts + ([Fact(f"I work at {m['e']}.", "profile", "employer", m["e"])] if m["e"] else [])


@rule(r"^i(?:'m| am)\s+(?:now\s+)?self[- ]employed\b.*$|^i\s+(?:now\s+)?work\s+for\s+myself\b.*$", first=True)
def _self_employed(m: re.Match[str]) -> list[Fact]:
    """ "I work for myself", "I'm self-employed": not an employer named "myself"."""
    return [Fact("I'm self-employed.", "profile", "employer", "self-employed")]
