"""The offline rules, part six: languages, read from a lexicon rather than from capital letters.

* the languages a user speaks, however the list is typed: "I speak Tamil and English, little bit Hindi
  also", "i speak arabic, english and some french" (a writer who capitalizes nothing), "Yoruba, English and
  small Hausa" (a qualifier before the name is dropped);
* the language answers should be in: "please answer always in English", "reply in Spanish please".

A word the lexicon does not hold is still taken for a language when it is capitalized ("I speak Twi").
"""

from __future__ import annotations

import re

from .rules import rule
from .slots import Fact, norm_value
from .words import words

__all__ = ["LANGUAGES", "languages"]

LANGUAGES = words(
    "english spanish french german italian portuguese dutch flemish russian arabic hindi urdu bengali bangla "
    "punjabi marathi tamil telugu kannada malayalam gujarati odia sindhi nepali sinhala yoruba igbo hausa "
    "swahili amharic somali zulu xhosa afrikaans twi wolof lingala mandarin cantonese chinese japanese korean "
    "vietnamese thai lao khmer burmese indonesian malay tagalog filipino turkish persian farsi dari pashto "
    "kurdish hebrew yiddish greek polish czech slovak hungarian romanian bulgarian serbian croatian bosnian "
    "slovenian macedonian albanian ukrainian belarusian swedish norwegian danish finnish icelandic estonian "
    "latvian lithuanian irish welsh gaelic catalan basque galician armenian georgian azerbaijani kazakh uzbek "
    "maltese luxembourgish esperanto latin creole patois quechua guarani maori samoan tongan hawaiian"
)
_QUALIFIER = re.compile(
    r"^(?:(?:a\s+)?(?:little|tiny)\s+(?:bit\s+)?(?:of\s+)?|a\s+bit\s+(?:of\s+)?|some|basic|fluent|conversational|"
    r"decent|broken|small|rusty|passable|intermediate|beginner|native|schoolboy|schoolgirl|a few words of|bits of|"
    r"enough)\s*",
    re.I,
)
_SPLIT = re.compile(r"\s*(?:,|;|&|/|\band\b|\bor\b|\bplus\b|\balso\b)\s*", re.I)


def languages(value: str) -> list[str]:
    """The languages a list names, in order, up to the first part that is not one ("Tamil and English, little
    bit Hindi also" -> Tamil, English, Hindi; "English, my wife speaks Greek" -> English)."""
    out: list[str] = []
    for part in _SPLIT.split(value.strip().rstrip(".!")):
        if not part:
            continue
        part = _QUALIFIER.sub("", part)
        first = part.split()[0] if part.split() else ""
        bare = first.strip(".,!;:")
        rest = part.split()[1:]
        tail = all(re.fullmatch(r"(?:also|too|as well|well|fluently|only|a bit|a little|mostly|at home|now)", w, re.I)
                   for w in rest) or re.fullmatch(r"(?:as well|a bit|a little|at home|with\b.*|at\b.*)", " ".join(rest), re.I)
        if bare.lower() in LANGUAGES or (bare[:1].isupper() and not rest and bare.isalpha()):
            out.append(bare[:1].upper() + bare[1:].lower() if bare.lower() in LANGUAGES else bare)
            if not tail:
                break
        else:
            break
    return list(dict.fromkeys(out))


@rule(r"^i\s+(?:also\s+|can\s+|do\s+|can also\s+)?speak\s+(?P<x>.+)$", first=True)
def _speaks(m: re.Match[str]) -> list[Fact]:
    return [Fact(f"I speak {x}.", "fact", f"speaks:{norm_value(x)}", x) for x in languages(m["x"])]


@rule(
    r"^(?:(?:please|pls|just|and|also)\s+)*(?:(?:always|only)\s+)?(?:answer|reply|respond|write|talk|speak)"
    r"(?:\s+to\s+me)?(?:\s+(?:always|only))?\s+in\s+(?P<x>[^\W\d_]+)\b.*$"
)
def _answer_in(m: re.Match[str]) -> list[Fact]:
    x = m["x"]
    if x.lower() not in LANGUAGES:
        return []
    x = x.capitalize()
    return [Fact(f"I want answers in {x}.", "preference", "answer_language", x)]
