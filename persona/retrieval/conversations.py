"""What a user's index derives from the memories themselves, beyond their text: conversational links and
the metadata values a query can mention.

* Links: an episode often only makes sense after the one before it (an answer after its question). Each
  episode is linked to the user's previous memory (in insertion order) when that is an episode of the
  same conversation: the same ``session`` metadata value when either has one, else a ``created_at`` later
  than the previous one's by at most `LINK_WINDOW_SECONDS`. Memories sharing one timestamp are a batch
  dated together (an import, a list of facts), not a dialogue, and stay unlinked: chaining unrelated
  memories costs recall (PrefEval's filler, docs/retrieval.md). Ranking lets a memory borrow evidence from
  its predecessor.
* Mentions: string metadata values (a speaker's name, a place, a project) that a query names. Ranking
  favours the memories carrying a value the query mentions, when that singles out part of the user's
  memories.

Both are derived from what callers give (text, kind, metadata, created_at), so rebuilding an index from
SQLite reproduces them; and both only ever look at one user's memories.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .bm25 import tokenize

__all__ = ["LINK_WINDOW_SECONDS", "SESSION_KEY", "MentionIndex", "link_previous"]

EPISODE = "episode"

SESSION_KEY = "session"
"""The metadata field naming the conversation a memory belongs to (optional)."""

LINK_WINDOW_SECONDS = 600.0
"""Without a session, a memory dated this soon (and strictly) after the previous one continues its conversation."""

_HAS_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


def link_previous(
    kinds: Sequence[str],
    metadata: Sequence[dict[str, Any]],
    created_ts: npt.NDArray[np.float64],
    start: int = 0,
) -> npt.NDArray[np.int64]:
    """For positions ``start..n-1``: the position of the memory each one follows in its conversation, or -1."""
    out = np.full(len(kinds) - start, -1, dtype=np.int64)
    for i in range(max(start, 1), len(kinds)):
        j = i - 1
        if kinds[i] != EPISODE or kinds[j] != EPISODE:
            continue
        a, b = metadata[i].get(SESSION_KEY), metadata[j].get(SESSION_KEY)
        if a is not None or b is not None:
            linked = a == b
        else:
            linked = 0.0 < float(created_ts[i]) - float(created_ts[j]) <= LINK_WINDOW_SECONDS
        if linked:
            out[i - start] = j
    return out


@dataclass
class MentionIndex:
    """Which positions carry each string metadata value, looked up by the value's first token."""

    _by_first: dict[str, dict[tuple[str, ...], list[int]]] = field(default_factory=dict)

    def add(self, start: int, metadata: Sequence[dict[str, Any]]) -> None:
        for offset, meta in enumerate(metadata):
            for value in meta.values():
                if not isinstance(value, str) or not _HAS_LETTER.search(value):
                    continue
                tokens = tuple(tokenize(value))
                if not tokens or len(tokens) > 4:
                    continue  # free text, not a name
                self._by_first.setdefault(tokens[0], {}).setdefault(tokens, []).append(start + offset)

    def arrays(self) -> tuple[list[str], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Every value (its tokens joined by spaces), where each one's positions start, and the positions
        (`from_arrays` restores the index)."""
        values: list[str] = []
        runs: list[list[int]] = []
        for by_tokens in self._by_first.values():
            for tokens, positions in by_tokens.items():
                values.append(" ".join(tokens))
                runs.append(positions)
        starts = np.cumsum([0] + [len(r) for r in runs], dtype=np.int64)
        flat = np.asarray([p for r in runs for p in r], dtype=np.int64)
        return values, starts, flat

    @classmethod
    def from_arrays(
        cls, values: Sequence[str], starts: npt.NDArray[np.int64], positions: npt.NDArray[np.int64]
    ) -> MentionIndex:
        index = cls()
        flat = [int(p) for p in positions.tolist()]
        bounds = [int(s) for s in starts.tolist()]
        for i, value in enumerate(values):
            tokens = tuple(str(value).split(" "))
            index._by_first.setdefault(tokens[0], {})[tokens] = flat[bounds[i] : bounds[i + 1]]
        return index

    def mentioned(self, query: str, n: int) -> npt.NDArray[np.bool_] | None:
        """The positions carrying a value the query names, or None when none is named (or all carry one)."""
        words = tokenize(query)
        present = set(words)
        hits: list[int] = []
        for word in present:
            for tokens, positions in self._by_first.get(word, {}).items():
                if present.issuperset(tokens):
                    hits.extend(positions)
        if not hits:
            return None
        out = np.zeros(n, dtype=bool)
        out[hits] = True
        return None if bool(out.all()) else out
