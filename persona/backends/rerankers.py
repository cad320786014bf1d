"""The built-in reranker: a sentence-transformers cross-encoder, for the optional second ranking stage.

No cross-encoder ships with persona: reranking is off unless the user names a model
(``Persona(..., reranker="cross-encoder/ms-marco-MiniLM-L6-v2")`` or a local directory). Like the
embedders, the model loads offline, on first use: a hub name must already be in the Hugging Face cache.
sentence-transformers and torch are imported on first use only.
"""

from __future__ import annotations

import inspect
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from persona._env import ensure_offline_env
from persona.backends.base import Reranker
from persona.backends.hf_models import model_id, no_progress_bars
from persona.errors import InvalidInputError, MissingDependencyError

__all__ = ["CrossEncoderReranker", "resolve_reranker"]


def _looks_like_path(spec: str | Path) -> bool:
    """True when ``spec`` can only be a filesystem path (not a hub name such as ``org/name``)."""
    if isinstance(spec, Path):
        return True
    text = spec.strip()
    return os.path.isabs(text) or text.startswith((".", "~")) or text.count("/") > 1 or os.path.isdir(text)


class CrossEncoderReranker:
    """A sentence-transformers ``CrossEncoder`` (hub name or local directory), run by torch; loaded on first use.

    Offline by default: a hub name must already be in the Hugging Face cache.
    """

    def __init__(self, model: str | Path, *, batch_size: int = 32, device: str = "cpu") -> None:
        if not isinstance(model, (str, Path)) or not str(model).strip():
            raise InvalidInputError(f"CrossEncoderReranker needs a model name or path, got {model!r}.")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInputError(f"batch_size must be a positive integer, got {batch_size!r}.")
        self._spec = model
        self._id = model_id(model)
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CrossEncoderReranker({self._id!r}, device={self.device!r})"

    @property
    def id(self) -> str:
        """The model identifier: the hub name, or a local directory's name."""
        return self._id

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        """One relevance score per text (higher is better); loads the model on first use."""
        if not isinstance(query, str):
            raise InvalidInputError(f"score() takes a query string, got {type(query).__name__}.")
        if isinstance(texts, (str, bytes)):
            raise InvalidInputError("score() takes a list of texts, not one string: wrap it as [text].")
        items = list(texts)
        for i, text in enumerate(items):
            if not isinstance(text, str):
                raise InvalidInputError(f"score() takes strings; item {i} is {type(text).__name__}.")
        if not items:
            return []
        model = self._load()
        raw = model.predict(
            [(query, text) for text in items],
            batch_size=self.batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        scores = np.asarray(raw, dtype=np.float64)
        if scores.ndim == 2 and scores.shape[1] == 1:
            scores = scores[:, 0]
        if scores.shape != (len(items),):
            raise InvalidInputError(
                f"the cross-encoder {self._id!r} gives {scores.shape[-1]} scores per pair; a reranker needs a "
                "model with one relevance score per (query, text) pair."
            )
        return [float(s) for s in scores]

    def _load(self) -> Any:
        """The loaded ``CrossEncoder`` (loaded once, under a lock)."""
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                self._model = self._load_locked()
        return self._model

    def _load_locked(self) -> Any:
        ensure_offline_env()
        is_path = _looks_like_path(self._spec)
        source = str(Path(str(self._spec).strip()).expanduser()) if is_path else str(self._spec).strip()
        if is_path and not os.path.isdir(source):
            raise MissingDependencyError(
                f"Cannot load the cross-encoder {source!r}: no such directory. Pass the directory of a local "
                "sentence-transformers cross-encoder, or a model name already in the Hugging Face cache, "
                "or reranker=None to search without reranking."
            )
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as exc:
            raise MissingDependencyError(
                "CrossEncoderReranker needs sentence-transformers: pip install sentence-transformers"
            ) from exc
        try:
            with no_progress_bars():
                model = CrossEncoder(source, device=self.device)
        except (OSError, ValueError) as exc:
            raise MissingDependencyError(_load_hint(source, exc)) from exc
        model.eval()
        return model


def _load_hint(source: str, exc: BaseException) -> str:
    """The message for a cross-encoder that cannot be loaded, saying what to do."""
    if os.path.isdir(source):
        return f"Cannot load the cross-encoder in {source}: {exc}"
    return (
        f"Cannot load cross-encoder {source!r} offline: it is not a local directory and not in the Hugging "
        "Face cache. Load it once with network access (set HF_HUB_OFFLINE=0 for that run), pass the path "
        f"of a local model directory, or use reranker=None to search without reranking. ({exc})"
    )


def _looks_like_reranker(obj: object) -> bool:
    """Protocol check without touching properties (reading ``id`` must not load a model)."""
    try:
        inspect.getattr_static(obj, "id")
        score = inspect.getattr_static(obj, "score")
    except AttributeError:
        return False
    return callable(score) or isinstance(score, (staticmethod, classmethod))


def resolve_reranker(spec: str | Path | Reranker | None) -> Reranker | None:
    """Turn what a user passed as ``reranker=`` into a Reranker, without loading any model.

    None → None (no reranking, the default); a model name or path → ``CrossEncoderReranker``;
    an object with ``id`` and ``score(query, texts)`` → itself.
    """
    if spec is None:
        return None
    if isinstance(spec, (str, Path)):
        if not str(spec).strip():
            raise InvalidInputError("reranker must be a cross-encoder name or path, got an empty string.")
        return CrossEncoderReranker(spec)
    if _looks_like_reranker(spec):
        return spec
    raise InvalidInputError(
        f"reranker must be None, a sentence-transformers cross-encoder name or path, or an object with "
        f"id and score(query, texts); got {type(spec).__name__}."
    )
