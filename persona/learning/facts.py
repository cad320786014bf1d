"""Facts a user states about themselves, and the offline rules that find them.

``extract_rules(message)`` is the offline default. It reads a message in four steps:

1. casual spelling is written out (`persona.learning.casual`: "im", "dont", "lol", emoji);
2. the message is cut into clauses (`persona.learning.rules.SPLIT`), and questions, hypotheticals and
   quotes are left out (a clause about someone else matches no rule: the rules read first-person
   statements only);
3. each clause goes to the first rule that reads it (`persona.learning.rules`, `rules_everyday`,
   `rules_lexicon`), and partners, children and pets mentioned anywhere are read too
   (`persona.learning.mentions`); in an introduction ("Gabriel, 36, firefighter in Lyon") the bare
   fragments that follow a name are read as what the user is and where they live;
4. preferences about how answers should read are put in one slot, ``answer_length`` ("short answers" and
   "detailed answers" cannot both hold).

The model-based extractor is in `persona.learning.llm_facts`; storing facts and superseding what they
contradict is in `persona.learning.supersede`.

Each ``Fact`` may carry a ``key``: the slot it fills. A key without a colon is single-valued (``name``,
``location``, ``job``): a new value supersedes the old one. A key with a colon names one thing
(``likes:coffee``, ``allergy:peanuts``): only its negation supersedes it.
"""

from __future__ import annotations

import dataclasses
import re

from . import (  # noqa: F401  (they register their rules)
    rules_endings,
    rules_habits,
    rules_identity,
    rules_language,
    rules_requests,
    rules_work,
)
from .casual import CASUAL, casual_writer, normalize
from .mentions import anywhere, name_like, named_in_passing
from .rules import BARE_START, FILLER, HEALTH, NOT_A_STATEMENT, RULES, SPLIT, proper
from .rules_lexicon import DIETS
from .slots import FACT_KINDS, Fact, norm_value
from .words import NOT_NAMES

__all__ = ["FACT_KINDS", "Fact", "extract_rules", "norm_value"]

_LENGTH = re.compile(
    r"\b(?:short|shorter|brief|briefer|concise|succinct|quick|bullet points?|bullets|one[- ]liners?|"
    r"(?:straight )?to the point|tl;?dr|detailed|long|longer|thorough|in-depth|in depth|step[- ]by[- ]step|"
    r"comprehensive|lengthy|more detail|dot points?|(?:numbered |bulleted )?lists?)\b",
    re.I,
)
_STYLE = re.compile(
    r"\b(?P<w>simple|plain|direct|formal|informal|casual|friendly|technical|non-technical|jargon-free|serious)\b"
    r"(?:\s+(?P<n>language|english|words|terms|tone|explanations|sentences|answers|replies))?",
    re.I,
)
_WANT = re.compile(
    r"^i(?:'d|\s+would)\s+(?:really\s+)?(?:like|love|appreciate)\s+(?:it\s+if\s+you\s+(?:kept|gave|used|made)\s+)?"
    r"(?:your\s+|the\s+)?(?:answers|replies|responses|explanations|more|less|shorter|longer|short|brief|detailed)\b",
    re.I,
)
_NOUN_FORMS = re.compile(r"bullet points?|bullets|dot points?|(?:numbered |bulleted )?lists?|one[- ]liners?")
_ADJECTIVES = re.compile(
    r"short|shorter|brief|briefer|concise|succinct|quick|detailed|long|longer|thorough|in-depth|comprehensive|lengthy"
)
# "can you keep it brief", "could you do dot points": a request asked as a question.
_POLITE = re.compile(
    r"^(?:can|could|would|will)\s+you\s+(?:please\s+|pls\s+|just\s+|also\s+)*(?P<x>(?:keep|do|use|stick to|"
    r"(?:make|write)\s+(?:it|them|your|the|answers|replies)|(?:give|write)\s+(?:me\s+)?(?:answers|replies)|"
    r"(?:answer|reply)\s+in)\b.*?)\??$",
    re.I,
)
_ANSWERS = re.compile(r"\b(?:answers?|replies|reply|responses?|explanations?|points|liners?|point|step)\b", re.I)
_REQUEST = re.compile(
    r"^(?:(?:please|pls|just|and|but|now)\s+)*(?:keep|make|give|explain|answer|reply|respond|be|go|use|do|stick to|"
    r"write|straight|short|brief|concise|detailed|bullet|step)\b|\bplease$",
    re.I,
)
_QUOTE = re.compile(r"[\"“][^\"”]{0,300}[\"”]|(?<!\w)'[^']{8,300}'(?!\w)")


