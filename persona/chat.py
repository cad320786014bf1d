"""Personalized chat: render the prompt, call the model, learn from the turn, take feedback.

``chat(p, user_id, message)`` renders a strategy (``persona.prompting``), calls the model through litellm
(``persona.backends.llm``) and returns a ``Reply``. A failed call raises an ``LLMError`` and stores nothing.
With ``learn=True`` (the default) the turn is recorded, then learned: the user's message and the reply become
``episode`` memories, and the facts the message states become fact/preference/profile memories that
supersede what they contradict (``persona.extract``). Learning runs on a background thread, one turn at a
time in order, so the reply does not wait for it; the next turn of the same user waits for it, and
``Persona.close()`` drains it. ``learn=False`` stores nothing at all.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .backends import llm
from .errors import InvalidInputError, NotFoundError
from .extract import extract, extract_rules, learn_facts
from .prompting import RenderedPrompt, build_prompt
from .types import Memory

__all__ = [
    "FEEDBACK_STEP",
    "AsyncReplyStream",
    "Feedback",
    "LearningQueue",
    "Reply",
    "ReplyStream",
    "achat",
    "chat",
    "feedback",
    "learn_turn",
    "learning_queue",
]

FEEDBACK_STEP = 0.1
"""A rating of +1 raises the importance of each memory the reply used by this much (-1 lowers it)."""

log = logging.getLogger("persona")


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
    """False for ``learn=False`` turns: nothing was stored, and ``feedback`` cannot refer to this reply."""

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
            "prompt": self.prompt.to_dict(),
        }


@dataclass(frozen=True)
class Feedback:
    """What ``feedback`` changed: the new importance of each memory the reply used, and memories learned."""

    reply_id: str
    rating: float
    importance: dict[str, float]
    learned: list[Memory]


# -- learning ------------------------------------------------------------------------------------------------


def learn_turn(
    p: Any,
    user_id: str,
    message: str,
    reply: str | None,
    *,
    at: datetime,
    replied_at: datetime | None = None,
    reply_id: str | None = None,
    model: str | None = None,
    extract_model: str | None = None,
) -> list[Memory]:
    """Store one turn (episodes first, so it is never lost), then the facts it states. Returns all stored."""
    meta: dict[str, Any] = {"reply_id": reply_id} if reply_id else {}
    items: list[dict[str, Any]] = [
        {
            "text": message,
            "kind": "episode",
            "metadata": {**meta, "role": "user"},
            "created_at": at,
            "source": "chat",
        }
    ]
    if reply and reply.strip():
        later = replied_at if replied_at and replied_at > at else at + timedelta(microseconds=1)
        reply_meta = {**meta, "role": "assistant", **({"model": model} if model else {})}
        items.append(
            {"text": reply, "kind": "episode", "metadata": reply_meta, "created_at": later, "source": "chat"}
        )
    stored: list[Memory] = list(p.add_many(user_id, items))
    try:
        facts = extract(message, model=extract_model)
        stored += learn_facts(p, user_id, facts, at=at, source="chat")
    except Exception:  # the turn is stored; a failed extraction must not lose it
        log.exception("persona: learning facts from a turn of user %r failed", user_id)
    return stored


class LearningQueue:
    """Runs learning jobs on one background thread, in the order submitted.

    ``wait(user_id)`` blocks until that user's pending jobs are done; ``drain()`` until all are, then stops
    the thread (``Persona.close()`` calls it). A job that fails is logged and kept in ``errors``.
    """

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[str, Callable[[], object]] | None] = queue.Queue()
        self._pending: dict[str, int] = {}
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.errors: list[BaseException] = []

    def submit(self, user_id: str, job: Callable[[], object]) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("this learning queue was drained and closed")
            self._pending[user_id] = self._pending.get(user_id, 0) + 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="persona-learning", daemon=True)
                self._thread.start()
        self._jobs.put((user_id, job))

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            user_id, job = item
            try:
                job()
            except BaseException as exc:
                log.exception("persona: a background learning job for user %r failed", user_id)
                self.errors.append(exc)
            finally:
                with self._cond:
                    self._pending[user_id] -= 1
                    if not self._pending[user_id]:
                        del self._pending[user_id]
                    self._cond.notify_all()

    def pending(self, user_id: str | None = None) -> int:
        with self._cond:
            return sum(self._pending.values()) if user_id is None else self._pending.get(user_id, 0)

    def wait(self, user_id: str | None = None, timeout: float | None = None) -> bool:
        """Block until the user's (or everyone's) pending jobs are done; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self.pending(user_id), timeout=timeout)

    def drain(self, timeout: float | None = None) -> bool:
        """Finish every pending job and stop the thread. Idempotent."""
        done = self.wait(None, timeout)
        with self._cond:
            self._closed = True
            thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(None)
            thread.join(timeout)
        return done


