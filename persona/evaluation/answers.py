"""Scoring answers without an LLM: LoCoMo's token F1 per category, with its adversarial rule.

This follows LoCoMo's ``task_eval/evaluation.py``:

- answers are normalised (lower case, commas, punctuation and the words a/an/the/and removed) and split on
  whitespace; each token is stemmed (LoCoMo uses NLTK's Porter stemmer; persona uses the small suffix
  stripper `stem` below, so NLTK is not a dependency: scores can differ from the official ones by a point
  or so on inflected words);
- category 3 (open-domain): only the part of the gold answer before the first ``;`` counts;
- category 1 (multi-hop): the answer and the gold are split on ``,``; each gold part takes its best F1
  against any answer part, and the parts' scores are averaged;
- category 5 (adversarial; no gold answer): 1 when the answer says the information is not there
  (`ABSTAIN_PHRASES`, LoCoMo's "no information available" / "not mentioned" plus two common rewordings),
  else 0.

`ANSWER_INSTRUCTIONS` is appended to the question in the message sent to the model (not to the retrieval
query), asking for a short answer and for LoCoMo's abstention phrase.
"""

from __future__ import annotations

import re
import string
from collections import Counter

__all__ = [
    "ABSTAIN_PHRASES",
    "ANSWER_INSTRUCTIONS",
    "abstains",
    "locomo_f1",
    "normalize_answer",
    "stem",
    "token_f1",
]

ANSWER_INSTRUCTIONS = (
    "\n\nAnswer with a short phrase, using what you know about me and our conversations. "
    "If that does not say, answer exactly: No information available."
)
ABSTAIN_PHRASES = (
    "no information available",
    "not mentioned",
    "information is not available",
    "not available",
)
_ARTICLES = re.compile(r"\b(a|an|the|and)\b")
_PUNCT = str.maketrans("", "", string.punctuation)
_SUFFIXES = (
    "ational",
    "ization",
    "fulness",
    "ousness",
    "iveness",
    "ingly",
    "edly",
    "ing",
    "ies",
    "ed",
    "es",
    "ly",
    "s",
)


def normalize_answer(text: str) -> str:
    """LoCoMo's normalisation: drop commas, lower case, drop punctuation and articles, collapse spaces."""
    text = text.replace(",", "").lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def stem(word: str) -> str:
    """A light suffix stripper standing in for the Porter stemmer (``walking``/``walked``/``walks`` -> ``walk``)."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            return base + "y" if suffix == "ies" else base
    return word


def _tokens(text: str) -> list[str]:
    return [stem(w) for w in normalize_answer(text).split()]


def token_f1(prediction: str, gold: str) -> float:
    """Token-level F1 between two answers after normalisation and stemming (0 when either is empty)."""
    pred, ref = _tokens(prediction), _tokens(gold)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def abstains(prediction: str) -> bool:
    """Whether the answer says the information is not available (LoCoMo's adversarial rule)."""
    lowered = prediction.lower()
    return any(phrase in lowered for phrase in ABSTAIN_PHRASES)


def locomo_f1(prediction: str, gold: str | None, category: int) -> float:
    """The score LoCoMo gives ``prediction`` for a question of ``category`` (see the module docstring)."""
    if category == 5 or gold is None:
        return 1.0 if abstains(prediction) else 0.0
    if category == 3:
        gold = gold.split(";")[0].strip()
    if category == 1:
        parts = [p.strip() for p in prediction.split(",")] or [prediction]
        golds = [g.strip() for g in gold.split(",")]
        return sum(max(token_f1(p, g) for p in parts) for g in golds) / len(golds)
    return token_f1(prediction, gold)