def extract_rules(message: str) -> list[Fact]:
    """The facts that first-person statements in ``message`` state (offline, deterministic)."""
    token = CASUAL.set(casual_writer(message))
    try:
        return _extract(normalize(_QUOTE.sub(" ", message)))
    finally:
        CASUAL.reset(token)


def _clauses(message: str) -> tuple[list[str], list[str]]:
    """The statements of ``message``, and its questions (whose mentions, "my wife Ana", still count)."""
    out: list[str] = []
    asked: list[str] = []
    for raw in SPLIT.split(message):
        clause = FILLER.sub("", (raw or "").strip().strip("\"'")).strip()
        if clause.endswith("?") and ", " in clause:  # "I live in Bristol, any vegan bakeries?"
            asked.append(clause)
            clause = clause.rsplit(", ", 1)[0]
        if not clause or len(clause) > 300 or _GREETING.match(clause):
            continue
        if clause.endswith("?") and _UPTALK.match(clause):  # "I actually love running now??": surprise
            clause = clause.rstrip("?!")
        polite = _POLITE.match(clause)
        if polite:
            clause = "please " + polite["x"]
        if clause.endswith("?") or NOT_A_STATEMENT.match(clause):
            asked.append(clause)
            continue
        clause = _VOCATIVE.sub("", re.sub(r"\s+", " ", clause.rstrip(".!;,: ")))  # "I'm right-handed mate"
        out.append(_subject(_plain(clause)))
    return out, asked


# A statement in first-person word order that ends in "??" or "?!" is said in surprise, not asked.
_UPTALK = re.compile(r"^(?:i|i'm|i've|we|we're|we've)\s(?!.*\b(?:or|should|could|would|can|will|if)\b)[^?]*(?:\?\?|\?!)$", re.I)
_VOCATIVE = re.compile(r",?\s+(?:mate|dude|bro|hon|dear|buddy|pal|my friend|lol)$", re.I)
_GREETED = re.compile(r"\s*(?:hi|hey|hello|hiya|heya|yo|howdy)\b", re.I)
_PRONOUNS = re.compile(r"\b(?:she|he|they)/(?:her|him|them|they|she|he)\b", re.I)
_GREETING = re.compile(
    r"^(?:hey|hi|hello|hiya|yo|howdy|hallo|salut|hola|oi|hei|hej|ciao|g'day|good (?:morning|afternoon|evening))"
    r"(?:\s+there)?[\s!,.]*$",
    re.I,
)
_DROPPED_I = re.compile(
    r"(?:can't|cannot|don't|do not|never|hate|prefer|speak|grew up|studied|sold|started|joined|(?:just\s+)?turned\s+\d|"
    r"(?:got\s+)?promoted\s+to|gave up|given up|quit|stopped|(?:play|sing)\s+in\b|(?:named|called)\s+(?:her|him|them|it)\b)",
    re.I,
)
_DROPPED_IM = re.compile(
    rf"(?:starting (?:at|with|a (?:new )?job)|(?:a\s+)?(?:big|huge|massive)\s+fan of|not a (?:big\s+)?fan of|doing (?:[\w-]+ )?work as|not\s+(?:really\s+)?into|really into|into|allergic|a (?:big|huge|massive) fan of|obsessed with|{DIETS}|"
    rf"{HEALTH})\b",
    re.I,
)


_OPENER = re.compile(r"^[a-z]{3,}ly,?\s+(?=(?:i|i'm|i've|i'd|we|we're|my)\b)", re.I)
_ADVERBS = re.compile(
    r"^(i|we)\s+(?:(?:actually|really|also|truly|honestly|genuinely|seriously|absolutely|totally|definitely|"
    r"kinda|kind of|sort of|literally|even|still|now)\s+)+(?=\w)",
    re.I,
)


