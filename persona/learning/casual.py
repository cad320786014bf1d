"""Casual chat text, written out before the rules read it: "im liam btw, i dont eat meat lol" ->
"I'm liam, I don't eat meat". The rules are written for standard written English; this is where the
common ways people type differently are mapped onto it, once, instead of in every rule:

* apostrophes: curly ones, and the ones people leave out (im, ive, dont, cant, doesnt, isnt, ...);
* the pronoun "i" in lower case;
* chat fillers that carry no fact (lol, haha, tbh, ngl, btw, smh, pls) and emoji;
* shorthands (u, ur, bc, cuz, rn, atm).

``casual_writer(text)`` says whether the whole message is typed in lower case, so the rules may take a
lower-case word for a name where the writer capitalizes nothing.
"""

from __future__ import annotations

import re
from contextvars import ContextVar

from .words import NOT_NAMES

__all__ = ["CASUAL", "casual_writer", "normalize"]

CASUAL: ContextVar[bool] = ContextVar("persona_casual_writer", default=False)
"""Set while the rules read a message whose writer capitalizes nothing (`casual_writer`)."""

_APOSTROPHES = {
    "im": "I'm",
    "ive": "I've",
    "iam": "I am",
    "dont": "don't",
    "cant": "can't",
    "doesnt": "doesn't",
    "didnt": "didn't",
    "isnt": "isn't",
    "arent": "aren't",
    "wasnt": "wasn't",
    "werent": "weren't",
    "havent": "haven't",
    "hasnt": "hasn't",
    "couldnt": "couldn't",
    "wouldnt": "wouldn't",
    "shouldnt": "shouldn't",
    "wont": "won't",
    "thats": "that's",
    "whats": "what's",
    "theyre": "they're",
    "youre": "you're",
    "weve": "we've",
    "hes": "he's",
    "shes": "she's",
    "lets": "let's",
    "u": "you",
    "ur": "your",
    "bc": "because",
    "cuz": "because",
    "coz": "because",
    "pls": "please",
    "plz": "please",
    "rn": "right now",
    "atm": "at the moment",
    "tho": "though",
}
_WORD = re.compile(r"\b(?:" + "|".join(sorted(_APOSTROPHES, key=len, reverse=True)) + r")\b", re.I)
_LONE_I = re.compile(r"(?<![\w'])i(?=$|[\s,.!?;:]|'(?:m|ve|d|ll)\b)")
# Fillers that carry nothing, dropped with the comma or spaces around them ("I'm 31 lol, feeling old").
_FILLERS = re.compile(
    r"(?:,\s*)?\b(?:lol+|lmao|lmfao|rofl|ha(?:ha)+h?|he(?:he)+|tbh|ngl|imo|imho|smh|btw|fyi|omg|xd)\b",
    re.I,
)
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f\u200d]+")


def normalize(text: str) -> str:
    """``text`` in standard spelling (see the module doc); the words that carry facts are kept as typed."""
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = _EMOJI.sub(",", text)  # an emoji often ends a phrase: "Priya here 👋 nurse in Leeds"
    text = _FILLERS.sub(_dropped, text)
    text = _WORD.sub(_spelled, text)
    text = _LONE_I.sub("I", text)
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"\s+([,.!?;:])", r"\1", text)
    text = re.sub(r",(?:\s*,)+", ",", text)
    text = re.sub(r"([.!?;:]),+", r"\1", text)
    return re.sub(r",(?=[^\s\d])", ", ", text).strip(" ,")


def _dropped(m: re.Match[str]) -> str:
    """A filler goes, but "btw" right after "I'm <name>" stays: it marks the word before it as a name."""
    before = re.search(r"\b(?:i'm|im|i am)\s+([^\W\d_][\w'-]*)\s*$", m.string[: m.start()], re.I)
    if before and before[1].lower() not in NOT_NAMES and "b" in m.group(0).lower():
        return " btw" if not m.group(0).startswith(",") else " btw,"
    return ""


def _spelled(m: re.Match[str]) -> str:
    word = m.group(0)
    if word == "U" or (word.isupper() and len(word) > 1 and word.lower() not in ("im", "ive")):
        return word  # "U" (a letter), "ATM" (the machine), "WONT": not shorthand
    return _APOSTROPHES[word.lower()]


def casual_writer(text: str) -> bool:
    """Whether ``text`` is typed without capitals (but for "I"): names there are lower case too."""
    letters = [w for w in re.findall(r"[^\W\d_][\w'-]*", text) if w not in ("I", "I'm", "I've", "I'd", "I'll")]
    return bool(letters) and not any(w[:1].isupper() for w in letters)
