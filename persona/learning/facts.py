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

from .rules import BARE_START, FILLER, NOT_A_STATEMENT, RULES, SPLIT
from .rules_everyday import anywhere
from .slots import FACT_KINDS, Fact, norm_value

__all__ = ["FACT_KINDS", "Fact", "extract_rules", "norm_value"]


def extract_rules(message: str) -> list[Fact]:
    """The facts that first-person statements in ``message`` state (offline, deterministic)."""
    facts: list[Fact] = []
    intro = False
    for raw in SPLIT.split(message.replace("’", "'")):
        clause = FILLER.sub("", raw.strip().strip("\"'")).strip()
        if clause.endswith("?") and ", " in clause:  # "I live in Bristol, any vegan bakeries?"
            clause = clause.rsplit(", ", 1)[0]
        if not clause or clause.endswith("?") or NOT_A_STATEMENT.match(clause) or len(clause) > 300:
            continue
        clause = re.sub(r"\s+", " ", clause.rstrip(".!;,: ")).replace("’", "'")
        if re.match(
            BARE_START, clause, re.I
        ):  # "34, live in Leeds, work as a teacher": the subject is the user
            clause = "I " + clause if not clause[0].isdigit() else "I'm " + clause.rstrip(",")
        found = _first_rule(clause)
        if not found and intro and not clause.lower().startswith(("i ", "i'", "my ", "we ")):
            found = _first_rule("I'm a " + clause)  # "Ingrid here, civil engineer in Bergen"
        intro = intro or any(f.key == "name" for f in found)
        facts += found
        facts += [f for f in anywhere(clause) if f.text not in {g.text for g in found}]
    return list(dict.fromkeys(facts))


def _first_rule(clause: str) -> list[Fact]:
    for pattern, build in RULES:
        match = pattern.match(clause)
        found = [f for f in build(match) if 0 < len(f.value or f.text) <= 120] if match else []
        if found:  # a pattern that matched but found nothing leaves the clause to the next rules
            return found
    return []
