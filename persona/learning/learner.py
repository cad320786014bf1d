"""Learning from chat: the user's words become evidence, the assistant's only transcript, the facts the user
states supersede what they contradict, and feedback nudges the importance of the memories a reply used.

`Learner` owns the learning queue. ``submit`` records the reply (so feedback can find it) and learns from the
turn on the background thread, one turn at a time in order (or at once with ``background=False``);
``wait(user_id)`` blocks until that user's turns are learned; ``forget(user_id)`` drops what is pending for a
user and makes every turn that started before it unlearnable; ``close`` drains the queue. A turn that still
fails is kept in ``failures`` (`persona.types.LearningFailure`). It writes through a `TurnWriter`, a narrow
protocol the memory service implements.
"""

from __future__ import annotations

import builtins
import logging
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from ..errors import InvalidInputError, NotFoundError
from ..governance.records import Disclosure
from ..store.base import ReplyRecord
from ..types import Feedback, LearningFailure, Memory
from ..validation import check_id, check_number, check_text
from .facts import extract_rules
from .llm_facts import extract
from .queue import LearningQueue
from .supersede import MemoryWriter, learn_facts, remember, settle

__all__ = ["FEEDBACK_STEP", "REPLY_LIMIT", "Learner", "TurnWriter", "learn_turn", "transcript_text"]

FEEDBACK_STEP = 0.1
"""A rating of +1 raises the importance of each memory the reply used by this much (-1 lowers it)."""

REPLY_LIMIT = 1500
"""At most this many characters of a reply are kept in the transcript (cut at a word, marked with "…")."""

_RECENT_TURNS = 20
"""A turn identical to one of the user's last this-many turns (message and reply) is not stored again."""

log = logging.getLogger("persona")


class TurnWriter(MemoryWriter, Protocol):
    """A `MemoryWriter` that also keeps the replies chat produced and their feedback."""

    def record_reply(
        self, reply_id: str, user_id: str, model: str, memory_ids: builtins.list[str], at: datetime
    ) -> None: ...

    def get_reply(self, reply_id: str) -> ReplyRecord | None: ...

    def record_turn(self, disclosure: Disclosure | None, reply: ReplyRecord | None) -> None: ...

    def record_feedback(
        self,
        reply_id: str,
        rating: float,
        comment: str | None,
        at: datetime,
        importance: Mapping[str, float],
    ) -> dict[str, float]: ...


