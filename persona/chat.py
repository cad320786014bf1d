"""One chat turn: call the model with a rendered prompt, and return the `Reply` (whole or streamed).

The client renders the prompt (`persona.prompting`), calls `complete_turn` / `acomplete_turn` here, and hands
the finished `Reply` to learning (`persona.learning.learner.Learner.submit`) through ``on_reply``. A failed
model call raises an ``LLMError`` and calls nothing; a stream that is not read to the end (or fails) never
finishes, so nothing is learned from it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .prompting.builder import RenderedPrompt

if TYPE_CHECKING:
    from .backends import llm

__all__ = ["AsyncReplyStream", "Reply", "ReplyStream", "acomplete_turn", "complete_turn"]


@dataclass(frozen=True)
class Reply:
    """One answer, and what it was built from."""

    id: str
    text: str
    model: str
    usage: dict[str, int]
    latency: float
    """Seconds from the call to the last token (the model's time; prompt assembly not included)."""
    memory_ids: list[str]
    prompt: RenderedPrompt
    user_id: str
    created_at: datetime
    learned: bool
    """False for ``learn=False`` turns (and turns of a user forgotten while the model answered): nothing was
    stored, and ``feedback`` cannot refer to this reply."""
    arm: str | None = None
    """With ``strategy="auto"``: the arm that rendered the prompt (docs/bandit.md); else None."""
    exploring: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "model": self.model,
            "usage": dict(self.usage),
            "latency": self.latency,
            "memory_ids": list(self.memory_ids),
            "user_id": self.user_id,
            "created_at": self.created_at.isoformat(),
            "learned": self.learned,
            "arm": self.arm,
            "exploring": self.exploring,
            "prompt": self.prompt.to_dict(),
        }


def _usage(usage: dict[str, int], prompt: RenderedPrompt, text: str) -> dict[str, int]:
    """litellm's usage when the backend reported it, else our own count (streams often do not report it)."""
    if usage.get("completion_tokens") is not None and usage.get("prompt_tokens"):
        return dict(usage)
    from .backends.tokens import counter_for

    completion = usage.get("completion_tokens") or counter_for(prompt.model).count(text)
    return {
        "prompt_tokens": prompt.tokens,
        "completion_tokens": completion,
        "total_tokens": prompt.tokens + completion,
    }


class ReplyStream:
    """The text of a reply as it arrives. ``reply`` is the ``Reply`` once the stream is exhausted; ``prompt``
    is what the model was sent (its ``memory_ids`` are known before the first chunk).

    A stream that is not read to the end (or fails) stores nothing.
    """

    def __init__(
        self,
        chunks: llm.TextStream,
        finish: Callable[[str, dict[str, int], float], Reply],
        prompt: RenderedPrompt | None = None,
    ) -> None:
        self._chunks = chunks
        self._finish = finish
        self.prompt = prompt
        self.reply: Reply | None = None

    @property
    def text(self) -> str:
        return self._chunks.text

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        try:
            return next(self._chunks)
        except StopIteration:
            if self.reply is None:
                self.reply = self._finish(self._chunks.text, self._chunks.usage, self._chunks.latency)
            raise

    def close(self) -> None:
        self._chunks.close()


class AsyncReplyStream:
    """The async twin of ``ReplyStream``: ``async for chunk in stream``."""

    def __init__(
        self, chunks: llm.AsyncTextStream, finish: Callable[[str, dict[str, int], float], Reply]
    ) -> None:
        self._chunks = chunks
        self._finish = finish
        self.reply: Reply | None = None

    @property
    def text(self) -> str:
        return self._chunks.text

    def __aiter__(self) -> AsyncIterator[str]:
        return self

    async def __anext__(self) -> str:
        try:
            return await self._chunks.__anext__()
        except StopAsyncIteration:
            if self.reply is None:
                self.reply = self._finish(self._chunks.text, self._chunks.usage, self._chunks.latency)
            raise

    async def aclose(self) -> None:
        await self._chunks.aclose()


OnReply = Callable[["Reply"], bool]
"""Gets each finished reply; returns whether the turn will be learned (False: the user was forgotten)."""


def _finisher(
    user_id: str,
    prompt: RenderedPrompt,
    at: datetime,
    learn: bool,
    on_reply: OnReply | None,
    reply_id: str | None = None,
) -> Callable[[str, dict[str, int], float], Reply]:
    def finish(text: str, usage: dict[str, int], latency: float) -> Reply:
        reply = Reply(
            id=reply_id or uuid.uuid4().hex,
            text=text,
            model=prompt.model,
            usage=_usage(usage, prompt, text),
            latency=latency,
            memory_ids=list(prompt.memory_ids),
            prompt=prompt,
            user_id=user_id,
            created_at=at,
            learned=learn,
            arm=prompt.arm,
            exploring=prompt.exploring,
        )
        if on_reply is not None and not on_reply(reply):
            reply = replace(reply, learned=False)
        return reply

    return finish


def complete_turn(
    user_id: str,
    prompt: RenderedPrompt,
    *,
    at: datetime,
    learn: bool,
    stream: bool,
    on_reply: OnReply | None = None,
    reply_id: str | None = None,
    **llm_kwargs: Any,
) -> Reply | ReplyStream:
    """Call ``prompt.model`` with ``prompt.messages``; ``on_reply`` gets the finished reply. ``llm_kwargs``
    go to litellm for this call (temperature, max_tokens, api_base, api_key, timeout, mock_response, ...;
    num_retries and retry_backoff set persona's retries). ``reply_id`` is the reply's id (default: a new
    one; the client passes the id its disclosure record names)."""
    from .backends import llm  # litellm helpers and asyncio: loaded on the first model call

    finish = _finisher(user_id, prompt, at, learn, on_reply, reply_id)
    if stream:
        return ReplyStream(llm.stream(prompt.model, prompt.messages, **llm_kwargs), finish, prompt)
    done = llm.complete(prompt.model, prompt.messages, **llm_kwargs)
    return finish(done.text, done.usage, done.latency)


async def acomplete_turn(
    user_id: str,
    prompt: RenderedPrompt,
    *,
    at: datetime,
    learn: bool,
    stream: bool,
    on_reply: OnReply | None = None,
    reply_id: str | None = None,
    **llm_kwargs: Any,
) -> Reply | AsyncReplyStream:
    """The async twin of `complete_turn` (``on_reply`` runs in the event loop's thread)."""
    from .backends import llm

    finish = _finisher(user_id, prompt, at, learn, on_reply, reply_id)
    if stream:
        return AsyncReplyStream(await llm.astream(prompt.model, prompt.messages, **llm_kwargs), finish)
    done = await llm.acomplete(prompt.model, prompt.messages, **llm_kwargs)
    return finish(done.text, done.usage, done.latency)
