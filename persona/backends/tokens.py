"""Token counting and context windows, offline.

A ``TokenCounter`` has one method, ``count(text) -> int``. ``counter_for(model)`` picks, once per model:

1. ``local/...`` models: the GGUF's own vocabulary (llama.cpp, vocab only) when the ``local`` extra is installed;
2. models litellm has a tokenizer for (Claude 2, Llama 2/3, Command R), when that tokenizer is available offline;
3. otherwise tiktoken: the model's own encoding when tiktoken knows the model (``gpt-4o`` -> ``o200k_base``),
   else ``cl100k_base``. Such a count is approximate (``exact=False``) and the default budget keeps a margin.

tiktoken's files come from the copies bundled with litellm (``persona._env.ensure_offline_env``), so nothing is
downloaded.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

from .._env import ensure_offline_env

__all__ = [
    "DEFAULT_CONTEXT_WINDOW",
    "DEFAULT_PROMPT_SHARE",
    "LOCAL_PROMPT_CAP",
    "MESSAGE_OVERHEAD",
    "REPLY_OVERHEAD",
    "CachedCounter",
    "Section",
    "TiktokenCounter",
    "TokenCounter",
    "context_window",
    "count_messages",
    "counter_for",
    "default_budget",
    "is_local",
    "pack",
]

DEFAULT_CONTEXT_WINDOW = 8192
"""Assumed when neither litellm nor the model file says how long the context is."""
DEFAULT_PROMPT_SHARE = 0.5
"""The default prompt budget: this share of the model's context window (the rest is left for the answer)."""
LOCAL_PROMPT_CAP = 2048
"""The default budget of ``local/`` models is at most this (prompt reading time grows with it)."""
APPROXIMATE_MARGIN = 0.9
"""The default budget is scaled by this when the counter is not the model's own tokenizer."""
MESSAGE_OVERHEAD = 4
"""Tokens a chat template adds around each message (role markers, separators); an upper estimate."""
REPLY_OVERHEAD = 3
"""Tokens that prime the assistant's answer."""


@runtime_checkable
class TokenCounter(Protocol):
    """Counts the tokens of a text with one model's tokenizer."""

    def count(self, text: str) -> int: ...


@dataclass(frozen=True)
class TiktokenCounter:
    """A tiktoken encoding (``o200k_base``, ``cl100k_base``, ...); ``exact`` when it is the model's own."""

    encoding: str = "cl100k_base"
    exact: bool = False

    @property
    def name(self) -> str:
        return f"tiktoken:{self.encoding}"

    def count(self, text: str) -> int:
        return len(_encoding(self.encoding).encode_ordinary(text))


class _LiteLLMCounter:
    """A Hugging Face tokenizer that litellm selects for the model (and that is available offline)."""

    exact = True

    def __init__(self, model: str, tokenizer: dict[str, Any]) -> None:
        self.name = f"litellm:{model}"
        self._tokenizer = tokenizer
        self._lock = threading.Lock()

    def count(self, text: str) -> int:
        import litellm

        with self._lock:
            return len(litellm.utils.encode(model="", text=text, custom_tokenizer=self._tokenizer))


class _LocalCounter:
    """The vocabulary inside a GGUF file (llama.cpp), for ``local/...`` models."""

    exact = True

    def __init__(self, model: str) -> None:
        self.name = f"gguf:{model}"
        self._model = model

    def count(self, text: str) -> int:
        from .local_llm import count_tokens

        return count_tokens(self._model, text)


class CachedCounter:
    """Remembers the counts of the last ``size`` texts (memories are counted again at every prompt)."""

    def __init__(self, inner: TokenCounter, size: int = 100_000) -> None:
        self.inner = inner
        self.name = str(getattr(inner, "name", type(inner).__name__))
        self.exact = bool(getattr(inner, "exact", False))
        self._count = lru_cache(maxsize=size)(inner.count)

    def count(self, text: str) -> int:
        return int(self._count(text))


@lru_cache(maxsize=8)
def _encoding(name: str) -> Any:
    ensure_offline_env()
    import tiktoken

    return tiktoken.get_encoding(name)


def _bare(model: str) -> str:
    """``openai/gpt-4o`` -> ``gpt-4o``; ``azure/my-deployment`` -> ``my-deployment``."""
    return model.rsplit("/", 1)[-1]


def _tiktoken_for(model: str) -> TiktokenCounter:
    ensure_offline_env()
    import tiktoken

    try:
        name = tiktoken.encoding_name_for_model(_bare(model))
    except KeyError:
        return TiktokenCounter("cl100k_base", exact=False)
    if name in ("o200k_base", "cl100k_base"):
        return TiktokenCounter(name, exact=True)
    return TiktokenCounter("cl100k_base", exact=False)


