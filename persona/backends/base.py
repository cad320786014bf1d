"""The small protocols persona's backends implement. One or two required methods each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = [
    "Embedder",
    "Mask",
    "Reranker",
    "SegmentEmbedder",
    "SegmentSpans",
    "Vectors",
    "pool_segments",
]

Vectors = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]
SegmentSpans = Sequence[Sequence[tuple[int, int]]]
"""One text's segments: per segment, the character ranges whose tokens it pools (persona.segments)."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors.

    ``id`` names the model (it is recorded in the store: a store refuses another embedder).
    ``embed`` returns an array of shape (len(texts), dim), float32, L2-normalised rows.
    ``dim`` may load the model to find out.
    """

    @property
    def id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Vectors: ...


@runtime_checkable
class SegmentEmbedder(Embedder, Protocol):
    """An `Embedder` that can also pool parts of each text from the same forward pass ("late chunking").

    ``embed_segments(texts, spans)`` returns ``embed(texts)`` and, per text, one L2-normalised vector per
    segment of ``spans[i]``: the mean of the contextual token vectors whose characters overlap one of the
    segment's ranges (a segment none of whose tokens survive truncation gets no vector: fewer rows).
    Optional: persona embeds segments as texts of their own when an embedder lacks it (slower ingest).
    """

    def embed_segments(
        self, texts: Sequence[str], spans: Sequence[SegmentSpans]
    ) -> tuple[Vectors, list[Vectors]]: ...


def pool_segments(
    tokens: npt.NDArray[np.floating], offsets: Sequence[tuple[int, int]], segments: SegmentSpans
) -> Vectors:
    """Mean-pool ``tokens`` (n_tokens x dim, one text, no padding) per segment, L2-normalised.

    ``offsets`` are each token's character range in the text; special tokens have empty ranges and never
    count. Segments without any token (cut off by truncation) are left out.
    """
    dim = int(tokens.shape[1]) if tokens.ndim == 2 else 0
    starts = np.fromiter((a for a, _b in offsets), dtype=np.int64, count=len(offsets))
    ends = np.fromiter((b for _a, b in offsets), dtype=np.int64, count=len(offsets))
    real = ends > starts
    rows: list[npt.NDArray[np.float32]] = []
    for ranges in segments:
        chosen = np.zeros(len(offsets), dtype=bool)
        for a, b in ranges:
            chosen |= real & (ends > a) & (starts < b)
        if not chosen.any():
            continue
        mean = np.asarray(tokens[: len(offsets)][chosen], dtype=np.float64).mean(axis=0)
        rows.append((mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32))
    return np.stack(rows) if rows else np.zeros((0, dim), dtype=np.float32)


@runtime_checkable
class Reranker(Protocol):
    """Scores how well each text answers a query, for an optional second ranking stage (e.g. a cross-encoder).

    ``score`` returns one float per text, in order; higher is better. Scores only need to be comparable
    within one call. ``id`` names the model.
    """

    @property
    def id(self) -> str: ...

    def score(self, query: str, texts: Sequence[str]) -> Sequence[float]: ...
