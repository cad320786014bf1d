"""An embedder wrapper that remembers document vectors, so evaluation embeds repeated texts once."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from persona.backends.base import Embedder, SegmentSpans, Vectors

__all__ = ["CachingEmbedder"]


class CachingEmbedder:
    """Wraps an embedder and remembers the vectors of texts embedded in batches (documents), so repeated
    texts (PrefEval's filler, a second system over the same turns) embed once.

    Texts embedded one at a time (queries) are not cached, so search latency still includes embedding
    the query. It keeps the wrapped embedder's ``id``: the vectors are the same.
    """

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self._cache: dict[str, Vectors] = {}
        self._keys: dict[tuple[str, str], tuple[Vectors, Vectors]] = {}
        if callable(getattr(inner, "embed_segments", None)):  # only then may Persona take the late path
            self.embed_segments = self._embed_segments

    def _embed_segments(
        self, texts: Sequence[str], spans: Sequence[SegmentSpans]
    ) -> tuple[Vectors, list[Vectors]]:
        """The wrapped embedder's ``embed_segments``, remembered per (text, spans)."""
        keyed = [(t, repr(s)) for t, s in zip(texts, spans, strict=True)]
        missing = [i for i, key in enumerate(keyed) if key not in self._keys]
        if missing:
            own, keys = self.inner.embed_segments(  # type: ignore[attr-defined]
                [texts[i] for i in missing], [spans[i] for i in missing]
            )
            for row, i in enumerate(missing):
                self._keys[keyed[i]] = (np.asarray(own[row], dtype=np.float32), keys[row])
        found = [self._keys[key] for key in keyed]
        return np.stack([f[0] for f in found]), [f[1] for f in found]

    @property
    def id(self) -> str:
        return self.inner.id

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        if len(texts) < 2:
            return self.inner.embed(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            for text, vector in zip(missing, self.inner.embed(missing), strict=True):
                self._cache[text] = np.asarray(vector, dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])
