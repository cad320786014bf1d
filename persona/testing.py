"""Deterministic fakes for tests and examples: no model download, no network, real geometry.

``FakeEmbedder`` hashes each word (and word bigram) to a fixed random direction and sums them, so
texts that share words are close and texts that share none are nearly orthogonal: similarity results
are assertable, unlike a fake that returns one constant vector.

``FakeReranker`` scores a text by how often it says a keyword (or the query's words), so the order a
reranked search must return is known in advance.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence

import numpy as np

from .backends.base import Vectors

__all__ = ["FakeEmbedder", "FakeReranker"]

_WORD = re.compile(r"\w+")


class FakeEmbedder:
    """A bag-of-words hashing embedder. ``calls`` records every batch it was asked to embed."""

    def __init__(self, dim: int = 64, *, name: str = "fake") -> None:
        self._dim = dim
        self._id = f"{name}-bow-{dim}"
        self.calls: list[list[str]] = []

    @property
    def id(self) -> str:
        return self._id

    @property
    def dim(self) -> int:
        return self._dim

    def _direction(self, token: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")
        return np.random.default_rng(seed).standard_normal(self._dim)

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = [w.lower() for w in _WORD.findall(text)]
            vec = np.zeros(self._dim)
            for word in words:
                vec += self._direction(word)
            for a, b in itertools.pairwise(words):
                vec += 0.5 * self._direction(f"{a} {b}")
            if not words:
                vec = self._direction("\x00empty")
            out[row] = vec / (np.linalg.norm(vec) or 1.0)
        return out


class FakeReranker:
    """Scores each text by how many times it contains ``keyword`` as a word (case-insensitive), or, without
    a keyword, how many times it says any of the query's words. ``calls`` records every (query, texts) it scored.
    """

    def __init__(self, keyword: str | None = None, *, name: str = "fake") -> None:
        self.keyword = keyword.lower() if keyword is not None else None
        self._id = f"{name}-rerank"
        self.calls: list[tuple[str, list[str]]] = []

    @property
    def id(self) -> str:
        return self._id

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        self.calls.append((query, list(texts)))
        wanted = {self.keyword} if self.keyword is not None else {w.lower() for w in _WORD.findall(query)}
        return [float(sum(w.lower() in wanted for w in _WORD.findall(text))) for text in texts]
