"""Turning memory texts into what the store keeps: one vector per text plus its sentence keys.

Texts are embedded in chunks of `EMBED_BATCH`, sorted by length first so each chunk pads least (measured
250 -> 330 texts/s on LoCoMo turns with the default embedder), and returned in the caller's order. A
text's sentence keys (`persona.retrieval.sentences`) come from the embedder's ``embed_segments`` when it has one
(late chunking: pooled from the text's own forward pass, no extra encoding); otherwise each sentence is
embedded as a text of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..backends.base import Embedder, Vectors
from ..errors import EmbedderMismatchError
from .sentences import Span, segment_spans, segment_text

__all__ = ["EMBED_BATCH", "embed_checked", "embed_in_batches", "embed_with_keys"]

EMBED_BATCH = 256


def embed_checked(embedder: Embedder, texts: Sequence[str]) -> Vectors:
    """``embedder.embed(texts)`` as float32, refusing a wrong number of vectors."""
    vectors = embedder.embed(list(texts))
    if vectors.shape[0] != len(texts):
        raise EmbedderMismatchError(
            f"embedder {embedder.id!r} returned {vectors.shape[0]} vectors for {len(texts)} texts."
        )
    return np.asarray(vectors, dtype=np.float32)


def embed_in_batches(embedder: Embedder, texts: list[str], *, progress: bool = False) -> Vectors:
    """Every text's vector, in order, embedded in length-sorted chunks."""
    if len(texts) <= EMBED_BATCH:
        return embed_checked(embedder, texts)
    order, parts = _length_order(texts), []
    with _bar(len(texts), progress) as bar:
        for start in range(0, len(texts), EMBED_BATCH):
            chunk = [texts[i] for i in order[start : start + EMBED_BATCH]]
            parts.append(embed_checked(embedder, chunk))
            bar.update(len(chunk))
    out = np.empty_like(np.concatenate(parts))
    out[np.asarray(order)] = np.concatenate(parts)
    return out


def embed_with_keys(
    embedder: Embedder, texts: list[str], *, progress: bool = False
) -> tuple[Vectors, list[Vectors]]:
    """Each text's vector and its sentence keys (an array of 0 or more rows per text)."""
    spans = [segment_spans(text) for text in texts]
    # SegmentEmbedder's method, found without isinstance (which would evaluate ``dim`` and may load a model)
    late = getattr(embedder, "embed_segments", None)
    if callable(late):
        return _embed_late(embedder.id, late, texts, spans, progress=progress)
    per_text = [
        [segment_text(text, parts) for parts in found] for text, found in zip(texts, spans, strict=True)
    ]
    vectors = embed_in_batches(
        embedder, [*texts, *(s for found in per_text for s in found)], progress=progress
    )
    own, rest = vectors[: len(texts)], vectors[len(texts) :]
    keys: list[Vectors] = []
    start = 0
    for found in per_text:
        keys.append(rest[start : start + len(found)])
        start += len(found)
    return own, keys


def _embed_late(
    embedder_id: str,
    embed_segments: Callable[..., tuple[Vectors, list[Vectors]]],
    texts: list[str],
    spans: list[list[tuple[Span, ...]]],
    *,
    progress: bool,
) -> tuple[Vectors, list[Vectors]]:
    order = _length_order(texts)
    own: list[Vectors | None] = [None] * len(texts)
    keys: list[Vectors] = [np.zeros((0, 0), dtype=np.float32)] * len(texts)
    with _bar(len(texts), progress and len(texts) > EMBED_BATCH) as bar:
        for start in range(0, len(texts), EMBED_BATCH):
            chunk = order[start : start + EMBED_BATCH]
            vectors, chunk_keys = embed_segments([texts[i] for i in chunk], [spans[i] for i in chunk])
            if len(vectors) != len(chunk) or len(chunk_keys) != len(chunk):
                raise EmbedderMismatchError(
                    f"embedder {embedder_id!r} returned {len(vectors)} vectors and {len(chunk_keys)} "
                    f"key sets for {len(chunk)} texts."
                )
            dim = int(np.shape(vectors)[1])
            for row, i in enumerate(chunk):
                own[i] = np.asarray(vectors[row], dtype=np.float32)
                found = np.asarray(chunk_keys[row], dtype=np.float32)
                if found.size == 0:
                    found = np.zeros((0, dim), dtype=np.float32)
                if found.ndim != 2 or found.shape[1] != dim or found.shape[0] > len(spans[i]):
                    raise EmbedderMismatchError(
                        f"embedder {embedder_id!r} returned segment vectors of shape {found.shape} for a text "
                        f"with {len(spans[i])} segments and {dim}-dim vectors."
                    )
                keys[i] = found
            bar.update(len(chunk))
    return np.stack([v for v in own if v is not None]), keys


def _length_order(texts: list[str]) -> list[int]:
    return sorted(range(len(texts)), key=lambda i: len(texts[i]))


def _bar(total: int, show: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="embedding", unit="text", disable=not show)
