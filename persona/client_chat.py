"""The `Persona` methods that talk to a model: `prompt`, `chat`, `achat`, `feedback`.

A chat turn reads: render the prompt (`persona.prompting`), call the model (`persona.chat`), submit the turn
to learning (`persona.learning.learner`). `Persona` inherits these from `ChatMethods`; they use only the
memory service, the learner and the settings it sets up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from .chat import AsyncReplyStream, Reply, ReplyStream, acomplete_turn, complete_turn
from .errors import NotFoundError, StoreError
from .prompting.builder import RenderedPrompt, build_prompt, resolve_model
from .types import Feedback
from .validation import check_id, check_text, check_user_id

if TYPE_CHECKING:
    from .learning.learner import Learner
    from .memories import Memories

__all__ = ["ChatMethods"]


class ChatMethods:
    """Prompting, chat and feedback for `persona.Persona` (which sets the attributes below)."""

    path: Path | None
    model: str | None
    learning: Learner
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
        """Render the user's memories and ``message`` into chat messages that fit the token budget."""
        self._check_open()
        target = resolve_model(model, self.model)
        return build_prompt(
            self._memories.for_model(target),  # prompting reads only the policy's view for this model
            check_user_id(user_id),
            message,
            strategy=strategy,
            model=target,
            max_prompt_tokens=max_prompt_tokens,
            history=history,
            template_dirs=[] if self.path is None else [self.path / "templates"],
        )

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
        stores nothing. The message is validated before the model is called (``InvalidInputError``).
        """
        self._check_open()
        user_id, message = check_user_id(user_id), check_text(message, what="message")
        if learn:
            self.learning.wait(user_id)  # the previous turn's facts should be in this prompt
        ticket = self.learning.ticket(user_id)
        prompt = self.prompt(
            user_id,
            message,
            strategy=strategy,
            model=model,
            max_prompt_tokens=max_prompt_tokens,
            history=history,
        )
        return complete_turn(
            user_id,
            prompt,
            at=self._memories.now(),
            learn=learn,
            stream=stream,
            on_reply=self._learn_from(message, ticket) if learn else None,
            **llm_kwargs,
        )

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
        if learn:
            await asyncio.to_thread(self.learning.wait, user_id)
        ticket = self.learning.ticket(user_id)
        prompt = await asyncio.to_thread(
            self.prompt,
            user_id,
            message,
            strategy=strategy,
            model=model,
            max_prompt_tokens=max_prompt_tokens,
            history=history,
        )
        return await acomplete_turn(
            user_id,
            prompt,
            at=self._memories.now(),
            learn=learn,
            stream=stream,
            on_reply=self._learn_from(message, ticket) if learn else None,
            **llm_kwargs,
        )

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
        """Rate a reply in [-1, 1]: recorded, nudges the importance of the memories it used."""
        self._check_open()
        return self.learning.feedback(reply_id, rating, comment=comment)
