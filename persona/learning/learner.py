"""Learning from chat: the turn becomes episodes, the facts it states supersede what they contradict, and
feedback nudges the importance of the memories a reply used.

`Learner` owns the learning queue. ``submit`` records the reply (so feedback can find it) and learns from the
turn on the background thread, one turn at a time in order (or at once with ``background=False``);
``wait(user_id)`` blocks until that user's turns are learned; ``close`` drains the queue. It writes through a
`TurnWriter`, a narrow protocol the memory service implements.
"""

from __future__ import annotations

import builtins
import logging
import math
from datetime import datetime, timedelta
from typing import Any, Protocol

from ..errors import InvalidInputError, NotFoundError
from ..store.base import ReplyRecord
from ..types import Feedback, Memory
from .facts import extract_rules
from .llm_facts import extract
from .queue import LearningQueue
from .supersede import MemoryWriter, learn_facts

__all__ = ["FEEDBACK_STEP", "Learner", "TurnWriter", "learn_turn"]

FEEDBACK_STEP = 0.1
"""A rating of +1 raises the importance of each memory the reply used by this much (-1 lowers it)."""

log = logging.getLogger("persona")


class TurnWriter(MemoryWriter, Protocol):
    """A `MemoryWriter` that also keeps the replies chat produced and their feedback."""

    def record_reply(
        self, reply_id: str, user_id: str, model: str, memory_ids: builtins.list[str], at: datetime
    ) -> None: ...

    def get_reply(self, reply_id: str) -> ReplyRecord | None: ...

    def record_feedback(self, reply_id: str, rating: float, comment: str | None, at: datetime) -> None: ...


def learn_turn(
    writer: MemoryWriter,
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
    stored: list[Memory] = list(writer.add_many(user_id, items))
    try:
        facts = extract(message, model=extract_model)
        stored += learn_facts(writer, user_id, facts, at=at, source="chat")
    except Exception:  # the turn is stored; a failed extraction must not lose it
        log.exception("persona: learning facts from a turn of user %r failed", user_id)
    return stored


class Learner:
    """Learns from chat turns and feedback for one store."""

    def __init__(self, writer: TurnWriter, *, extract_model: str | None = None, background: bool = True) -> None:
        self.writer = writer
        self.extract_model = extract_model
        self.background = background
        self.queue = LearningQueue()

    @property
    def errors(self) -> list[BaseException]:
        """Background learning jobs that failed (each was also logged)."""
        return self.queue.errors

    def wait(self, user_id: str | None = None, timeout: float | None = None) -> bool:
        """Block until the user's (or everyone's) turns are learned; False on timeout."""
        return self.queue.wait(user_id, timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Learn every pending turn, then stop the background thread."""
        return self.queue.drain(timeout)

    def submit(
        self,
        user_id: str,
        message: str,
        *,
        reply_id: str,
        reply: str,
        model: str,
        memory_ids: list[str],
        at: datetime,
    ) -> None:
        """Record the reply (for feedback) now, and learn from the turn in the background (or now)."""
        self.writer.record_reply(reply_id, user_id, model, list(memory_ids), at)
        replied_at = self.writer.now()
        extract_model = self.extract_model

        def job() -> None:
            learn_turn(
                self.writer,
                user_id,
                message,
                reply,
                at=at,
                replied_at=replied_at,
                reply_id=reply_id,
                model=model,
                extract_model=extract_model,
            )

        if self.background:
            self.queue.submit(user_id, job)
        else:
            job()

    def feedback(self, reply_id: str, rating: float, *, comment: str | None = None) -> Feedback:
        """Record a rating in [-1, 1] for a reply; nudge the importance of the memories it used; learn a
        preference stated in ``comment`` ("I prefer shorter answers")."""
        if isinstance(rating, bool) or not isinstance(rating, (int, float)) or not math.isfinite(rating):
            raise InvalidInputError(f"rating must be a number between -1 and 1, got {rating!r}.")
        if not -1.0 <= rating <= 1.0:
            raise InvalidInputError(f"rating must be between -1 (bad) and 1 (good), got {rating}.")
        if comment is not None and not isinstance(comment, str):
            raise InvalidInputError(f"comment must be a string, got {type(comment).__name__}.")
        info = self.writer.get_reply(reply_id) if isinstance(reply_id, str) else None
        if info is None:
            raise NotFoundError(
                f"no reply {reply_id!r}: pass the id of a Reply from chat() (replies with learn=False are not kept)."
            )
        user_id = info.user_id
        self.wait(user_id)
        at = self.writer.now()
        self.writer.record_feedback(reply_id, float(rating), comment, at)
        importance: dict[str, float] = {}
        for memory_id in info.memory_ids:
            try:
                memory = self.writer.get(memory_id)
            except NotFoundError:
                continue  # deleted since
            new = min(1.0, max(0.0, memory.importance + FEEDBACK_STEP * float(rating)))
            if new != memory.importance:
                memory = self.writer.set_importance(memory_id, new)
            importance[memory_id] = memory.importance
        learned: list[Memory] = []
        if comment and comment.strip():
            model = self.extract_model
            facts = extract(comment, model=model) if model else extract_rules(comment)
            learned = learn_facts(self.writer, user_id, facts, at=at, source="feedback")
        return Feedback(reply_id=reply_id, rating=float(rating), importance=importance, learned=learned)
