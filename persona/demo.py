"""The main job, end to end and offline: ``python -m persona.demo``.

Opens a store (``$PERSONA_HOME``, else a temporary directory), remembers a few things about a demo user,
shows the prompt persona renders for a question (with its tokens per section), then streams the answer of
the local model (SmolLM2-135M through llama.cpp). Without the ``local`` extra it says how to install it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import LLMError, MissingDependencyError

if TYPE_CHECKING:
    from .prompting.builder import RenderedPrompt

__all__ = ["main"]

USER = "ana"
MEMORIES: list[dict[str, Any]] = [
    {"text": "My name is Ana.", "kind": "profile"},
    {"text": "I live in Lisbon.", "kind": "profile"},
    {"text": "I'm allergic to peanuts.", "kind": "fact", "importance": 0.9},
    {"text": "I'm vegetarian.", "kind": "profile"},
    {"text": "I prefer short answers with a list.", "kind": "preference"},
    {"text": "Last week I cooked a mushroom risotto and loved it.", "kind": "episode"},
]
QUESTION = "What should I cook for dinner tonight?"


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m persona.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--message", default=QUESTION, help="what the demo user asks")
    parser.add_argument("--model", default=None, help="any litellm model (default: local/smollm2)")
    parser.add_argument("--strategy", default="hybrid", help="prompt strategy (default: hybrid)")
    parser.add_argument("--max-tokens", type=int, default=120, help="length limit of the answer")
    parser.add_argument("--fake-embedder", action="store_true", help="use the hashing test embedder (fast)")
    return parser.parse_args(argv)


def _show_prompt(prompt: RenderedPrompt) -> None:
    print("=" * 78)
    print(f"Prompt: strategy {prompt.strategy!r}, model {prompt.model}, tokenizer {prompt.tokenizer}")
    print("=" * 78)
    for message in prompt.messages:
        print(f"[{message['role']}]")
        print(message["content"])
        print()
    print(f"{'section':<14}{'tokens':>8}")
    for name, tokens in prompt.section_tokens.items():
        print(f"{name:<14}{tokens:>8}")
    print(f"{'total':<14}{prompt.tokens:>8}  (budget {prompt.budget})")
    print(f"memories included: {len(prompt.memory_ids)}; left out: {sum(map(len, prompt.left_out.values()))}")
    print()


def run(path: Path, args: argparse.Namespace, *, temporary: bool = False) -> int:
    from . import Persona

    embedder = None
    if args.fake_embedder:
        from .testing import FakeEmbedder

        embedder = FakeEmbedder()
    with Persona(path, embedder=embedder, model=args.model) as p:
        if not p.list(USER, limit=1):
            start = p.now() - timedelta(days=14)
            p.add_many(USER, [{**m, "created_at": start + timedelta(days=i)} for i, m in enumerate(MEMORIES)])
        kept = "temporary: deleted when the demo ends; set PERSONA_HOME to keep one" if temporary else "kept"
        print(f"Store: {path} ({kept}; {len(p.list(USER))} memories for user {USER!r})\n")
        prompt = p.prompt(USER, args.message, strategy=args.strategy)
        _show_prompt(prompt)
        print(f"[user] {args.message}\n[assistant] ", end="", flush=True)
        try:
            stream = p.chat(
                USER,
                args.message,
                strategy=args.strategy,
                stream=True,
                max_tokens=args.max_tokens,
                temperature=0.3,
            )
            for chunk in stream:
                print(chunk, end="", flush=True)
        except MissingDependencyError as exc:
            print(f"\n\nNo answer: {exc}")
            return 0
        except LLMError as exc:
            print(f"\n\nThe model call failed: {exc}")
            return 1
        print("\n")
        reply = stream.reply
        if reply is not None:
            out = reply.usage.get("completion_tokens", 0)
            speed = out / reply.latency if reply.latency else 0.0
            print(f"reply {reply.id[:8]}: {out} tokens in {reply.latency:.1f} s ({speed:.1f} tokens/s)")
    where = "in the temporary store (gone when the demo ends)" if temporary else f"in {path}"
    print(f"The turn was learned {where}: the question as an episode, the answer as transcript only.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _args(argv)
    started = time.perf_counter()
    home = os.environ.get("PERSONA_HOME")
    if home:
        code = run(Path(home).expanduser(), args)
    else:
        with tempfile.TemporaryDirectory(prefix="persona-demo-") as tmp:
            code = run(Path(tmp) / "store", args, temporary=True)
    print(f"({datetime.now(timezone.utc):%H:%M:%S} UTC, {time.perf_counter() - started:.1f} s in all)")
    return code


if __name__ == "__main__":
    sys.exit(main())
