"""The `Persona` methods that talk to a model: `prompt`, `chat`, `achat`, `feedback`.

A chat turn reads: read the user's consent, render the prompt (`persona.prompting`), record the disclosure,
call the model (`persona.chat`), submit the turn to learning (`persona.learning.learner`). `Persona` inherits
these from `ChatMethods`; they use only the memory service, the learner and the settings it sets up.

Every prompt is rendered in one place, `ChatMethods._render`, whichever path asked for it (`prompt`, `chat`,
`achat`, streams, the service's proxy): a user whose consent turns personalization off is rendered from a
source that holds no memories (`_NoMemories`), so no strategy or template can reach theirs; a prompt that
carries memories is recorded in the disclosure log (one insert) before it is returned, so no memory leaves
without its record (a store that cannot record it fails the prompt with a `StoreError`).
"""

from __future__ import annotations

import builtins
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from .chat import AsyncReplyStream, Reply, ReplyStream, acomplete_turn, complete_turn
from .errors import InvalidInputError, NotFoundError, StoreError
from .governance.records import Consent, Disclosure
from .prompting.builder import MemorySource, RenderedPrompt, build_prompt, resolve_model
from .store.base import ReplyRecord
from .types import Feedback, Hit, Memory
from .validation import check_id, check_text, check_user_id

if TYPE_CHECKING:
    from .learning.learner import Learner
    from .learning.policy_service import PolicyService
    from .memories import Memories

__all__ = ["ChatMethods"]

log = logging.getLogger("persona")


