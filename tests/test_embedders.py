"""The built-in embedders: ONNX Runtime and sentence-transformers agree, the ONNX cache heals itself,
and resolve_embedder maps every kind of spec. Tests marked slow load the real model (offline)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from persona.backends.base import Embedder, Vectors
from persona.backends.embedders import (
    DEFAULT_MODEL_ID,
    SentenceTransformerEmbedder,
    default_embedder,
    resolve_embedder,
)
from persona.backends.faiss_index import _single_threaded
from persona.backends.hf_models import bundled_model_dir
from persona.backends.onnx_embedder import OnnxEmbedder
from persona.errors import InvalidInputError, MissingDependencyError, PersonaError

DATA_DIR = Path(os.environ.get("PERSONA_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
LOCOMO = DATA_DIR / "locomo" / "locomo_dev.json"

EDGE_CASES = [
    "",
    " ",
    "  leading and trailing spaces  ",
    "tab\tnewline\nend",
    "Café naïve résumé, 日本語のテキスト, emoji 😀🎉",
    "UPPER CASE and lower case and MiXeD",
    "word " * 400,  # longer than max_seq_length (256 tokens): truncated the same way
    "I adopted a rescue dog named Biscuit last spring.",
    "What did Melanie paint after her trip to the lake?",
    "My sister's wedding is on 12 June 2024 in Lisbon; I'm giving the toast.",
    "Allergic to peanuts. Vegetarian since 2019. Prefers tea over coffee.",
]


def _sentences() -> list[str]:
    """A few hundred real sentences (LoCoMo turns when the file is present) plus edge cases."""
    texts = list(EDGE_CASES)
    if LOCOMO.is_file():
        samples = json.loads(LOCOMO.read_text(encoding="utf-8"))
        turns = [
            turn["text"]
            for sample in samples
            for value in sample["conversation"].values()
            if isinstance(value, list)
            for turn in value
        ]
        texts += turns[::7][:300]
    else:  # still a few hundred distinct sentences of varied length
        subjects = ["I", "My brother", "Our team", "The neighbour's cat", "Caroline"]
        verbs = ["visited", "painted", "forgot about", "wrote a long essay on", "keeps talking about"]
        objects = ["the museum", "a sunset over the lake", "the dentist appointment", "jazz", "Lisbon"]
        texts += [
            f"{s} {v} {o} on day {i}."
            for i, (s, v, o) in enumerate((s, v, o) for s in subjects for v in verbs for o in objects)
        ] * 2
    return texts


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("persona-cache")


@pytest.fixture(scope="module")
def onnx_embedder(cache_dir: Path) -> OnnxEmbedder:
    return OnnxEmbedder(cache_dir=cache_dir)


@pytest.fixture(scope="module")
def st_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(DEFAULT_MODEL_ID)


# --------------------------------------------------------------------------- the real model


@pytest.mark.slow
def test_onnx_matches_sentence_transformers(
    onnx_embedder: OnnxEmbedder, st_embedder: SentenceTransformerEmbedder
) -> None:
    texts = _sentences()
    assert len(texts) >= 100
    fast, reference = onnx_embedder.embed(texts), st_embedder.embed(texts)
    assert fast.shape == reference.shape == (len(texts), 384)
    assert float(np.abs(fast - reference).max()) < 1e-4
    # one at a time (no padding) gives the same vectors as in a padded batch
    singles = np.vstack([onnx_embedder.embed([t]) for t in texts[:20]])
    assert float(np.abs(singles - fast[:20]).max()) < 1e-5


@pytest.mark.slow
def test_late_chunked_segments_agree_between_onnx_and_sentence_transformers(
    onnx_embedder: OnnxEmbedder, st_embedder: SentenceTransformerEmbedder
) -> None:
    from persona.retrieval.sentences import segment_spans

    split = [t for t in _sentences() if segment_spans(t)][:60]
    texts = [*split, "one short text", "word " * 400 + ". Tail here ok."]
    spans = [segment_spans(t) for t in texts]
    fast_own, fast_keys = onnx_embedder.embed_segments(texts, spans)
    ref_own, ref_keys = st_embedder.embed_segments(texts, spans)
    assert float(np.abs(fast_own - onnx_embedder.embed(texts)).max()) < 1e-5  # the same vectors as embed()
    assert float(np.abs(fast_own - ref_own).max()) < 1e-4
    assert len(fast_keys) == len(ref_keys) == len(texts)
    for text, found, fast, ref in zip(texts, spans, fast_keys, ref_keys, strict=True):
        if text.startswith("word "):
            assert len(found) == 2 and len(fast) == len(ref) == 1  # the tail sentence was cut off
            continue
        if not found:
            assert len(fast) == len(ref) == 0
            continue
        assert fast.shape == ref.shape == (len(found), 384)
        assert float(np.abs(fast - ref).max()) < 1e-4
        np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    # a sentence key is closer to its own sentence embedded alone than to the other sentences of the text
    text, found, keys = texts[0], spans[0], fast_keys[0]
    alone = onnx_embedder.embed([" ".join(text[a:b] for a, b in parts) for parts in found])
    similarity = keys @ alone.T
    assert all(int(np.argmax(similarity[i])) == i for i in range(len(found)))


@pytest.mark.slow
def test_ids_dims_and_normalised_rows(
    onnx_embedder: OnnxEmbedder, st_embedder: SentenceTransformerEmbedder
) -> None:
    assert onnx_embedder.id == st_embedder.id == DEFAULT_MODEL_ID
    assert onnx_embedder.dim == st_embedder.dim == 384
    for embedder in (onnx_embedder, st_embedder):
        assert isinstance(embedder, Embedder)
        vectors = embedder.embed(["hello there", "a second, somewhat longer sentence about dogs"])
        assert vectors.dtype == np.float32
        assert vectors.flags["C_CONTIGUOUS"]
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
def test_empty_list_gives_zero_rows(
    onnx_embedder: OnnxEmbedder, st_embedder: SentenceTransformerEmbedder
) -> None:
    for embedder in (onnx_embedder, st_embedder):
        empty = embedder.embed([])
        assert empty.shape == (0, 384)
        assert empty.dtype == np.float32


@pytest.mark.slow
def test_bad_texts_are_rejected(onnx_embedder: OnnxEmbedder) -> None:
    with pytest.raises(InvalidInputError, match="not one string"):
        onnx_embedder.embed("a bare string")
    with pytest.raises(InvalidInputError, match="item 1"):
        onnx_embedder.embed(["fine", 3])  # type: ignore[list-item]


@pytest.mark.slow
def test_cached_export_is_reused(onnx_embedder: OnnxEmbedder, cache_dir: Path) -> None:
    onnx_embedder.embed(["load it"])
    path = onnx_embedder.model_path
    assert path is not None and path.is_file()
    assert path.is_relative_to(cache_dir / "onnx")
    again = OnnxEmbedder(cache_dir=cache_dir)
    again.embed(["load it"])
    assert again.export_seconds is None  # no second export
    assert again.model_path == path
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_damaged_cache_is_exported_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    monkeypatch.setenv("PERSONA_CACHE_DIR", str(tmp_path))  # the environment variable is honoured
    first = OnnxEmbedder()
    expected = first.embed(["my dog is called Biscuit"])
    path = first.model_path
    assert path is not None and path.is_relative_to(tmp_path)
    size = path.stat().st_size
    if damage == "truncate":
        with path.open("r+b") as f:
            f.truncate(size // 2)
    else:  # same size, so only loading it can tell
        path.write_bytes(b"\0" * size)

    second = OnnxEmbedder()
    with caplog.at_level(logging.WARNING, logger="persona.backends.embedders"):
        vectors = second.embed(["my dog is called Biscuit"])
    assert second.export_seconds is not None
    assert "exporting it again" in caplog.text
    assert path.stat().st_size == size
    np.testing.assert_allclose(vectors, expected, atol=1e-6)


@pytest.mark.slow
def test_concurrent_first_use_loads_once(cache_dir: Path, onnx_embedder: OnnxEmbedder) -> None:
    onnx_embedder.embed(["make sure the export exists"])
    shared = OnnxEmbedder(cache_dir=cache_dir)
    texts = ["one", "two sentences here", "three is a crowd"]
    results: list[Vectors] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(shared.embed(texts))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 4
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])


@pytest.mark.slow
def test_fallback_to_torch_when_onnx_cannot_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, st_embedder: SentenceTransformerEmbedder
) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("the cache directory cannot be created here")
    with pytest.raises(PersonaError, match="PERSONA_CACHE_DIR"):
        OnnxEmbedder(cache_dir=not_a_dir).embed(["x"])

    embedder = OnnxEmbedder(cache_dir=not_a_dir, fallback=True)
    with caplog.at_level(logging.WARNING, logger="persona.backends.embedders"):
        vectors = embedder.embed(["falls back to torch"])
    assert "using sentence-transformers on torch" in caplog.text
    assert embedder.model_path is None
    assert embedder.id == DEFAULT_MODEL_ID and embedder.dim == 384
    np.testing.assert_allclose(vectors, st_embedder.embed(["falls back to torch"]), atol=1e-6)


@pytest.mark.slow
def test_unloadable_model_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    missing = SentenceTransformerEmbedder(tmp_path / "no-such-model")
    assert missing.id == "no-such-model"
    with pytest.raises(MissingDependencyError, match="no-such-model"):
        missing.embed(["x"])


# --------------------------------------------------------------------------- resolve_embedder (no model load)


class _Fake:
    """Has the protocol; reading ``dim`` would be a mistake (it would load a model)."""

    id = "fake"

    @property
    def dim(self) -> int:
        raise AssertionError("resolve_embedder must not read dim")

    def embed(self, texts: Sequence[str]) -> Vectors:
        return np.zeros((len(texts), 3), dtype=np.float32)


def test_resolve_none_and_default_names_give_the_shared_default() -> None:
    default = resolve_embedder(None)
    assert default is default_embedder()
    assert isinstance(default, OnnxEmbedder)
    assert default.id == DEFAULT_MODEL_ID
    bundled = bundled_model_dir()
    assert bundled is not None
    for spec in (DEFAULT_MODEL_ID, "all-MiniLM-L6-v2", bundled, str(bundled)):
        assert resolve_embedder(spec) is default


def test_resolve_other_names_and_paths(tmp_path: Path) -> None:
    by_name = resolve_embedder("sentence-transformers/all-mpnet-base-v2")
    assert isinstance(by_name, SentenceTransformerEmbedder)
    assert by_name.id == "sentence-transformers/all-mpnet-base-v2"
    model_dir = tmp_path / "my-finetuned-model"
    model_dir.mkdir()
    by_path = resolve_embedder(model_dir)
    assert isinstance(by_path, SentenceTransformerEmbedder)
    assert by_path.id == "my-finetuned-model"
    snapshot = tmp_path / "models--org--name" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    assert resolve_embedder(str(snapshot)).id == "org/name"


def test_resolve_protocol_object_is_returned_as_is() -> None:
    fake = _Fake()
    assert resolve_embedder(fake) is fake


@pytest.mark.parametrize("spec", [42, "", "   ", object(), b"bytes"])
def test_resolve_rejects_anything_else(spec: object) -> None:
    with pytest.raises(InvalidInputError):
        resolve_embedder(spec)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- FAISS and torch threads

_THREADS_PROBE = """
import numpy as np
import torch  # first: its libgomp is then global, and FAISS shares torch's OpenMP runtime
torch.set_num_threads(2)
assert torch.get_num_threads() == 2  # torch has set up this thread (it does so once, lazily)
from persona.backends.faiss_index import FlatIndex, inner_products
index = FlatIndex(8)
index.add(np.eye(8, dtype=np.float32))
index.scores(np.ones(8, dtype=np.float32))
inner_products(index.vectors(), np.ones(8, dtype=np.float32))
print(torch.get_num_threads())
"""


@pytest.mark.slow
def test_faiss_setup_leaves_torch_threads_alone() -> None:
    """FAISS runs single-threaded only inside its own calls; torch keeps its intra-op thread count.

    In a fresh process so that torch is loaded before FAISS, the order in which they share one OpenMP
    runtime (a process-wide ``omp_set_num_threads(1)`` printed 1 here)."""
    pytest.importorskip("torch")
    out = subprocess.run(
        [sys.executable, "-c", _THREADS_PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.split()[-1] == "2", out.stdout + out.stderr


def test_faiss_is_single_threaded_inside_its_calls_and_restored_after() -> None:
    faiss = pytest.importorskip("faiss")
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(2)
    try:
        with _single_threaded(faiss):
            assert faiss.omp_get_max_threads() == 1
        assert faiss.omp_get_max_threads() == 2
    finally:
        faiss.omp_set_num_threads(before)
