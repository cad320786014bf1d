"""all-MiniLM-L6-v2 (or any Transformer + mean-pooling sentence-transformers model) on ONNX Runtime.

The ONNX file is exported from the local weights once, into ``$PERSONA_CACHE_DIR/onnx/`` (default: the
platform cache directory), written atomically; nothing is downloaded. Same vectors as sentence-transformers
(max abs difference < 1e-4) and the same ``id``, several times faster for one short query.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import inspect
import io
import json
import logging
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from persona._env import ensure_offline_env
from persona.backends.base import SegmentSpans, Vectors, pool_segments
from persona.backends.hf_models import (
    BUNDLED_PIP,
    DEFAULT_MODEL_ID,
    as_vectors,
    bundled_model_dir,
    check_segment_input,
    check_texts,
    is_default_model,
    model_id,
    no_progress_bars,
)
from persona.backends.st_embedder import SentenceTransformerEmbedder
from persona.errors import EmbedderError, InvalidInputError, MissingDependencyError, PersonaError

__all__ = ["OnnxEmbedder"]

logger = logging.getLogger(__name__)

_CACHE_ENV = "PERSONA_CACHE_DIR"
# Bump when the exported graph changes: old cache entries are then ignored (and re-exported).
_EXPORT_VERSION = 2  # 2: also outputs token_embeddings (late chunking)
_OPSET = 17
_SUPPORTED_MODULES = {"Transformer", "Pooling", "Normalize"}


@dataclass(frozen=True)
class _ModelLayout:
    """What the ONNX path needs to know about a sentence-transformers model directory."""

    directory: Path
    dim: int
    max_seq_length: int
    lower_case: bool
    pad_id: int


def _read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def _read_layout(directory: Path) -> _ModelLayout:
    """Check that ``directory`` is Transformer + mean Pooling (+ Normalize), the shape the ONNX path runs."""
    unsupported = (
        f"OnnxEmbedder runs sentence-transformers models made of Transformer + mean Pooling (+ Normalize) "
        f"with a tokenizer.json; {directory} is not one. Use SentenceTransformerEmbedder for it."
    )
    try:
        modules = _read_json(directory / "modules.json")
        pooling = _read_json(directory / "1_Pooling" / "config.json")
        config = _read_json(directory / "config.json")
        st_config_path = directory / "sentence_bert_config.json"
        st_config = _read_json(st_config_path) if st_config_path.is_file() else {}
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"{unsupported} ({exc})") from exc
    kinds = {str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules}
    mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
        v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens"
    )
    if not kinds <= _SUPPORTED_MODULES or not mean_only or not (directory / "tokenizer.json").is_file():
        raise InvalidInputError(unsupported)
    max_len = st_config.get("max_seq_length")
    if max_len is None:  # what sentence-transformers does without a max_seq_length
        tok_config_path = directory / "tokenizer_config.json"
        tok_config = _read_json(tok_config_path) if tok_config_path.is_file() else {}
        max_len = min(
            int(tok_config.get("model_max_length", 512)), int(config.get("max_position_embeddings", 512))
        )
    return _ModelLayout(
        directory=directory,
        dim=int(pooling.get("word_embedding_dimension", config["hidden_size"])),
        max_seq_length=int(max_len),
        lower_case=bool(st_config.get("do_lower_case", False)),
        pad_id=int(config.get("pad_token_id") or 0),
    )


def _cache_root(cache_dir: str | Path | None) -> Path:
    """Where persona caches derived files: the argument, else ``$PERSONA_CACHE_DIR``, else the platform's."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(_CACHE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("persona"))


