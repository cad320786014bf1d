"""Calls to language models through litellm: one place for errors, retries and streaming.

Every model goes through ``litellm.completion`` (``local/...`` included: see ``persona.backends.local_llm``).
litellm's exceptions become ``LLMError`` subclasses (defined in `persona.errors`, re-exported here) that say
what to do::

    LLMError
    ├── MissingAPIKeyError           the provider needs a key that is not set
    ├── UnknownModelError            litellm cannot route the model name, or the provider does not know it
    ├── BackendUnreachableError      connection refused, DNS failure, 502/503 (retried)
    ├── LLMTimeoutError              the call took longer than ``timeout`` (also a TimeoutError)
    ├── RateLimitError               429 after all retries
    ├── ContextWindowExceededError   the prompt plus the answer do not fit the model's context
    └── LLMResponseError             anything else the backend rejected or failed on

Retries: rate limits, unreachable backends and 5xx errors are retried ``num_retries`` times (default 2) with
exponential backoff (``retry_backoff`` seconds, doubled per attempt, with jitter, at most 20 s; a
``Retry-After`` header wins). Both are keyword arguments of every call here, and of ``Persona.chat``.
Nothing is retried once a stream has produced text.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .._env import ensure_offline_env
from ..errors import (
    BackendUnreachableError,
    ContextWindowExceededError,
    InvalidInputError,
    LLMResponseError,
    LLMTimeoutError,
    MissingAPIKeyError,
    PersonaError,
    RateLimitError,
    UnknownModelError,
)

__all__ = [
    "DEFAULT_NUM_RETRIES",
    "DEFAULT_RETRY_BACKOFF",
    "AsyncTextStream",
    "BackendUnreachableError",
    "Completion",
    "ContextWindowExceededError",
    "LLMResponseError",
    "LLMTimeoutError",
    "MissingAPIKeyError",
    "RateLimitError",
    "TextStream",
    "UnknownModelError",
    "acomplete",
    "astream",
    "check_model",
    "complete",
    "default_model",
    "map_error",
    "stream",
]

DEFAULT_NUM_RETRIES = 2
DEFAULT_RETRY_BACKOFF = 0.5
MAX_BACKOFF = 20.0

T = TypeVar("T")


@dataclass(frozen=True)
class Completion:
    """One finished answer."""

    text: str
    model: str
    usage: dict[str, int]
    latency: float
    finish_reason: str | None = None


def default_model() -> str:
    """``$PERSONA_MODEL`` if set, else the bundled local model ``local/smollm2``."""
    from .local_llm import DEFAULT_LOCAL_MODEL

    return os.environ.get("PERSONA_MODEL") or DEFAULT_LOCAL_MODEL


def _litellm() -> Any:
    ensure_offline_env()
    import litellm

    from .local_llm import register

    litellm.suppress_debug_info = True  # persona turns failures into its own errors; no banners on stdout
    register()
    return litellm


def check_model(model: object) -> str:
    """``model`` when persona can route it, checked offline (no call): ``local/smollm2``, ``local/<a .gguf
    file>``, or a name litellm knows a provider for. Otherwise ``UnknownModelError`` (``InvalidInputError``
    for a non-string)."""
    from .local_llm import check_local

    if not isinstance(model, str) or not model.strip():
        raise InvalidInputError(f"model must be a model name such as 'local/smollm2', got {model!r}.")
    if model.startswith("local/"):
        check_local(model)
        return model
    litellm = _litellm()
    if model.split("/", 1)[0] in {str(item.get("provider")) for item in litellm.custom_provider_map}:
        return model
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            litellm.get_llm_provider(model)
    except Exception:
        raise UnknownModelError(
            f"unknown model {model!r}: litellm knows no provider for it. Prefix it with its provider (e.g. "
            "'openai/gpt-4o-mini', 'anthropic/claude-3-5-haiku-latest', 'ollama/llama3'; the list: "
            "https://docs.litellm.ai/docs/providers), or use 'local/smollm2' (bundled, offline) or "
            "'local/<path to a .gguf file>'."
        ) from None
    return model


# -- errors --------------------------------------------------------------------------------------------------


def _missing_keys(model: str) -> list[str]:
    try:
        import litellm

        found = litellm.validate_environment(model=model)
        return [str(k) for k in found.get("missing_keys") or []]
    except Exception:
        return []


def _persona_cause(exc: BaseException) -> PersonaError | None:
    """A persona error that litellm wrapped (raised inside the ``local`` provider, say)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, PersonaError):
            return current
        seen.add(id(current))
        nested = getattr(current, "original_exception", None)
        current = nested if isinstance(nested, BaseException) else current.__cause__ or current.__context__
    return None