def _plain(clause: str) -> str:
    """``clause`` without the adverbs that only colour it: a sentence adverb before the subject ("weirdly I
    like olives now") and adverbs between "I" and the verb ("I also really like cycling")."""
    return _ADVERBS.sub(r"\1 ", _OPENER.sub("", clause))


def _subject(clause: str) -> str:
    """``clause`` with the "I" that chat often leaves out: "can't stand olives", "allergic to eggs"."""
    if re.match(BARE_START, clause, re.I):  # "34, live in Leeds, work as a teacher"
        if clause[0].isdigit() or re.match(r"(?:recently\s+|just\s+)?(?:semi-)?retired\b|originally\s+from\b", clause, re.I):
            return "I'm " + clause.rstrip(",")
        return "I " + clause
    if _DROPPED_I.match(clause):
        return "I " + clause
    if _DROPPED_IM.match(clause):
        return "I'm " + clause
    return clause


def _extract(message: str) -> list[Fact]:
    facts: list[Fact] = []
    intro = False
    clauses, asked = _clauses(message)
    for i, clause in enumerate(clauses):
        following = clauses[i + 1] if i + 1 < len(clauses) else ""
        found = _first_rule(clause)
        if re.match(r"I'm\s", clause) and ", " in clause:  # "I'm gluten free, celiac": one subject, two predicates
            first, *rest = clause.split(", ")
            found = found or _first_rule(first)
            found += [
                f for part in rest if len(part.split()) <= 4 for f in _first_rule("I'm " + part) if f.key != "name"
            ]
        if not found and i == 0 and re.fullmatch(r"I'm \d.*", following) and name_like(clause, ",", strong=True):
            name = clause[:1].upper() + clause[1:]  # "Gabriel, 36, firefighter in Lyon"
            found = [Fact(f"My name is {name}.", "profile", "name", name)]
        elif (
            not found
            and re.fullmatch(r"I'm ([a-z][\w'-]*)", clause)
            and (re.fullmatch(r"I'm \d.*", following) or (i == 0 and following and _GREETED.match(message)))
            and clause[4:] not in NOT_NAMES
            and not clause.endswith(("ing", "ed", "ly"))
        ):  # "Gabriel, 36", "hi im chloe, i live in brisbane"
            found = [Fact(f"My name is {clause[4:].capitalize()}.", "profile", "name", clause[4:].capitalize())]
        if re.match(r"(?:name|age|location|city|job|occupation|pronouns|diet)\s*:", clause, re.I):
            found = [f for part in clause.split(",") for f in _first_rule(part.strip())]  # "Name: Lena, age: 29"
        pronouns = _PRONOUNS.search(clause)
        if pronouns and (intro or any(f.key == "name" for f in found)):  # "I'm Sam, they/them"
            found.append(Fact(f"My pronouns are {pronouns[0].lower()}.", "profile", "pronouns", pronouns[0].lower()))
        if not found and intro and not clause.lower().startswith(("i ", "i'", "my ", "we ")):
            found = _fragments(clause)  # "Ingrid here, civil engineer in Bergen"
        found = [_team(f, clause) for f in found]
        intro = intro or any(f.key == "name" for f in found)
        found = found or _style_requests(clause)
        mentioned = anywhere(clause, message=message)
        found = found or ([] if mentioned else _head(clause))
        facts += found
        ended = {(g.key, g.value) for g in found if g.negated}
        facts += [
            f
            for f in mentioned
            if f.text not in {g.text for g in found} and (f.key, f.value) not in ended  # "my husband X died"
        ]
    facts += [f for clause in asked for f in anywhere(clause)]
    facts += named_in_passing(message)
    return list(dict.fromkeys(_classified(f) for f in facts))


def _head(clause: str) -> list[Fact]:
    """What the first-person head of ``clause`` says, before a comma no rule reads past ("I support Celtic,
    have done since I was a boy")."""
    head = clause.split(", ", 1)[0]
    if head == clause or not re.match(r"(?:i|i'm|i've|my|we)\b", head, re.I):
        return []
    return _first_rule(head)