def _litellm_counter(model: str) -> _LiteLLMCounter | None:
    ensure_offline_env()
    import litellm

    try:
        kind = litellm.utils.huggingface_tokenizer_kind(_bare(model))
    except Exception:  # an older or newer litellm without this helper
        return None
    if kind is None:
        return None
    try:
        tokenizer = litellm.utils.select_tokenizer(model=_bare(model))
    except Exception:
        return None
    if tokenizer.get("type") != "huggingface_tokenizer":
        return None  # litellm fell back to tiktoken itself (the tokenizer is not available offline)
    return _LiteLLMCounter(model, dict(tokenizer))


def is_local(model: str) -> bool:
    return model.startswith("local/")


@lru_cache(maxsize=64)
def counter_for(model: str) -> CachedCounter:
    """The best offline token counter for ``model``, with a cache of counts (one per model per process)."""
    if is_local(model):
        from .local_llm import llama_cpp_available

        if llama_cpp_available():
            return CachedCounter(_LocalCounter(model))
        return CachedCounter(TiktokenCounter("cl100k_base", exact=False))
    return CachedCounter(_litellm_counter(model) or _tiktoken_for(model))


def count_messages(counter: TokenCounter, messages: Sequence[Mapping[str, Any]]) -> int:
    """Tokens of a chat: each message's content plus ``MESSAGE_OVERHEAD``, plus ``REPLY_OVERHEAD``."""
    total = REPLY_OVERHEAD
    for message in messages:
        content = message.get("content") or ""
        total += counter.count(content if isinstance(content, str) else str(content)) + MESSAGE_OVERHEAD
    return total


@lru_cache(maxsize=64)
def context_window(model: str) -> int:
    """The model's input context length: the GGUF's (local), litellm's model map, else 8192."""
    if is_local(model):
        from .local_llm import context_length

        return context_length(model)
    ensure_offline_env()
    import litellm

    try:
        # litellm prints a banner to stdout for models it cannot route; keep the user's terminal clean.
        with contextlib.redirect_stdout(io.StringIO()):
            info = litellm.get_model_info(model)
    except Exception:
        return DEFAULT_CONTEXT_WINDOW
    window = info.get("max_input_tokens") or info.get("max_tokens")
    return int(window) if window else DEFAULT_CONTEXT_WINDOW


def default_budget(model: str, counter: TokenCounter | None = None) -> int:
    """The prompt budget when none is given: ``DEFAULT_PROMPT_SHARE`` of the context window (minus a margin
    when the count is approximate); at most ``LOCAL_PROMPT_CAP`` for ``local/`` models, which read a prompt
    at a few hundred tokens per second on a CPU."""
    counter = counter if counter is not None else counter_for(model)
    share = DEFAULT_PROMPT_SHARE * (1.0 if getattr(counter, "exact", False) else APPROXIMATE_MARGIN)
    budget = max(256, int(context_window(model) * share))
    return min(budget, LOCAL_PROMPT_CAP) if is_local(model) else budget


# -- packing -------------------------------------------------------------------------------------------------

MAX_MISSES = 32
"""A section stops looking after this many candidates in a row that do not fit."""


@dataclass
class Section:
    """Candidates for one part of a prompt, best first: ``(key, tokens, payload)``; ``heading`` is paid once.

    A ``contiguous`` section (turns of a conversation) stops at the first candidate that does not fit; the
    others skip it and try the next ones. A key is used at most once across sections.
    """

    name: str
    share: float
    candidates: list[tuple[str, int, Any]]
    heading: int = 0
    contiguous: bool = False
    chosen: list[int] = field(default_factory=list)

    def fill(self, cap: int, taken: set[str], log: list[tuple[str, int]]) -> int:
        used, misses = 0, 0
        chosen = set(self.chosen)
        for index, (key, cost, _) in enumerate(self.candidates):
            if index in chosen or key in taken:
                continue
            need = cost + (0 if self.chosen else self.heading)
            if need <= cap - used:
                self.chosen.append(index)
                chosen.add(index)
                taken.add(key)
                log.append((self.name, index))
                used += need
                misses = 0
            elif self.contiguous:
                break
            else:
                misses += 1
                if misses >= MAX_MISSES:
                    break
        return used

    def payloads(self) -> list[Any]:
        """The chosen payloads, best first."""
        return [self.candidates[i][2] for i in sorted(self.chosen)]


def pack(sections: list[Section], room: int, log: list[tuple[str, int]], *, topping_up: bool = False) -> None:
    """Fill each section up to its share of ``room``, then offer what is left to all, in order.

    ``log`` records (section, index) in the order candidates were taken: the last one is the first to drop.
    ``topping_up`` skips the share round (used to hand out room the estimates left unused).
    """
    total = sum(s.share for s in sections) or 1.0
    taken = {s.candidates[i][0] for s in sections for i in s.chosen}
    used = 0
    if not topping_up:
        for section in sections:
            used += section.fill(int(room * section.share / total), taken, log)
    for section in sections:
        used += section.fill(room - used, taken, log)