class ChatMethods:
    """Prompting, chat and feedback for `persona.Persona` (which sets the attributes below)."""

    path: Path | None
    model: str | None
    learning: Learner
    _policy: PolicyService
    _memories: Memories
    _closed: bool

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("this Persona is closed; open a new one with Persona(path).")

    def prompt(
        self,
        user_id: str,
        message: str,
        *,
        strategy: str = "hybrid",
        model: str | None = None,
        max_prompt_tokens: int | None = None,
        history: Sequence[Mapping[str, Any]] | None = None,
    ) -> RenderedPrompt:
        """Render the user's memories and ``message`` into chat messages that fit the token budget.

        None of the user's memories when their consent turns personalization off. A prompt that carries
        memories is recorded in the disclosure log for the model it was rendered for (`disclosures`)."""
        self._check_open()
        user_id = check_user_id(user_id)
        return self._render(
            user_id,
            message,
            consent=self._consent_of(user_id),
            reply_id=None,
            strategy=strategy,
            model=model,
            max_prompt_tokens=max_prompt_tokens,
            history=history,
        )

    def _consent_of(self, user_id: str) -> Consent:
        """The user's consent (the defaults when they never set any): one read of the store."""
        return self._memories.store.get_consent(user_id) or Consent(user_id)

    def _render(
        self,
        user_id: str,
        message: str,
        *,
        consent: Consent,
        reply_id: str | None,
        strategy: str,
        model: str | None,
        max_prompt_tokens: int | None,
        history: Sequence[Mapping[str, Any]] | None,
        ticket: int | None = None,
        at: datetime | None = None,
    ) -> RenderedPrompt:
        """The one place prompts are rendered: consent decides the source, the disclosure is recorded.

        With a ``ticket`` (a chat turn that will be learned) the reply's record is written with the disclosure,
        in one transaction: one commit per turn before the model is called."""
        target = resolve_model(model, self.model)
        choice, context = None, None
        if strategy == "auto":
            if max_prompt_tokens is not None:
                raise InvalidInputError(
                    'strategy="auto" and max_prompt_tokens conflict: the chosen arm sets the budget; pass one.'
                )
            if ticket is not None and reply_id is not None:
                self._policy.observe(user_id, message)  # the new message rates the previous auto reply
            choice, context = self._policy.choose(user_id, message)
            strategy, max_prompt_tokens = choice.arm.strategy, choice.arm.budget
        # prompting reads only the routing policy's view for this model, or nothing without consent
        source: MemorySource = (
            self._memories.for_model(target) if consent.personalization else _NoMemories(self._memories.now, target)
        )
        rendered = build_prompt(
            source,
            user_id,
            message,
            strategy=strategy,
            model=target,
            max_prompt_tokens=max_prompt_tokens,
            history=history,
            template_dirs=[] if self.path is None else [self.path / "templates"],
        )
        if choice is not None:
            rendered = replace(rendered, arm=choice.arm.name, exploring=choice.exploring)
        disclosure = None
        if rendered.memory_ids:
            from .backends.providers import provider_of

            disclosure = Disclosure(
                user_id=user_id,
                at=self._memories.now(),
                model=rendered.model,
                provider=provider_of(rendered.model),
                memory_ids=list(rendered.memory_ids),
                reply_id=reply_id,
            )
        if ticket is not None and reply_id is not None:
            reply = ReplyRecord(
                reply_id,
                user_id,
                rendered.model,
                list(rendered.memory_ids),
                at or self._memories.now(),
                arm=rendered.arm,
                exploring=rendered.exploring,
                context=context,
            )
            self.learning.record_turn(ticket, disclosure, reply)
            if choice is not None:
                self._policy.turn(user_id, reply_id, message)
        elif disclosure is not None:
            self._memories.store.record_disclosure(disclosure)
        return rendered

    def _discard_reply(self, reply_id: str) -> None:
        """Drop the record of a reply whose model call failed; a failure here must not hide the call's."""
        try:
            self._memories.store.discard_reply(reply_id)
        except Exception:  # the model's error is the one the caller needs
            log.warning("persona: could not drop the record of failed reply %s", reply_id, exc_info=True)

    @overload
    def chat(self, user_id: str, message: str, *, stream: Literal[False] = ..., **options: Any) -> Reply: ...

    @overload
    def chat(self, user_id: str, message: str, *, stream: Literal[True], **options: Any) -> ReplyStream: ...

    def chat(
        self,
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
        """Answer ``message`` with the personalized prompt through litellm, and learn from the turn.

        ``llm_kwargs`` go to litellm for this call (temperature, max_tokens, api_base, api_key, timeout,
        mock_response, ...; num_retries and retry_backoff set persona's retries). With ``learn=True`` (the
        default) the user's message becomes an episode (evidence about the user) and the reply transcript (shown
        as conversation, never searched or learned from), and the facts the message states supersede what
        they contradict, in the background; the next turn of the same user waits for it. ``learn=False``
        stores nothing of the turn's text; with ``strategy="auto"`` the reply's record (its arm and memory ids)
        is still kept, so that ``feedback`` credits the arm. The message is validated before the model is called (``InvalidInputError``).

        The user's consent applies: learning off is ``learn=False`` (``Reply.learned`` is False),
        personalization off leaves their memories out of the prompt. The prompt's memories are recorded in
        the disclosure log under this reply's id before the model is called.
        """
        self._check_open()
        user_id, message = check_user_id(user_id), check_text(message, what="message")
        consent = self._consent_of(user_id)
        learn = learn and consent.learning
        keep = learn or (strategy == "auto" and consent.learning)  # auto's reply is kept so feedback credits it
        if learn:
            self.learning.wait(user_id)  # the previous turn's facts should be in this prompt
        ticket = self.learning.ticket(user_id)
        reply_id = uuid.uuid4().hex
        at = self._memories.now()
        prompt = self._render(
            user_id,
            message,
            consent=consent,
            reply_id=reply_id,
            strategy=strategy,
            model=model,
            max_prompt_tokens=max_prompt_tokens,
            history=history,
            ticket=ticket if keep else None,
            at=at,
        )
        try:
            return complete_turn(
                user_id,
                prompt,
                at=at,
                learn=learn,
                stream=stream,
                on_reply=self._learn_from(message, ticket) if learn else None,
                reply_id=reply_id,
                **llm_kwargs,
            )
        except BaseException:
            if keep:
                self._discard_reply(reply_id)
            raise

    @overload
    async def achat(
        self, user_id: str, message: str, *, stream: Literal[False] = ..., **options: Any
    ) -> Reply: ...

    @overload
    async def achat(
        self, user_id: str, message: str, *, stream: Literal[True], **options: Any
    ) -> AsyncReplyStream: ...

    async def achat(
        self,
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
        """The async twin of `chat` (the model call is awaited; prompt assembly runs in a worker thread)."""
        import asyncio

        self._check_open()
        user_id, message = check_user_id(user_id), check_text(message, what="message")
        consent = await asyncio.to_thread(self._consent_of, user_id)
        learn = learn and consent.learning
        keep = learn or (strategy == "auto" and consent.learning)
        if learn:
            await asyncio.to_thread(self.learning.wait, user_id)
        ticket = self.learning.ticket(user_id)
        reply_id = uuid.uuid4().hex
        at = self._memories.now()
        prompt = await asyncio.to_thread(
            self._render,
            user_id,
            message,
            consent=consent,
            reply_id=reply_id,
            strategy=strategy,
            model=model,
            max_prompt_tokens=max_prompt_tokens,
            history=history,
            ticket=ticket if keep else None,
            at=at,
        )
        try:
            return await acomplete_turn(
                user_id,
                prompt,
                at=at,
                learn=learn,
                stream=stream,
                on_reply=self._learn_from(message, ticket) if learn else None,
                reply_id=reply_id,
                **llm_kwargs,
            )
        except BaseException:
            if keep:
                await asyncio.to_thread(self._discard_reply, reply_id)
            raise

    def _learn_from(self, message: str, ticket: int) -> Callable[[Reply], bool]:
        def submit(reply: Reply) -> bool:
            return self.learning.submit(
                reply.user_id,
                message,
                reply_id=reply.id,
                reply=reply.text,
                model=reply.model,
                memory_ids=list(reply.memory_ids),
                at=reply.created_at,
                ticket=ticket,
                recorded=True,
            )

        return submit

    def reply_user(self, reply_id: str) -> str:
        """The user a recorded reply was for (``NotFoundError`` when no reply has this id)."""
        self._check_open()
        info = self._memories.get_reply(check_id(reply_id, what="reply_id"))
        if info is None:
            raise NotFoundError(f"no reply {reply_id!r}: pass the id of a Reply from chat().")
        return info.user_id

    def feedback(self, reply_id: str, rating: float, *, comment: str | None = None) -> Feedback:
        """Rate a reply in [-1, 1]: recorded, nudges the importance of the memories it used, and credits the
        ``strategy="auto"`` arm that rendered it (replacing an earlier rating's or implicit signal's credit)."""
        self._check_open()
        done = self.learning.feedback(reply_id, rating, comment=comment)
        self._policy.credited()
        return done


class _NoMemories:
    """A `MemorySource` that holds nothing: what prompts of a user who turned personalization off read."""

    def __init__(self, now: Callable[[], datetime], model: str) -> None:
        self._now = now
        self.routed_for = model

    def now(self) -> datetime:
        return self._now()

    def withheld(self) -> dict[str, builtins.list[str]]:
        return {}

    def reason(self, label: str) -> str:
        return "personalization is off for this user"

    def search(self, user_id: str, query: str, *, k: int) -> builtins.list[Hit]:
        return []

    def list(
        self,
        user_id: str,
        *,
        kind: str | None = None,
        limit: int | None = None,
        include_superseded: bool = False,
    ) -> builtins.list[Memory]:
        return []

    def stated_preferences(self, user_id: str, *, limit: int) -> builtins.list[Memory]:
        return []