def _first_rule(clause: str) -> list[Fact]:
    for pattern, build in RULES:
        match = pattern.match(clause)
        found = [f for f in build(match) if 0 < len(f.value or f.text) <= 120] if match else []
        if found:  # a pattern that matched but found nothing leaves the clause to the next rules
            return found
    return []


def _fragments(clause: str) -> list[Fact]:
    """What a bare fragment of an introduction says: "civil engineer in Bergen", "lawyer, Lagos"."""
    found = _first_rule("I'm a " + clause)
    if found:
        return found
    out: list[Fact] = []
    for part in (p.strip() for p in clause.split(",")):
        job = _first_rule("I'm a " + part) if part else []
        place = proper(part) if not job and part and len(part.split()) <= 3 else None
        if job:
            out += job
        elif place and place == part:
            out.append(Fact(f"I live in {place}.", "profile", "location", place))
    return out


def _style_requests(clause: str) -> list[Fact]:
    """How the user asks answers to read: "please explain things step by step", "straight to the point please",
    "just lists pls, short ones" (one preference about length: short answers in lists), "use simple language"."""
    lengths: list[str] = []
    styles: list[Fact] = []
    for part in (p.strip() for p in clause.split(",")):
        wants = _WANT.match(part)  # "I'd like more detailed answers from now on"
        if not (_REQUEST.search(part) or wants) and not (lengths and _LENGTH.fullmatch(re.sub(r"\s+ones?$", "", part))):
            continue  # "short ones" after "just lists please" adds to the same request
        if re.match(r"(?:i|you|we|my)\b", part, re.I) and not wants:
            continue
        length = _LENGTH.search(part)
        style = _STYLE.search(part)
        if style and not length:
            word, noun = style["w"].lower(), (style["n"] or "answers").lower()
            noun = "English" if noun == "english" else noun
            styles.append(Fact(f"I prefer {word} {noun}.", "preference", f"likes:{word} answers", f"{word} {noun}"))
        if length:
            lengths.append(length.group(0).lower())
    if not lengths:
        return styles[-1:]
    adjective = next((p for p in reversed(lengths) if _ADJECTIVES.fullmatch(p)), None)
    noun = next((p for p in reversed(lengths) if _NOUN_FORMS.fullmatch(p)), None)
    other = next((p for p in reversed(lengths) if p not in (adjective, noun)), None)
    if noun or adjective:
        text = f"I prefer {adjective + ' ' if adjective else ''}answers{' in ' + noun if noun else ''}."
    else:
        text = f"I prefer answers {other}."
    value = " ".join(p for p in (adjective, noun) if p) or str(other)
    return [Fact(text, "preference", "answer_length", value), *styles[-1:]]


_SPORT = re.compile(
    r"\b(?:match|matches|game|games|season|league|fixtures?|stadium|derby|kick-?off|cup final|goals?|football|soccer|"
    r"rugby|cricket|hockey|basketball|baseball|nba|nfl|premier league|season ticket)\b",
    re.I,
)


def _team(fact: Fact, clause: str) -> Fact:
    """A fan of a name, said with a match or a season in the same clause, supports a team ("I'm a massive
    Chelsea fan, watched every match since I was 8"): one team at a time (``team``), so "I support Arsenal
    now" replaces it."""
    value = fact.value or ""
    if (
        fact.key == f"likes:{norm_value(value)}"
        and not fact.negated
        and value[:1].isupper()
        and re.search(r"\b(?:fan|supporter)\b", clause, re.I)
        and _SPORT.search(clause)
    ):
        return Fact(f"I support {value}.", "preference", "team", value)
    return fact


def _classified(fact: Fact) -> Fact:
    """``fact`` in the ``answer_length`` slot when it is a preference about how long answers should be."""
    value = fact.value or ""
    if (
        fact.kind == "preference"
        and not fact.negated
        and fact.key != "answer_length"
        and _LENGTH.search(value)
        and _ANSWERS.search(value)
    ):
        return dataclasses.replace(fact, key="answer_length")
    return fact