_queues: weakref.WeakKeyDictionary[Any, LearningQueue] = weakref.WeakKeyDictionary()
_queues_lock = threading.Lock()


def learning_queue(p: Any) -> LearningQueue:
    """The Persona's learning queue (``p._learning`` if it has one), created on first use; its ``drain`` is
    registered with ``p._on_close`` so ``close()`` waits for pending learning."""
    own = getattr(p, "_learning", None)
    if isinstance(own, LearningQueue):
        return own
    with _queues_lock:
        found = _queues.get(p)
        if found is None:
            found = _queues[p] = LearningQueue()
            hooks = getattr(p, "_on_close", None)
            if isinstance(hooks, list):
                hooks.append(found.drain)
        return found


def _learn(p: Any, user_id: str, message: str, reply: Reply) -> None:
    """Record the reply (for feedback) now, and learn from the turn in the background (or now)."""
    p._store.record_reply(reply.id, user_id, reply.model, list(reply.memory_ids), reply.created_at)
    extract_model = getattr(p, "extract_model", None)
    replied_at = p.now()

    def job() -> None:
        learn_turn(
            p,
            user_id,
            message,
            reply.text,
            at=reply.created_at,
            replied_at=replied_at,
            reply_id=reply.id,
            model=reply.model,
            extract_model=extract_model,
        )

    if getattr(p, "background_learning", True):
        learning_queue(p).submit(user_id, job)
    else:
        job()


# -- chat ----------------------------------------------------------------------------------------------------


def _prepare(
    p: Any,
    user_id: str,
    message: str,
    *,
    model: str | None,
    strategy: str,
    max_prompt_tokens: int | None,
    history: Sequence[Mapping[str, Any]] | None,
) -> tuple[RenderedPrompt, datetime]:
    from .validation import check_user_id

    user_id = check_user_id(user_id)
    return (
        build_prompt(
            p,
            user_id,
            message,
            strategy=strategy,
            model=model,
            max_prompt_tokens=max_prompt_tokens,
            history=history,
        ),
        p.now(),
    )


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


def _reply(
    p: Any,
    user_id: str,
    message: str,
    prompt: RenderedPrompt,
    at: datetime,
    text: str,
    usage: dict[str, int],
    latency: float,
    learn: bool,
) -> Reply:
    reply = Reply(
        id=uuid.uuid4().hex,
        text=text,
        model=prompt.model,
        usage=_usage(usage, prompt, text),
        latency=latency,
        memory_ids=list(prompt.memory_ids),
        prompt=prompt,
        user_id=user_id,
        created_at=at,
        learned=learn,
    )
    if learn:
        _learn(p, user_id, message, reply)
    return reply


class ReplyStream:
    """The text of a reply as it arrives. ``reply`` is the ``Reply`` once the stream is exhausted.

    A stream that is not read to the end (or fails) stores nothing.
    """

    def __init__(self, chunks: llm.TextStream, finish: Callable[[str, dict[str, int], float], Reply]) -> None:
        self._chunks = chunks
        self._finish = finish
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


