"""The OpenAI-compatible personalizing proxy: ``POST /v1/chat/completions`` and ``GET /v1/models``.

A request in OpenAI's format becomes one `persona.Persona.chat` turn: the last message (the user's) is the
message, everything before it (the app's own system message included) the history, so the prompt is what
`Persona.prompt` renders, with the user's memories in persona's system message first. The answer goes back in
OpenAI's format (server-sent events for ``stream: true``, ending ``data: [DONE]``), with the memory ids used
in ``X-Persona-Memories`` (and the reply id, for ``POST /v1/feedback``, in ``X-Persona-Reply-Id``). The turn
is learned in the background as `Persona.chat` learns it; a read-only key's turns are not learned.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict

from persona import InvalidInputError, PersonaError, ReplyStream
from persona._env import ensure_offline_env

from .auth import Principal
from .deps import caller, run, state_of
from .errors import status_of

__all__ = ["FORWARDED", "router"]

router = APIRouter(prefix="/v1", tags=["openai"])
Caller = Annotated[Principal, Depends(caller)]

FORWARDED = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "logit_bias",
    "response_format",
)
"""The OpenAI request fields passed on to the model; others are accepted and ignored."""
UPSTREAM_KEY_ENV = "PERSONA_UPSTREAM_API_KEY"
"""The key sent to ``--api-base`` (the caller's own key is persona's, never forwarded)."""


_PRICED: set[str] = set()
"""The upstream model names `price_upstream` has seen."""


def price_upstream(model: str) -> None:
    """Tell litellm, once, that an ``--api-base`` model it has no price for costs nothing.

    litellm prices every response; for a name missing from its price table (a self-hosted upstream's) the
    lookup tries every pattern of the table, about 15 ms of CPU per call here, to conclude it has no price.
    A name litellm does price (``openai/gpt-4o`` through a gateway, say) keeps its price.
    """
    if model in _PRICED:
        return
    ensure_offline_env()  # litellm reads its bundled price table, never the network's
    import litellm

    if model not in litellm.model_cost and model.split("/", 1)[-1] not in litellm.model_cost:
        zero = {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0, "litellm_provider": "openai", "mode": "chat"}
        litellm.register_model({model: zero})
    _PRICED.add(model)


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    messages: list[dict[str, Any]]
    model: str | None = None
    stream: bool = False
    user: str | None = None


def _text(content: object, i: int) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        if parts and all(isinstance(t, str) for t in parts) and len(parts) == len(content):
            return "\n".join(str(t) for t in parts)
    raise InvalidInputError(f"messages[{i}].content must be text (a string or text parts only).")


def split_messages(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, str]]]:
    """(the user's message, the history before it) from an OpenAI ``messages`` list."""
    if not messages:
        raise InvalidInputError("messages is empty; the last message must be the user's.")
    out = []
    for i, msg in enumerate(messages):
        role = msg.get("role")
        role = "system" if role == "developer" else role
        if role not in ("system", "user", "assistant"):
            raise InvalidInputError(
                f"messages[{i}].role {role!r} is not supported by the persona proxy (system, developer, user, assistant)."
            )
        out.append({"role": str(role), "content": _text(msg.get("content"), i)})
    if out[-1]["role"] != "user":
        raise InvalidInputError("the last message must be the user's (role 'user').")
    return out[-1]["content"], out[:-1]


def _next(stream: ReplyStream) -> str | None:
    return next(stream, None)


def _chunk(cid: str, created: int, model: str, delta: dict[str, str], finish: str | None, **extra: Any) -> str:
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return f"data: {json.dumps(body)}\n\n"


@router.post("/chat/completions", summary="OpenAI-compatible chat, personalized with the user's memories")
async def chat_completions(
    body: ChatIn,
    request: Request,
    who: Caller,
    x_persona_user: Annotated[str | None, Header()] = None,
    x_persona_strategy: Annotated[str | None, Header()] = None,
) -> Any:
    state = state_of(request)
    p = state.open_persona()
    user = body.user or x_persona_user
    if not user:
        raise InvalidInputError("no persona user: set the request's 'user' field or the X-Persona-User header.")
    inner = who.inner(user)
    message, history = split_messages(body.messages)
    name = body.model or state.config.model  # None: the library's default ($PERSONA_MODEL, else local)
    extra = body.model_extra or {}
    options: dict[str, Any] = {k: extra[k] for k in FORWARDED if extra.get(k) is not None}
    model = name
    if state.config.api_base:
        if not name:
            raise InvalidInputError("no model: set 'model' in the request, or start the server with --model.")
        model = name if name.startswith("openai/") else f"openai/{name}"
        options["api_base"] = state.config.api_base
        options["api_key"] = os.environ.get(UPSTREAM_KEY_ENV) or "persona"
    strategy = x_persona_strategy or "hybrid"
    learn = not who.read_only
    created = int(time.time())

    upstream = model if state.config.api_base else None

    def chat(**more: Any) -> Any:
        if upstream is not None:
            price_upstream(upstream)
        return p.chat(inner, message, model=model, strategy=strategy, history=history, learn=learn, **options, **more)

    if not body.stream:
        reply = await run(chat)
        answer = {
            "id": f"chatcmpl-{reply.id}",
            "object": "chat.completion",
            "created": created,
            "model": name or reply.model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": reply.text}, "finish_reason": "stop"}
            ],
            "usage": reply.usage,
        }
        headers = {"X-Persona-Memories": ",".join(reply.memory_ids), "X-Persona-Reply-Id": reply.id}
        return JSONResponse(answer, headers=headers)

    stream = await run(lambda: chat(stream=True))
    try:
        first = await run(lambda: _next(stream))  # an upstream failure is still a 502 here, not a broken stream
    except BaseException:
        await run(stream.close)
        raise
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    shown = name or (stream.prompt.model if stream.prompt is not None else "")

    async def events() -> AsyncIterator[str]:
        try:
            yield _chunk(cid, created, shown, {"role": "assistant", "content": ""}, None)
            piece = first
            while piece is not None:
                if piece:
                    yield _chunk(cid, created, shown, {"content": piece}, None)
                piece = await run(lambda: _next(stream))
            reply_id = stream.reply.id if stream.reply is not None else None
            yield _chunk(cid, created, shown, {}, "stop", persona_reply_id=reply_id)
            yield "data: [DONE]\n\n"
        except PersonaError as exc:
            status, kind = status_of(exc)
            yield f"data: {json.dumps({'error': {'type': kind, 'message': str(exc), 'status': status}})}\n\n"
        finally:
            await run(stream.close)

    memory_ids = stream.prompt.memory_ids if stream.prompt is not None else []
    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"X-Persona-Memories": ",".join(memory_ids), "Cache-Control": "no-cache"},
    )


@router.get("/models", summary="The models this proxy calls")
async def models(request: Request, who: Caller) -> Any:
    model = state_of(request).config.model
    data = [] if model is None else [{"id": model, "object": "model", "created": 0, "owned_by": "persona"}]
    return {"object": "list", "data": data}