def map_error(exc: BaseException, model: str, api_base: str | None = None) -> tuple[PersonaError, bool]:
    """The ``LLMError`` for a litellm exception, and whether the call is worth retrying."""
    from litellm import exceptions as lx

    cause = _persona_cause(exc)
    if cause is not None:
        return cause, False

    text = str(exc).strip() or type(exc).__name__
    where = f" at {api_base}" if api_base else ""
    lowered = text.lower()
    if isinstance(exc, lx.ContextWindowExceededError) or "context window" in lowered:
        return ContextWindowExceededError(
            f"{model}: the prompt and answer do not fit the context window. Pass a smaller max_prompt_tokens "
            f"(or max_tokens for the answer), or use a model with a longer context. ({text})"
        ), False
    if isinstance(exc, (lx.AuthenticationError, lx.PermissionDeniedError)) or any(
        s in lowered for s in ("missing credentials", "api_key", "api key")
    ):
        keys = _missing_keys(model)
        hint = f"set {' or '.join(keys)}" if keys else "set the provider's API key environment variable"
        return MissingAPIKeyError(
            f"{model}: the provider rejected the call for lack of a valid API key; {hint}, or pass api_key=... "
            f"(or use model='local/smollm2', which needs none). ({text})"
        ), False
    if isinstance(exc, lx.RateLimitError):
        return RateLimitError(
            f"{model}: rate limited by the provider; wait and retry, or raise num_retries/retry_backoff. ({text})"
        ), True
    if isinstance(exc, (lx.Timeout, TimeoutError)):
        return LLMTimeoutError(
            f"{model}: no answer within the timeout{where}; pass a larger timeout=... or use a faster model."
        ), False
    if isinstance(exc, lx.NotFoundError) or "llm provider not provided" in lowered:
        return UnknownModelError(
            f"unknown model {model!r}: prefix it with its provider (e.g. 'openai/gpt-4o-mini', "
            f"'ollama/llama3', 'local/smollm2'); see https://docs.litellm.ai/docs/providers. ({text})"
        ), False
    if isinstance(exc, (lx.APIConnectionError, lx.ServiceUnavailableError, lx.BadGatewayError)):
        local = model.startswith("local/")
        return BackendUnreachableError(
            f"{model}: cannot reach the backend{where}; check that it is running and that api_base is right. "
            f"({text})"
        ), not local
    if isinstance(exc, lx.InternalServerError):
        return LLMResponseError(f"{model}: the backend failed{where}. ({text})"), True
    return LLMResponseError(f"{model}: the call failed. ({text})"), False


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    try:
        value = headers.get("retry-after")
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _delay(attempt: int, backoff: float, exc: BaseException) -> float:
    hinted = _retry_after(exc)
    if hinted is not None:
        return min(MAX_BACKOFF, max(0.0, hinted))
    base: float = min(MAX_BACKOFF, backoff * (2**attempt))
    return base * (0.5 + random.random() / 2)