def chat(
    p: Any,
    user_id: str,
    message: str,
    *,
    model: str | None = None,
    strategy: str = "hybrid",
    stream: bool = False,
    learn: bool = True,
    max_prompt_tokens: int | None = None,
    history: Sequence[Mapping[str, Any]] | None = None,
    **llm_kwargs: Any,
) -> Reply | ReplyStream:
    """Answer ``message`` for ``user_id`` with a personalized prompt. ``llm_kwargs`` go to litellm for this call
    (temperature, max_tokens, api_base, api_key, timeout, mock_response, ...; num_retries and retry_backoff
    set persona's retries)."""
    if learn:
        learning_queue(p).wait(user_id)  # the previous turn's facts should be in this prompt
    prompt, at = _prepare(
        p,
        user_id,
        message,
        model=model,
        strategy=strategy,
        max_prompt_tokens=max_prompt_tokens,
        history=history,
    )

    def finish(text: str, usage: dict[str, int], latency: float) -> Reply:
        return _reply(p, user_id, message, prompt, at, text, usage, latency, learn)

    if stream:
        return ReplyStream(llm.stream(prompt.model, prompt.messages, **llm_kwargs), finish)
    done = llm.complete(prompt.model, prompt.messages, **llm_kwargs)
    return finish(done.text, done.usage, done.latency)


async def achat(
    p: Any,
    user_id: str,
    message: str,
    *,
    model: str | None = None,
    strategy: str = "hybrid",
    stream: bool = False,
    learn: bool = True,
    max_prompt_tokens: int | None = None,
    history: Sequence[Mapping[str, Any]] | None = None,
    **llm_kwargs: Any,
) -> Reply | AsyncReplyStream:
    """The async twin of ``chat`` (the model call is awaited; prompt assembly runs in a worker thread)."""
    import asyncio

    if learn:
        await asyncio.to_thread(learning_queue(p).wait, user_id)
    prompt, at = await asyncio.to_thread(
        _prepare,
        p,
        user_id,
        message,
        model=model,
        strategy=strategy,
        max_prompt_tokens=max_prompt_tokens,
        history=history,
    )

    def finish(text: str, usage: dict[str, int], latency: float) -> Reply:
        return _reply(p, user_id, message, prompt, at, text, usage, latency, learn)

    if stream:
        return AsyncReplyStream(await llm.astream(prompt.model, prompt.messages, **llm_kwargs), finish)
    done = await llm.acomplete(prompt.model, prompt.messages, **llm_kwargs)
    return finish(done.text, done.usage, done.latency)


# -- feedback ------------------------------------------------------------------------------------------------


def feedback(p: Any, reply_id: str, rating: float, *, comment: str | None = None) -> Feedback:
    """Record a rating in [-1, 1] for a reply; nudge the importance of the memories it used; learn a
    preference stated in ``comment`` ("I prefer shorter answers")."""
    if isinstance(rating, bool) or not isinstance(rating, (int, float)) or not math.isfinite(rating):
        raise InvalidInputError(f"rating must be a number between -1 and 1, got {rating!r}.")
    if not -1.0 <= rating <= 1.0:
        raise InvalidInputError(f"rating must be between -1 (bad) and 1 (good), got {rating}.")
    if comment is not None and not isinstance(comment, str):
        raise InvalidInputError(f"comment must be a string, got {type(comment).__name__}.")
    info = p._store.get_reply(reply_id) if isinstance(reply_id, str) else None
    if info is None:
        raise NotFoundError(
            f"no reply {reply_id!r}: pass the id of a Reply from chat() (replies with learn=False are not kept)."
        )
    user_id = str(info["user_id"])
    learning_queue(p).wait(user_id)
    at = p.now()
    p._store.record_feedback(reply_id, float(rating), comment, at)
    importance: dict[str, float] = {}
    for memory_id in info["memory_ids"]:
        try:
            memory = p.get(memory_id)
        except NotFoundError:
            continue  # deleted since
        new = min(1.0, max(0.0, memory.importance + FEEDBACK_STEP * float(rating)))
        if new != memory.importance:
            memory = p.update(memory_id, importance=new)
        importance[memory_id] = memory.importance
    learned: list[Memory] = []
    if comment and comment.strip():
        extract_model = getattr(p, "extract_model", None)
        facts = extract(comment, model=extract_model) if extract_model else extract_rules(comment)
        learned = learn_facts(p, user_id, facts, at=at, source="feedback")
    return Feedback(reply_id=reply_id, rating=float(rating), importance=importance, learned=learned)