def transcript_text(reply: str) -> str:
    """A reply as the transcript keeps it: no NUL, at most `REPLY_LIMIT` characters (cut at a word)."""
    text = reply.replace("\x00", "").strip()
    if len(text) <= REPLY_LIMIT:
        return text
    cut = text[: REPLY_LIMIT - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > REPLY_LIMIT // 2 else cut).rstrip() + "…"


def _repeats(writer: MemoryWriter, user_id: str, message: str, reply: str) -> bool:
    """Whether the user's recent turns hold this very message with this very reply."""
    recent = writer.list(user_id, kind="episode", limit=2 * _RECENT_TURNS)
    replies = {m.metadata.get("reply_id"): m.text for m in recent if m.metadata.get("role") == "assistant"}
    return any(
        m.metadata.get("role") == "user"
        and m.text == message
        and replies.get(m.metadata.get("reply_id")) == reply
        for m in recent
    )


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
    """Store one turn: the user's message as an episode (evidence), the reply as transcript only
    (`persona.store.records.is_transcript`: shown as conversation, never searched or learned from), then the
    facts the user's message states. Returns what was stored (nothing for a repeat of a recent turn)."""
    text = transcript_text(reply or "")
    if _repeats(writer, user_id, message, text):
        return []
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
    if text:
        later = replied_at if replied_at and replied_at > at else at + timedelta(microseconds=1)
        reply_meta = {**meta, "role": "assistant", **({"model": model} if model else {})}
        if len(text) < len((reply or "").strip()):
            reply_meta["truncated"] = True
        items.append(
            {"text": text, "kind": "episode", "metadata": reply_meta, "created_at": later, "source": "chat"}
        )
    stored: list[Memory] = list(writer.add_many(user_id, items))  # the turn first: it is never lost
    facts = extract(message, model=extract_model)
    return stored + learn_facts(writer, user_id, facts, at=at, source="chat")


class Learner:
    """Learns from chat turns and feedback for one store, and keys what ``add`` stores by its slot."""

    def __init__(
        self, writer: TurnWriter, *, extract_model: str | None = None, background: bool = True
    ) -> None:
        self.writer = writer
        self.extract_model = extract_model
        self.background = background
        self.queue = LearningQueue()
        self._lock = threading.Lock()
        self._generation: dict[str, int] = {}
        self._failures: list[LearningFailure] = []

    # -- the queue -------------------------------------------------------------------------------------------

    @property
    def failures(self) -> list[LearningFailure]:
        """Turns whose learning failed (each was also logged), oldest first."""
        with self._lock:
            return list(self._failures)

    def wait(self, user_id: str | None = None, timeout: float | None = None) -> bool:
        """Block until the user's (or everyone's) turns are learned; False on timeout."""
        return self.queue.wait(user_id, timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Learn every pending turn, then stop the background thread."""
        return self.queue.drain(timeout)

    def ticket(self, user_id: str) -> int:
        """Taken when a turn starts; a turn whose ticket is older than the user's last ``forget`` is not learned."""
        with self._lock:
            return self._generation.get(user_id, 0)

    def forget(self, user_id: str) -> None:
        """Make every turn of ``user_id`` that started before now unlearnable, wait for the one being learned,
        and drop the user's failure records. Call before erasing the user."""
        with self._lock:
            self._generation[user_id] = self._generation.get(user_id, 0) + 1
            self._failures = [f for f in self._failures if f.user_id != user_id]
        self.queue.wait(user_id)

    def record_turn(self, ticket: int, disclosure: Disclosure | None, reply: ReplyRecord) -> None:
        """Record a turn's reply (for feedback) with its prompt's disclosure, in one transaction, before the
        model is called; the reply is left out when its user was forgotten since ``ticket`` was taken. The
        turn's `submit` then passes ``recorded=True``."""
        with self._lock:
            self.writer.record_turn(disclosure, reply if self._valid(reply.user_id, ticket) else None)

    def _valid(self, user_id: str, ticket: int) -> bool:
        return self._generation.get(user_id, 0) == ticket

    # -- learning ----------------------------------------------------------------------------------------------

    def remember(
        self,
        user_id: str,
        items: Sequence[str | Mapping[str, Any]],
        *,
        supersede: bool = True,
        progress: bool = False,
    ) -> list[Memory]:
        """Store ``items`` (``add``/``add_many``), keyed by slot so that later statements supersede them."""
        return remember(
            self.writer, user_id, items, supersede=supersede, model=self.extract_model, progress=progress
        )

    def settle(self, user_id: str) -> int:
        """Let the newest statement of each of the user's slots supersede older ones (after an import)."""
        return settle(self.writer, user_id)

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
        ticket: int | None = None,
        recorded: bool = False,
    ) -> bool:
        """Record the reply (for feedback) now, unless ``recorded`` (`record_turn` did), and learn from the
        turn in the background (or now).

        Returns False, storing nothing, when the user was forgotten since ``ticket`` was taken."""
        extract_model = self.extract_model
        with self._lock:
            turn = self._generation.get(user_id, 0) if ticket is None else ticket
            if not self._valid(user_id, turn):
                return False
            if not recorded:
                self.writer.record_reply(reply_id, user_id, model, list(memory_ids), at)
        replied_at = self.writer.now()

        def job() -> None:
            with self._lock:
                if not self._valid(user_id, turn):
                    return  # forgotten while queued
            try:
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
            except Exception as exc:
                log.exception("persona: learning a turn of user %r failed", user_id)
                with self._lock:
                    if self._valid(user_id, turn):
                        failure = LearningFailure(
                            user_id, reply_id, message, f"{type(exc).__name__}: {exc}", at
                        )
                        self._failures.append(failure)
                if not self.background:
                    raise

        if self.background:
            self.queue.submit(user_id, job)
        else:
            job()
        return True

    def feedback(self, reply_id: str, rating: float, *, comment: str | None = None) -> Feedback:
        """Record a rating in [-1, 1] for a reply and nudge the importance of the memories it used, in one
        transaction; then learn a preference stated in ``comment`` ("I prefer shorter answers")."""
        rating = check_number(rating, what="rating (-1 bad to 1 good)", low=-1.0, high=1.0)
        if comment is not None:
            if not isinstance(comment, str):
                raise InvalidInputError(f"comment must be a string, got {type(comment).__name__}.")
            if comment.strip():
                check_text(comment, what="comment")
        if isinstance(reply_id, str) and reply_id.strip():
            check_id(reply_id, what="reply_id")
        info = self.writer.get_reply(reply_id) if isinstance(reply_id, str) and reply_id.strip() else None
        if info is None:
            raise NotFoundError(
                f"no reply {reply_id!r}: pass the id of a Reply from chat() (replies with learn=False are not kept, except with strategy='auto')."
            )
        user_id = info.user_id
        self.wait(user_id)
        at = self.writer.now()
        targets: dict[str, float] = {}
        for memory_id in info.memory_ids:
            try:
                memory = self.writer.get(memory_id)
            except NotFoundError:
                continue  # deleted since
            targets[memory_id] = min(1.0, max(0.0, memory.importance + FEEDBACK_STEP * float(rating)))
        importance = self.writer.record_feedback(reply_id, float(rating), comment, at, targets)
        learned: list[Memory] = []
        if comment and comment.strip():
            model = self.extract_model
            facts = extract(comment, model=model) if model else extract_rules(comment)
            learned = learn_facts(self.writer, user_id, facts, at=at, source="feedback")
        return Feedback(reply_id=reply_id, rating=float(rating), importance=importance, learned=learned)
