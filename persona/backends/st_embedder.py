"""Any sentence-transformers model on torch (loaded on first use)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._env import ensure_offline_env
from ..errors import InvalidInputError, MissingDependencyError
from .base import SegmentSpans, Vectors, pool_segments
from .hf_models import (
    as_vectors,
    bundled_model_dir,
    check_segment_input,
    check_texts,
    is_default_model,
    load_hint,
    model_id,
    no_progress_bars,
)

__all__ = ["SentenceTransformerEmbedder"]


class SentenceTransformerEmbedder:
    """Any sentence-transformers model (hub name or local path), run by torch; loaded on first use.

    Offline by default: a hub name must already be in the Hugging Face cache (or be the bundled default).
    """

    def __init__(self, model: str | Path, *, batch_size: int = 64, device: str = "cpu") -> None:
        if not str(model).strip():
            raise InvalidInputError("SentenceTransformerEmbedder needs a model name or path, got ''.")
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be at least 1, got {batch_size}.")
        self._spec = model
        self._id = model_id(model)
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None
        self._dim: int | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder({self._id!r}, device={self.device!r})"

    @property
    def id(self) -> str:
        """The model identifier recorded in stores (``DEFAULT_MODEL_ID`` for the bundled model)."""
        return self._id

    @property
    def dim(self) -> int:
        """Vector dimension; loads the model."""
        self._load()
        assert self._dim is not None
        return self._dim

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts``: float32 array of shape (len(texts), dim), L2-normalised rows."""
        items = check_texts(texts)
        model = self._load()
        assert self._dim is not None
        if not items:
            return np.zeros((0, self._dim), dtype=np.float32)
        vectors = model.encode(
            items,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return as_vectors(vectors, self._dim)

    def embed_segments(
        self, texts: Sequence[str], spans: Sequence[SegmentSpans]
    ) -> tuple[Vectors, list[Vectors]]:
        """``embed(texts)`` and each text's segment vectors, pooled from the same forward pass (see
        `persona.backends.base.SegmentEmbedder`)."""
        items = check_segment_input(texts, spans)
        model = self._load()
        assert self._dim is not None
        if not items:
            return np.zeros((0, self._dim), dtype=np.float32), []
        outputs = model.encode(
            items,
            batch_size=self.batch_size,
            output_value=None,
            convert_to_numpy=False,
            show_progress_bar=False,
        )
        tokenized = model.tokenizer(
            items, return_offsets_mapping=True, truncation=True, max_length=model.max_seq_length
        )
        own = np.stack([np.asarray(o["sentence_embedding"].float().cpu(), dtype=np.float32) for o in outputs])
        own /= np.maximum(np.linalg.norm(own, axis=1, keepdims=True), 1e-12)
        keys: list[Vectors] = []
        for i, out in enumerate(outputs):
            if not spans[i]:
                keys.append(np.zeros((0, self._dim), dtype=np.float32))
                continue
            offsets = [tuple(o) for o in tokenized["offset_mapping"][i]]
            tokens = out["token_embeddings"][: len(offsets)].float().cpu().numpy()
            keys.append(pool_segments(tokens, offsets, spans[i]))
        return as_vectors(own, self._dim), keys

    def _source(self) -> str:
        """What to hand to ``SentenceTransformer``: the bundled directory for the default model."""
        if is_default_model(self._spec):
            bundled = bundled_model_dir()
            if bundled is not None:
                return str(bundled)
        return str(self._spec)

    def _load(self) -> Any:
        """The loaded ``SentenceTransformer`` (loaded once, under a lock)."""
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                self._model = self._load_locked()
        return self._model

    def _load_locked(self) -> Any:
        ensure_offline_env()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MissingDependencyError(
                "SentenceTransformerEmbedder needs sentence-transformers: pip install sentence-transformers"
            ) from exc
        source = self._source()
        try:
            with no_progress_bars():
                model = SentenceTransformer(source, device=self.device)
        except OSError as exc:
            raise MissingDependencyError(load_hint(self._spec, source, exc)) from exc
        model.eval()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = getter()
        if dim is None:  # e.g. a custom last module: ask the model itself
            dim = int(model.encode(["dimension probe"], convert_to_numpy=True).shape[1])
        self._dim = int(dim)
        return model