def _cache_key(model_id: str, directory: Path) -> str:
    """Names one export: the model id, its weights (path, size, mtime) and the export format version."""
    parts = [model_id, str(directory.resolve()), f"v{_EXPORT_VERSION}", f"opset{_OPSET}"]
    for name in ("model.safetensors", "pytorch_model.bin"):
        weights = directory / name
        if weights.is_file():
            st = weights.stat()
            parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path``, fsync it, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0o600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _usable_cpus() -> int:
    """CPUs this process may run on (respects taskset and cgroup affinity), at most 8."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        count = os.cpu_count() or 1
    return max(1, min(count, 8))


def _cache_error(path: Path, exc: OSError) -> EmbedderError:
    return EmbedderError(
        f"Cannot write the ONNX model cache at {path.parent} ({exc}). "
        f"Set {_CACHE_ENV} to a writable directory."
    )


def _export_onnx(layout: _ModelLayout) -> bytes:
    """Export the transformer with mean pooling and L2 normalisation built in; returns the ONNX bytes.

    Inputs ``input_ids``, ``attention_mask`` (and ``token_type_ids`` when the model has them), dynamic
    batch and sequence axes; outputs ``sentence_embedding`` (batch, dim) and ``token_embeddings`` (batch,
    sequence, dim: the contextual token vectors, for late chunking). Needs torch, transformers, onnx.
    """
    if importlib.util.find_spec("onnx") is None:  # torch's exporter needs it to write the file
        raise MissingDependencyError("Exporting the ONNX model needs the onnx package: pip install onnx")
    ensure_offline_env()
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise MissingDependencyError(
            "Exporting the ONNX model needs torch and transformers: pip install torch transformers"
        ) from exc

    with no_progress_bars():
        try:  # eager attention traces to a plain MatMul/Softmax graph that ORT fuses well
            model = AutoModel.from_pretrained(str(layout.directory), attn_implementation="eager")
        except (TypeError, ValueError):
            model = AutoModel.from_pretrained(str(layout.directory))
    model.eval()
    forward_params = inspect.signature(model.forward).parameters
    use_token_types = "token_type_ids" in forward_params and getattr(model.config, "type_vocab_size", 0) > 0

    class _Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, *token_type_ids: Any) -> Any:
            extra = {"token_type_ids": token_type_ids[0]} if token_type_ids else {}
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1), hidden

    pad = layout.pad_id
    ids = torch.tensor([[5, 6, 7, 8], [5, 6, 7, pad]], dtype=torch.long)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=torch.long)
    args: tuple[Any, ...] = (ids, mask, torch.zeros_like(ids)) if use_token_types else (ids, mask)
    names = ["input_ids", "attention_mask", "token_type_ids"][: len(args)]
    axes: dict[str, dict[int, str]] = {name: {0: "batch", 1: "sequence"} for name in names}
    axes["sentence_embedding"] = {0: "batch"}
    axes["token_embeddings"] = {0: "batch", 1: "sequence"}
    buffer: Any = io.BytesIO()  # torch's stubs say path-only; the exporter accepts a binary file
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shapes that are constant for this model
        torch.onnx.export(
            _Pooled(),
            args,
            buffer,
            input_names=names,
            output_names=["sentence_embedding", "token_embeddings"],
            dynamic_axes=axes,
            opset_version=_OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    data: bytes = buffer.getvalue()
    return data


class OnnxEmbedder:
    """A sentence-transformers model (Transformer + mean pooling) on ONNX Runtime: same vectors, same id.

    The ONNX file is exported once per model into ``<cache>/onnx/<key>/model.onnx`` (written to a temporary
    file, then renamed; a damaged file is exported again). ``model`` is ``DEFAULT_MODEL_ID`` (the bundled
    all-MiniLM-L6-v2) or a local model directory. ``cache_dir`` overrides ``$PERSONA_CACHE_DIR`` and the
    platform cache directory. ``threads``: ONNX Runtime intra-op threads (default: usable CPUs, at most 8).
    With ``fallback=True``, a model that cannot run on ONNX Runtime runs on torch instead, with a warning.
    Loads on first use; safe to share between threads.
    """

    def __init__(
        self,
        model: str | Path = DEFAULT_MODEL_ID,
        *,
        cache_dir: str | Path | None = None,
        batch_size: int = 64,
        threads: int | None = None,
        fallback: bool = False,
    ) -> None:
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be at least 1, got {batch_size}.")
        if threads is not None and threads < 1:
            raise InvalidInputError(f"threads must be at least 1, got {threads}.")
        self._spec = model
        self._id = model_id(model)
        self._cache_dir = cache_dir
        self.batch_size = batch_size
        self.threads = threads if threads is not None else _usable_cpus()
        self.fallback = fallback
        self._layout: _ModelLayout | None = None
        self._session: Any = None
        self._path: Path | None = None
        self._tokenizer: Any = None
        self._input_names: tuple[str, ...] = ()
        self._torch: SentenceTransformerEmbedder | None = None
        self._lock = threading.Lock()
        self.export_seconds: float | None = None
        """Seconds the last ONNX export took in this process (None when the cached file was used)."""

    def __repr__(self) -> str:
        return f"OnnxEmbedder({self._id!r})"

    @property
    def id(self) -> str:
        """The model identifier, equal to ``SentenceTransformerEmbedder``'s for the same model."""
        return self._id

    @property
    def dim(self) -> int:
        """Vector dimension, read from the model's pooling config (cheap: no session is created)."""
        if self._torch is None:
            try:
                return self._model_layout().dim
            except PersonaError:
                if not self.fallback or self._ensure_loaded():
                    raise
        assert self._torch is not None
        return self._torch.dim

    @property
    def model_path(self) -> Path | None:
        """The cached ONNX file this embedder runs (None until loaded, or when running on torch)."""
        return self._path

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts``: float32 array of shape (len(texts), dim), L2-normalised rows."""
        items = check_texts(texts)
        if not self._ensure_loaded():
            assert self._torch is not None
            return self._torch.embed(items)
        layout = self._model_layout()
        if not items:
            return np.zeros((0, layout.dim), dtype=np.float32)
        if layout.lower_case:
            items = [text.lower() for text in items]
        if len(items) == 1:
            return as_vectors(self._run([self._tokenizer.encode(items[0]).ids]), layout.dim)
        encodings = self._tokenizer.encode_batch(items)
        ids = [e.ids for e in encodings]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)  # less padding per batch
        out = np.empty((len(ids), layout.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            out[chunk] = self._run([ids[i] for i in chunk])
        return out

    def embed_segments(
        self, texts: Sequence[str], spans: Sequence[SegmentSpans]
    ) -> tuple[Vectors, list[Vectors]]:
        """``embed(texts)`` and each text's segment vectors, pooled from the same forward pass (see
        `persona.backends.base.SegmentEmbedder`)."""
        items = check_segment_input(texts, spans)
        if not self._ensure_loaded():
            assert self._torch is not None
            return self._torch.embed_segments(items, spans)
        layout = self._model_layout()
        if layout.lower_case:
            items = [text.lower() for text in items]
        encodings = self._tokenizer.encode_batch(items) if items else []
        order = sorted(range(len(items)), key=lambda i: len(encodings[i].ids), reverse=True)
        out = np.empty((len(items), layout.dim), dtype=np.float32)
        keys: list[Vectors] = [np.zeros((0, layout.dim), dtype=np.float32)] * len(items)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            pooled, tokens = self._run([encodings[i].ids for i in chunk], tokens=True)
            out[chunk] = pooled
            for row, i in enumerate(chunk):
                if spans[i]:
                    keys[i] = pool_segments(tokens[row], encodings[i].offsets, spans[i])
        return out, keys

    def _run(self, batch: list[list[int]], *, tokens: bool = False) -> Any:
        """One ONNX Runtime call on token id lists, right-padded to the longest; with ``tokens``, returns
        (sentence embeddings, token embeddings)."""
        width = max(len(row) for row in batch)
        input_ids = np.full((len(batch), width), self._model_layout().pad_id, dtype=np.int64)
        attention_mask = np.zeros((len(batch), width), dtype=np.int64)
        for r, row in enumerate(batch):
            input_ids[r, : len(row)] = row
            attention_mask[r, : len(row)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(attention_mask)
        if tokens:
            return self._session.run(["sentence_embedding", "token_embeddings"], feeds)
        return self._session.run(["sentence_embedding"], feeds)[0]

    # -- loading

    def _model_dir(self) -> Path:
        if is_default_model(self._spec):
            bundled = bundled_model_dir()
            if bundled is None:
                raise MissingDependencyError(
                    f"The default embedding model {DEFAULT_MODEL_ID} ships in a package: {BUNDLED_PIP}"
                )
            return bundled
        path = Path(self._spec).expanduser()
        if not path.is_dir():
            raise InvalidInputError(
                f"OnnxEmbedder needs a local model directory or {DEFAULT_MODEL_ID!r}; {self._spec!r} is "
                "neither. Use SentenceTransformerEmbedder for hub names."
            )
        return path

    def _model_layout(self) -> _ModelLayout:
        if self._layout is None:
            self._layout = _read_layout(self._model_dir())
        return self._layout

    def _onnx_path(self) -> Path:
        layout = self._model_layout()
        key = _cache_key(self._id, layout.directory)
        return _cache_root(self._cache_dir) / "onnx" / key / "model.onnx"

    def _ensure_loaded(self) -> bool:
        """Create the session once; False when running on torch instead (``fallback=True``)."""
        if self._session is not None:
            return True
        if self._torch is not None:
            return False
        with self._lock:
            if self._session is None and self._torch is None:
                try:
                    self._load_locked()
                except Exception as exc:
                    if not self.fallback:
                        raise
                    logger.warning(
                        "ONNX Runtime cannot run %s (%s); using sentence-transformers on torch instead "
                        "(same vectors, slower queries).",
                        self._id,
                        exc,
                    )
                    self._torch = SentenceTransformerEmbedder(self._spec, batch_size=self.batch_size)
        return self._session is not None

    def _load_locked(self) -> None:
        ensure_offline_env()
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise MissingDependencyError(
                "OnnxEmbedder needs onnxruntime and tokenizers: pip install onnxruntime tokenizers"
            ) from exc
        layout = self._model_layout()
        tokenizer = Tokenizer.from_file(str(layout.directory / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=layout.max_seq_length)  # as sentence-transformers does
        tokenizer.no_padding()  # padding is done per batch, to the longest row
        path = self._onnx_path()
        session = self._cached_session(onnxruntime, path)
        if session is None:
            self._export(layout, path)
            session = self._new_session(onnxruntime, path)
        self._tokenizer = tokenizer
        self._input_names = tuple(i.name for i in session.get_inputs())
        self._path = path
        self._session = session  # last: other threads take a set session as "loaded"

    def _cached_session(self, ort: Any, path: Path) -> Any:
        """A session on the cached file, or None when it is missing, truncated or unreadable."""
        try:
            meta = _read_json(path.with_suffix(".json"))  # written after the model: no record, no model
            size = path.stat().st_size
        except (OSError, ValueError):
            return None
        try:
            if meta.get("size") != size or meta.get("version") != _EXPORT_VERSION:
                raise ValueError(f"{size} bytes, its record says {meta.get('size')}")
            return self._new_session(ort, path)
        except Exception as exc:  # onnxruntime raises its own exception types for a damaged file
            logger.warning("Cached ONNX model %s is unusable (%s); exporting it again.", path, exc)
            return None

    def _export(self, layout: _ModelLayout, path: Path) -> None:
        logger.info("Exporting %s to ONNX at %s (once per model).", self._id, path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)  # fail before the slow part
        except OSError as exc:
            raise _cache_error(path, exc) from exc
        for stale in path.parent.glob(".*.tmp"):  # left by a process killed while writing
            with contextlib.suppress(OSError):
                if time.time() - stale.stat().st_mtime > 3600:
                    stale.unlink()
        started = time.perf_counter()
        try:
            data = _export_onnx(layout)
        except EmbedderError:
            raise
        except Exception as exc:
            raise EmbedderError(
                f"Exporting {self._id} to ONNX failed ({type(exc).__name__}: {exc}). Use "
                "SentenceTransformerEmbedder for this model (default_embedder() falls back to it)."
            ) from exc
        meta = {"model_id": self._id, "size": len(data), "version": _EXPORT_VERSION, "opset": _OPSET}
        try:
            _write_atomically(path, data)
            _write_atomically(path.with_suffix(".json"), json.dumps(meta, indent=2).encode())
        except OSError as exc:
            raise _cache_error(path, exc) from exc
        self.export_seconds = time.perf_counter() - started

    def _new_session(self, ort: Any, path: Path) -> Any:
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # No busy-waiting between calls: queries are sporadic and the cores are shared with the rest.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


# --------------------------------------------------------------------------- choosing an embedder
