"""Which memories state a lasting preference, and which queries ask for advice that should respect them.

When someone asks "what would you recommend for my trip?", the memory that matters is rarely the one that
shares the query's words; it is "I have a fear of heights" or "I only eat vegetarian food". Ranking gives
such *stated preferences* a bounded prior, only for *advice-seeking* queries (see `persona.retrieval.ranking`).

Both are recognised by small, documented rule sets over the text (English), computed once at index time
for memories and once per query; no embedding, no model, no data beyond the text itself:

* a memory states a preference when it is of kind ``preference`` or ``profile``, or when its text has a
  first-person preference, aversion or constraint: "I prefer / love / hate / avoid / can't stand ...",
  "I don't like / enjoy / eat ...", "I'm allergic to / vegan / not interested in ...", "I have a fear of /
  an allergy to ...", "I always / never / only / exclusively ...", "my favourite ...";
* a query seeks advice when it asks to recommend, suggest, advise, plan, pick or choose, asks for ideas,
  tips or options, or asks what the user should do or would enjoy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["PREFERENCE_KINDS", "seeks_advice", "states_preference"]

PREFERENCE_KINDS = frozenset({"preference", "profile"})
"""Memory kinds that state lasting preferences or traits whatever their wording."""

# Words that may stand between the subject and the verb ("I really don't like"). Each word matches exactly
# one alternative (none of the literals ends in "ly" or "n't"), so the chain cannot backtrack exponentially.
_MODIFIERS = (
    r"(?:(?:\w+ly|\w+n['’]t|cannot|not|never|no|longer|also|just|much|rather|very|so|still|always|do|does|did|"
    r"can|could|will|would|am|is|are)\s+)*"
)
_VERBS = (
    r"(?:prefer|like|love|enjoy|adore|hate|dislike|detest|despise|loathe|avoid|favou?r|want|eat|drink|"
    r"consume|drive|dine|shop|travel|read|listen|consider|adhere|wear|watch|play|use|buy|stand|tolerate|"
    r"handle|care\s+for|mind|stick\s+to|need|refuse|get\s+(?:\w+\s+)?(?:uncomfortable|anxious|sick|bored)|"
    r"follow|find|learn\s+best|prioriti[sz]e|require|must|believe\s+in|oppose|object|insist|"
    r"(?:have|'ve|’ve|suffer\s+from)\s+(?:a\s+|an\s+|no\s+)?(?:[\w-]+\s+){0,5}?"
    r"(?:phobia|fear|aversion|allerg\w*|intoleran\w*|dislike|preference|passion|interest|objection|bias|"
    r"weakness|soft\s+spot|disease|condition|issues|problems|sensitiv\w*|skin))"
)
_STATE = (
    r"(?:(?:an?\s+)?(?:strict\s+)?(?:allergic|intolerant|sensitive|vegan|vegetarian|pescatarian|kosher|halal)|"
    r"afraid|scared|terrified|"
    r"a\s+(?:\w+\s+)?(?:fan|advocate|lover)|not\s+(?:a\s+)?(?:\w+\s+)?fan|not\s+(?:interested|into|keen|fond)|"
    r"(?:not\s+)?(?:un)?comfortable|uninterested|disinterested|into|fond|keen|passionate|obsessed|fascinated|"
    r"averse|opposed|against|"
    r"sober|on\s+a\s+(?:[\w-]+\s+)?(?:diet|budget))"
)

_PREFERENCE = re.compile(
    r"\b(?:i|we)\b\s*(?:"
    + rf"{_MODIFIERS}{_VERBS}\b"
    + rf"|(?:am|'m|’m|was|are|'re|’re)\s+{_MODIFIERS}{_STATE}\b"
    + r"|(?:'d|’d|would)\s+rather\b"
    + r")"
    + r"|\bmy\s+(?:[\w-]+\s+){0,2}?(?:favou?rite|allerg\w*|diet|intoleran\w*|phobia)\b",
    re.IGNORECASE,
)

_ADVICE = re.compile(
    r"\b(?:recommend\w*|suggest\w*|advi[cs]e\w*|tips?|ideas?|options?|suitable|suit\s+me|for\s+me|"
    r"(?:should|can|could|would|shall|might)\s+(?:i|we)|(?:i|we)\s+(?:should|could|can|might|would|shall)|"
    r"help\s+me|(?:what|which)\s+(?:are|is|'s|’s)\s+(?:some|a\s+few|the\s+best|a\s+good|good|the\s+top)|"
    r"are\s+there\s+(?:any|some)|(?:best|good|effective|great)\s+(?:\w+\s+)?ways?|ways?\s+(?:to|for)|"
    r"how\s+(?:can|do|should|could|might)\s+(?:i|we)|where\s+(?:should|can|could)|"
    r"(?:i'm|i\s+am|we're|we\s+are)\s+(?:looking|searching|planning|thinking|trying|hoping|heading|in\s+the\s+market))\b",
    re.IGNORECASE,
)


def states_preference(text: str, kind: str = "fact") -> bool:
    """Whether a memory states a lasting preference, aversion or constraint (see the module docstring)."""
    return kind in PREFERENCE_KINDS or _PREFERENCE.search(text) is not None


def preference_mask(texts: Sequence[str], kinds: Sequence[str]) -> npt.NDArray[np.bool_]:
    import numpy as np  # this module is also used by prompting, which `import persona` loads

    """`states_preference` for each memory, as a boolean array."""
    return np.fromiter(
        (states_preference(t, k) for t, k in zip(texts, kinds, strict=True)), dtype=bool, count=len(texts)
    )


_ASKER = re.compile(r"\b(?:i|me|my|mine|myself|we|us|our|you|your)\b|\b[iI](?:'|’)", re.IGNORECASE)
_REPORTED = re.compile(  # case-sensitive: an auxiliary next to a name ("did Anna", "Anna has")
    r"\b(?:[Dd]id|[Dd]oes|[Hh]as|[Hh]ad|[Ii]s|[Ww]as|[Ww]ould|[Ww]ill)\s+[A-Z]\w+|\b[A-Z]\w+\s+(?:has|had|did|was|is)\b"
)


def seeks_advice(query: str) -> bool:
    """Whether a query asks for a recommendation, a suggestion or a choice made for the user.

    A question about what someone else recommended ("What book did Anna suggest?") names that person next
    to an auxiliary verb and does not involve the asker ("I", "my", "you"): it reports advice, it does not
    ask for it.
    """
    if _ADVICE.search(query) is None:
        return False
    return _ASKER.search(query) is not None or _REPORTED.search(query) is None
