"""What ranking reads from a memory's text besides its words: sentence segments, question share, length.

* **Segments**: a memory that says several things ("We won a trophy! The season was tough, though.")
  embeds as one blurred vector; a query about one of those things matches it poorly. A text of two or more
  sentences (of at least `MIN_SEGMENT_WORDS` words each) therefore also gets one vector per sentence,
  and each sentence vector is an extra *key* pointing to the same memory: dense similarity is the best
  of the memory's own vector and its keys. A bracketed note after a sentence (``" [image: a dog]"``) is
  a segment of its own. A short label before a colon ("Nate: ...", "Q: ...") is kept on every segment, so a
  segment still says who said it. Keys are made at write time with the memory (pooled from its own
  forward pass when the embedder can, `persona.retrieval.embedding`) and stored with it in SQLite (`persona.store`);
  a one-sentence text has none.
* **Question share**: the share of a text's sentences that are questions. In a conversation, a turn that
  asks ("What's your favourite game?") rarely holds the answer a later search looks for, although it
  shares the search's words; ranking subtracts a small penalty in proportion.
* **Length**: ``log(1 + words)``. In a conversation the longer turns carry the facts; ranking adds a small
  prior to memories that are part of one.

All three are computed from the text alone (English punctuation conventions; no model, no data), once at
write or index time. The ranking weights are in `persona.retrieval.RankingConfig`, measured in
docs/retrieval.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "MAX_SEGMENTS",
    "MIN_SEGMENT_WORDS",
    "Span",
    "log_lengths",
    "question_shares",
    "segment_spans",
    "segment_text",
]

MIN_SEGMENT_WORDS = 3
"""Shorter sentences ("Wow!", "Thanks, Jo.") say too little to be a key of their own."""

MAX_SEGMENTS = 16
"""At most this many keys per memory (a long document should be stored as several memories)."""

Span = tuple[int, int]
"""A character range ``[start, end)`` of a text."""

_LABEL = re.compile(r"(?P<label>[^\s:][^:\n]{0,40}?:)\s+(?=\S)")
_BOUNDARY = re.compile(r"(?<=[.!?…])[\"'”’)]*\s+(?=[\"'“‘(\[]?[A-Z0-9])|\s+(?=\[)")
_WORD = re.compile(r"\w+", re.UNICODE)


def _split(text: str) -> tuple[Span | None, list[Span]]:
    """The span of a text's label ("Nate:") or None, and the spans of its sentences, whitespace trimmed."""
    pos = len(text) - len(text.lstrip())
    label: Span | None = None
    match = _LABEL.match(text, pos)
    if match and len(match.group("label").split()) <= 4:
        label = match.span("label")
        pos = match.end()
    spans: list[Span] = []
    for boundary in [*_BOUNDARY.finditer(text, pos), None]:
        end = len(text) if boundary is None else boundary.start()
        piece = text[pos:end]
        lead = len(piece) - len(piece.lstrip())
        if piece.strip():
            spans.append((pos + lead, pos + len(piece.rstrip())))
        if boundary is not None:
            pos = boundary.end()
    return label, spans


def segment_spans(text: str) -> list[tuple[Span, ...]]:
    """The extra keys of a text as character spans: per sentence, (label span, sentence span) or (sentence
    span,); [] when the text has fewer than two sentences of `MIN_SEGMENT_WORDS` words."""
    label, spans = _split(text)
    keep = [span for span in spans if len(_WORD.findall(text[span[0] : span[1]])) >= MIN_SEGMENT_WORDS]
    if len(keep) < 2:
        return []
    return [(label, span) if label else (span,) for span in keep[:MAX_SEGMENTS]]


def segment_text(text: str, parts: tuple[Span, ...]) -> str:
    """One segment of ``text`` (from `segment_spans`) as a string: its label and sentence."""
    return " ".join(text[a:b] for a, b in parts)


def question_shares(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """Per text, the share of its sentences that end with a question mark (0 for an empty text)."""
    out = np.zeros(len(texts), dtype=np.float32)
    for i, text in enumerate(texts):
        if "?" not in text:
            continue  # most texts: no need to split
        _label, spans = _split(text)
        sentences = [text[a:b] for a, b in spans if not text.startswith("[", a)]
        if sentences:
            asked = sum(1 for s in sentences if s.rstrip("\"'”’) ").endswith("?"))
            out[i] = asked / len(sentences)
    return out


def log_lengths(texts: Sequence[str]) -> npt.NDArray[np.float32]:
    """Per text, log(1 + number of words)."""
    return np.asarray([math.log1p(len(_WORD.findall(t))) for t in texts], dtype=np.float32)