@dataclass
class _Call:
    model: str
    messages: list[dict[str, Any]]
    kwargs: dict[str, Any]
    num_retries: int
    backoff: float

    @classmethod
    def make(
        cls,
        model: str | None,
        messages: Sequence[Mapping[str, Any]],
        num_retries: int | None,
        retry_backoff: float | None,
        kwargs: dict[str, Any],
    ) -> _Call:
        model = model or default_model()
        if model.startswith("local/") and "mock_response" not in kwargs:
            from .local_llm import preflight

            preflight(model)
        retries = DEFAULT_NUM_RETRIES if num_retries is None else max(0, int(num_retries))
        backoff = DEFAULT_RETRY_BACKOFF if retry_backoff is None else max(0.0, float(retry_backoff))
        return cls(model, [dict(m) for m in messages], kwargs, retries, backoff)

    def run(self, fn: Callable[[], T]) -> T:
        attempt = 0
        while True:
            try:
                return fn()
            except PersonaError:
                raise
            except Exception as exc:
                error, retryable = map_error(exc, self.model, self.kwargs.get("api_base"))
                if not retryable or attempt >= self.num_retries:
                    raise error from exc
                time.sleep(_delay(attempt, self.backoff, exc))
                attempt += 1

    async def arun(self, fn: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            try:
                return await fn()
            except PersonaError:
                raise
            except Exception as exc:
                error, retryable = map_error(exc, self.model, self.kwargs.get("api_base"))
                if not retryable or attempt >= self.num_retries:
                    raise error from exc
                await asyncio.sleep(_delay(attempt, self.backoff, exc))
                attempt += 1


def _usage(obj: Any) -> dict[str, int]:
    usage = getattr(obj, "usage", None)
    if usage is None:
        return {}
    out: dict[str, int] = {}
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        value = getattr(usage, key, None)
        if value is None and isinstance(usage, Mapping):
            value = usage.get(key)
        if isinstance(value, int):
            out[key] = value
    return out


def _completion(response: Any, model: str, started: float) -> Completion:
    try:
        choice = response.choices[0]
        text = choice.message.content or ""
    except (AttributeError, IndexError) as exc:
        raise LLMResponseError(f"{model}: the backend returned no answer ({exc}).") from exc
    return Completion(
        text=text,
        model=model,
        usage=_usage(response),
        latency=time.perf_counter() - started,
        finish_reason=getattr(choice, "finish_reason", None),
    )


def complete(
    model: str | None,
    messages: Sequence[Mapping[str, Any]],
    *,
    num_retries: int | None = None,
    retry_backoff: float | None = None,
    **kwargs: Any,
) -> Completion:
    """One chat completion. ``kwargs`` go to ``litellm.completion`` (temperature, max_tokens, api_base, ...)."""
    call = _Call.make(model, messages, num_retries, retry_backoff, kwargs)
    litellm = _litellm()
    started = time.perf_counter()
    response = call.run(lambda: litellm.completion(model=call.model, messages=call.messages, **call.kwargs))
    return _completion(response, call.model, started)


async def acomplete(
    model: str | None,
    messages: Sequence[Mapping[str, Any]],
    *,
    num_retries: int | None = None,
    retry_backoff: float | None = None,
    **kwargs: Any,
) -> Completion:
    """The async twin of ``complete``."""
    call = _Call.make(model, messages, num_retries, retry_backoff, kwargs)
    litellm = _litellm()
    started = time.perf_counter()
    response = await call.arun(
        lambda: litellm.acompletion(model=call.model, messages=call.messages, **call.kwargs)
    )
    return _completion(response, call.model, started)


def _delta(chunk: Any) -> str:
    try:
        return chunk.choices[0].delta.content or ""
    except (AttributeError, IndexError):
        return ""


@dataclass
class _StreamState:
    """What a text stream accumulates; the sync and async streams below only differ in how they iterate."""

    model: str
    _call: _Call
    started: float = field(default_factory=time.perf_counter)
    parts: list[str] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    latency: float = 0.0
    done: bool = False

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def _finish(self) -> None:
        self.done = True
        self.latency = time.perf_counter() - self.started

    def _error(self, exc: Exception) -> BaseException:
        return map_error(exc, self.model, self._call.kwargs.get("api_base"))[0]

    def _accept(self, chunk: Any) -> str:
        """Record a chunk; returns its text ('' for chunks without any)."""
        self.usage = _usage(chunk) or self.usage
        text = _delta(chunk)
        if text:
            self.parts.append(text)
        return text


@dataclass
class TextStream(_StreamState):
    """An iterator of text chunks. Once exhausted: ``text``, ``usage``, ``latency``, ``done``."""

    _chunks: Iterator[Any] = field(default_factory=lambda: iter(()))

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        while True:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self._finish()
                raise
            except PersonaError:
                raise
            except Exception as exc:
                raise self._error(exc) from exc
            text = self._accept(chunk)
            if text:
                return text

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if callable(close):
            close()


async def _no_chunks() -> AsyncIterator[Any]:
    return
    yield  # pragma: no cover


@dataclass
class AsyncTextStream(_StreamState):
    """The async twin of ``TextStream``."""

    _chunks: AsyncIterator[Any] = field(default_factory=_no_chunks)

    def __aiter__(self) -> AsyncIterator[str]:
        return self

    async def __anext__(self) -> str:
        while True:
            try:
                chunk = await self._chunks.__anext__()
            except StopAsyncIteration:
                self._finish()
                raise
            except PersonaError:
                raise
            except Exception as exc:
                raise self._error(exc) from exc
            text = self._accept(chunk)
            if text:
                return text

    async def aclose(self) -> None:
        aclose = getattr(self._chunks, "aclose", None)
        if callable(aclose):
            await aclose()


def stream(
    model: str | None,
    messages: Sequence[Mapping[str, Any]],
    *,
    num_retries: int | None = None,
    retry_backoff: float | None = None,
    **kwargs: Any,
) -> TextStream:
    """A streamed chat completion; opening the stream is retried, a broken stream is not."""
    call = _Call.make(model, messages, num_retries, retry_backoff, kwargs)
    litellm = _litellm()
    started = time.perf_counter()
    chunks = call.run(
        lambda: iter(litellm.completion(model=call.model, messages=call.messages, stream=True, **call.kwargs))
    )
    return TextStream(call.model, call, started=started, _chunks=chunks)


async def astream(
    model: str | None,
    messages: Sequence[Mapping[str, Any]],
    *,
    num_retries: int | None = None,
    retry_backoff: float | None = None,
    **kwargs: Any,
) -> AsyncTextStream:
    """The async twin of ``stream``."""
    call = _Call.make(model, messages, num_retries, retry_backoff, kwargs)
    litellm = _litellm()
    started = time.perf_counter()

    async def open_stream() -> AsyncIterator[Any]:
        response = await litellm.acompletion(
            model=call.model, messages=call.messages, stream=True, **call.kwargs
        )
        return response.__aiter__()  # type: ignore[no-any-return]

    chunks = await call.arun(open_stream)
    return AsyncTextStream(call.model, call, started=started, _chunks=chunks)
