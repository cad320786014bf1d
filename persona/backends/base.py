"""The small protocols persona's backends implement. One or two required methods each."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["Embedder", "Mask", "Reranker", "VectorIndex", "Vectors"]

Vectors = npt.NDArray[np.float32]
Mask = npt.NDArray[np.bool_]


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
class VectorIndex(Protocol):
    """Inner-product search over one user's vectors. Vectors are addressed by position (add order).

    ``search`` returns (positions, scores), best first, at most k, only where ``mask`` is True when given.
    """

    def add(self, vectors: Vectors) -> None: ...

    def search(self, query: Vectors, k: int, mask: Mask | None = None) -> tuple[list[int], list[float]]: ...

    def __len__(self) -> int: ...

    def save(self, path: Path) -> None: ...


@runtime_checkable
class Reranker(Protocol):
    """Scores how well each text answers a query, for an optional second ranking stage (e.g. a cross-encoder).

    ``score`` returns one float per text, in order; higher is better. Scores only need to be comparable
    within one call. ``id`` names the model.
    """

    @property
    def id(self) -> str: ...

    def score(self, query: str, texts: Sequence[str]) -> Sequence[float]: ...
