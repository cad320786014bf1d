"""Per-user lexical retrieval: Okapi BM25 over a small in-memory inverted index.

Statistics (document frequencies, average length) are a user's own: one user's data never changes
another user's ranking.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["STOPWORDS", "BM25Index", "tokenize"]

_WORD = re.compile(r"\w+", re.UNICODE)

_STOPWORDS_TEXT = """
    a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most
    my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves s t don didn doesn isn wasn weren won ll re ve d m o y
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


@functools.lru_cache(maxsize=1 << 17)
def _term(word: str) -> str | None:
    """A lower-cased word's index term: None for a stopword, else its stem (cached: a user's texts repeat
    their words, so building a cold index stems each distinct word once)."""
    return None if word in STOPWORDS else _stem(word)


def _stem(word: str) -> str:
    """A deliberately light suffix stripper (plural and common verb endings)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed"):
        return word[:-2]
    return word


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens without stopwords, lightly stemmed."""
    terms = map(_term, _WORD.findall(text.lower()))
    return [t for t in terms if t is not None]


class BM25Index:
    """Okapi BM25 over documents addressed by position (add order)."""

    def __init__(self, *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._postings: dict[str, list[tuple[int, int]] | npt.NDArray[np.int64]] = {}
        """Per term, its (position, term frequency) pairs: a list, or an (n, 2) array when restored."""
        self._lengths: list[int] = []
        self._total = 0
        self._columns: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]] = {}
        """Per term, its postings' positions and term frequencies as arrays (made on first use by `scores`,
        dropped when `add` extends the term)."""
        self._norm: npt.NDArray[np.float64] | None = None
        """The length normalisation of every document, for the current documents (None: to compute)."""

    def __len__(self) -> int:
        return len(self._lengths)

    def add(self, texts: Iterable[str]) -> None:
        for text in texts:
            position = len(self._lengths)
            counts = Counter(tokenize(text))
            for term, tf in counts.items():
                self._columns.pop(term, None)
                postings = self._postings.setdefault(term, [])
                if not isinstance(postings, list):  # restored from arrays: back to a list to grow it
                    postings = self._postings[term] = [(int(p), int(f)) for p, f in postings]
                postings.append((position, tf))
            length = sum(counts.values())
            self._lengths.append(length)
            self._total += length
            self._norm = None

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """The whole index as arrays (`from_arrays` restores it exactly): terms, where each term's postings
        start, positions, term frequencies and document lengths."""
        terms = sorted(self._postings)
        pairs = [np.asarray(self._postings[t], dtype=np.int64).reshape(-1, 2) for t in terms]
        starts = np.cumsum([0] + [len(p) for p in pairs], dtype=np.int64)
        flat = np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)
        return {
            "terms": np.asarray(terms, dtype=str),
            "starts": starts,
            "postings": flat,
            "lengths": np.asarray(self._lengths, dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[Any]], *, k1: float = 1.2, b: float = 0.75) -> BM25Index:
        index = cls(k1=k1, b=b)
        starts = arrays["starts"]
        flat = arrays["postings"]
        index._postings = {
            str(term): flat[starts[i] : starts[i + 1]] for i, term in enumerate(arrays["terms"].tolist())
        }
        index._lengths = [int(n) for n in arrays["lengths"].tolist()]
        index._total = sum(index._lengths)
        return index

    def idf_total(self, query: str | Sequence[str]) -> float:
        """The summed IDF of the query's distinct terms: what a document matching every term about once
        scores, so BM25 scores divided by it are comparable across queries (terms absent here count fully)."""
        n = len(self._lengths)
        terms = set(tokenize(query) if isinstance(query, str) else query)
        return sum(
            math.log(
                1.0 + (n - len(self._postings.get(t, ())) + 0.5) / (len(self._postings.get(t, ())) + 0.5)
            )
            for t in terms
        )

    def scores(self, query: str | Sequence[str]) -> npt.NDArray[np.float64]:
        """BM25 score of every document for the query (0 where no term matches)."""
        n = len(self._lengths)
        out = np.zeros(n, dtype=np.float64)
        if n == 0:
            return out
        terms = tokenize(query) if isinstance(query, str) else list(query)
        if not terms:
            return out
        norm = self._norm
        if norm is None:
            lengths = np.asarray(self._lengths, dtype=np.float64)
            avg = max(self._total / n, 1e-9)
            norm = self._norm = self.k1 * (1.0 - self.b + self.b * lengths / avg)
        for term, qtf in Counter(terms).items():
            columns = self._columns.get(term)
            if columns is None:
                postings = self._postings.get(term)
                if postings is None or len(postings) == 0:
                    continue
                arr = np.asarray(postings, dtype=np.int64).reshape(-1, 2)
                columns = self._columns[term] = (arr[:, 0], arr[:, 1].astype(np.float64))
            pos, tf = columns
            df = len(pos)
            idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            out[pos] += qtf * idf * tf * (self.k1 + 1.0) / (tf + norm[pos])
        return out
