"""The REST API: JSON over the public `persona.Persona` methods, validated by the library's own rules.

Path and body user ids are the caller's own; `auth.Principal` maps them into the tenant's namespace and back.
A memory id of another tenant answers exactly as a missing one (404).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from persona import InvalidInputError, NotFoundError

from .auth import Principal
from .deps import caller, memory_json, owned_memory, run, state_of

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["memories"])
Caller = Annotated[Principal, Depends(caller)]
_TIME = "An ISO 8601 date or time (UTC unless it has an offset)."


def _json(data: Any, status: int = 200) -> JSONResponse:
    """The answer, serialized once (FastAPI's jsonable_encoder walk is skipped: the library's dicts are JSON)."""
    return JSONResponse(data, status_code=status)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemoryIn(_Body):
    text: str
    kind: str = "fact"
    metadata: dict[str, Any] | None = None
    created_at: str | None = Field(None, description=_TIME)
    importance: float | None = None


class ManyIn(_Body):
    memories: list[MemoryIn]


class MemoryPatch(_Body):
    text: str | None = None
    kind: str | None = None
    metadata: dict[str, Any] | None = None
    importance: float | None = None


class SearchIn(_Body):
    query: str
    k: int = 10
    kind: str | None = None
    filters: dict[str, Any] | None = None
    since: str | None = Field(None, description=_TIME)
    until: str | None = Field(None, description=_TIME)
    include_superseded: bool = False
    event_since: str | None = Field(None, description="Only memories about events from this time on: " + _TIME)
    event_until: str | None = Field(None, description="Only memories about events before this time: " + _TIME)
    sensitivity: str | list[str] | None = Field(None, description="Only memories with this label (or these).")


class PromptIn(_Body):
    message: str
    strategy: str = "hybrid"
    model: str | None = None
    max_prompt_tokens: int | None = None
    history: list[dict[str, Any]] | None = None


class FeedbackIn(_Body):
    reply_id: str
    rating: float
    comment: str | None = None


@router.post("/users/{user}/memories", status_code=201, summary="Add one memory, or many")
async def add_memories(user: str, body: MemoryIn | ManyIn, request: Request, who: Caller) -> Any:
    p = state_of(request).open_persona()
    who.check_write()
    inner = who.inner(user)
    if isinstance(body, ManyIn):
        items = [m.model_dump(exclude_none=True) for m in body.memories]
        if not items:
            raise InvalidInputError("memories is empty; pass at least one memory.")
        added = await run(lambda: p.add_many(inner, items))
        return _json({"memories": [memory_json(m, who) for m in added]}, 201)
    one = body.model_dump(exclude_none=True)
    memory = await run(lambda: p.add(inner, one.pop("text"), **one))
    return _json(memory_json(memory, who), 201)


PAGE_SIZE = 100
"""Memories per page of ``GET /v1/users/{user}/memories`` unless ``limit`` says otherwise."""
MAX_PAGE_SIZE = 1000


@router.get("/users/{user}/memories", summary="A user's memories, newest first, a page at a time")
async def list_memories(
    user: str,
    request: Request,
    who: Caller,
    kind: str | None = None,
    since: Annotated[str | None, Query(description=_TIME)] = None,
    until: Annotated[str | None, Query(description=_TIME)] = None,
    limit: Annotated[int, Query(description=f"Memories per page, 1..{MAX_PAGE_SIZE}.")] = PAGE_SIZE,
    cursor: Annotated[
        str | None, Query(description="The previous page's next_cursor; none for the first page.")
    ] = None,
    include_superseded: bool = False,
    event_since: Annotated[
        str | None, Query(description="Only memories about events from this time on: " + _TIME)
    ] = None,
    event_until: Annotated[str | None, Query(description="Only memories about events before this time: " + _TIME)] = None,
    sensitivity: Annotated[
        list[str] | None, Query(description="Only memories with this label (repeat for several).")
    ] = None,
) -> Any:
    """One page, and ``next_cursor`` / ``next`` (the URL of the next page), both null on the last page.
    Memories added while a client walks the pages never shift them: each memory is seen once."""
    p = state_of(request).open_persona()
    inner = who.inner(user)
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInputError(f"limit must be in 1..{MAX_PAGE_SIZE}, got {limit}; walk the pages with cursor.")
    page = await run(
        lambda: p.list_page(
            inner, kind=kind, since=since, until=until, limit=limit, cursor=cursor,  # type: ignore[arg-type]
            include_superseded=include_superseded, event_since=event_since,  # type: ignore[arg-type]
            event_until=event_until, sensitivity=sensitivity,  # type: ignore[arg-type]
        )
    )
    following = None
    if page.next_cursor is not None:
        url = request.url.include_query_params(cursor=page.next_cursor)
        following = f"{url.path}?{url.query}"
    return _json(
        {"memories": [memory_json(m, who) for m in page.memories], "next_cursor": page.next_cursor, "next": following}
    )


@router.get("/memories/{memory_id}", summary="One memory")
async def get_memory(memory_id: str, request: Request, who: Caller) -> Any:
    p = state_of(request).open_persona()
    return _json(memory_json(await run(lambda: owned_memory(p, memory_id, who)), who))


@router.patch("/memories/{memory_id}", summary="Change a memory (the history keeps the earlier version)")
async def update_memory(memory_id: str, body: MemoryPatch, request: Request, who: Caller) -> Any:
    p = state_of(request).open_persona()
    who.check_write()
    changes = body.model_dump(exclude_none=True)

    def update() -> Any:
        owned_memory(p, memory_id, who)
        return p.update(memory_id, **changes)

    return _json(memory_json(await run(update), who))


@router.delete("/memories/{memory_id}", summary="Delete a memory and purge its text")
async def delete_memory(memory_id: str, request: Request, who: Caller) -> Any:
    p = state_of(request).open_persona()
    who.check_write()

    def delete() -> None:
        owned_memory(p, memory_id, who)
        p.delete(memory_id)

    await run(delete)
    return _json({"id": memory_id, "deleted": True})


@router.get("/memories/{memory_id}/history", summary="Every add/update/delete of a memory")
async def memory_history(memory_id: str, request: Request, who: Caller) -> Any:
    p = state_of(request).open_persona()

    def history() -> Any:
        if who.tenant is not None:  # a deleted memory has no owner left to check: its history is not shown
            owned_memory(p, memory_id, who)
        return p.history(memory_id)

    return _json({"memory_id": memory_id, "history": [h.to_dict() for h in await run(history)]})


@router.post("/users/{user}/search", summary="The user's memories most relevant to a query")
async def search(user: str, body: SearchIn, request: Request, who: Caller) -> Any:
    p = state_of(request).open_persona()
    inner = who.inner(user)
    args = body.model_dump()
    query = args.pop("query")
    hits = await run(lambda: p.search(inner, query, **args))
    return _json({"hits": [{**memory_json(h.memory, who), "score": h.score, "parts": dict(h.parts)} for h in hits]})


@router.post("/users/{user}/prompt", summary="Render the user's memories and a message into chat messages")
async def prompt(user: str, body: PromptIn, request: Request, who: Caller) -> Any:
    p = state_of(request).open_persona()
    inner = who.inner(user)
    args = body.model_dump()
    message = args.pop("message")
    args["model"] = args["model"] or state_of(request).config.model
    rendered = await run(lambda: p.prompt(inner, message, **args))
    return _json(rendered.to_dict())


@router.get("/users/{user}/export", summary="Everything about a user, as persona export JSON")
async def export_user(user: str, request: Request, who: Caller) -> Any:
    p = state_of(request).open_persona()
    inner = who.inner(user)
    data = await run(lambda: p.export_user(inner))
    data["user_id"] = who.outer(data["user_id"])
    for memory in data.get("memories", []):
        memory["user_id"] = who.outer(memory["user_id"])
    for record in [data.get("consent") or {}, *data.get("disclosures", [])]:
        if "user_id" in record:
            record["user_id"] = who.outer(record["user_id"])
    return _json(data)


@router.delete("/users/{user}", summary="Forget a user: erase every memory, history entry and index file")
async def forget_user(user: str, request: Request, who: Caller) -> Any:
    p = state_of(request).open_persona()
    who.check_write()
    inner = who.inner(user)
    erased = await run(lambda: p.forget_user(inner))
    return _json({"user_id": user, "erased": erased})


@router.post("/feedback", summary="Rate a reply in [-1, 1]")
async def feedback(body: FeedbackIn, request: Request, who: Caller) -> Any:
    p = state_of(request).open_persona()
    who.check_write()

    def rate() -> Any:
        if not who.owns(p.reply_user(body.reply_id)):
            raise NotFoundError(f"no reply {body.reply_id!r}: pass the id of a reply from this API.")
        return p.feedback(body.reply_id, body.rating, comment=body.comment)

    result = await run(rate)
    return JSONResponse(
        {
            "reply_id": result.reply_id,
            "rating": result.rating,
            "importance": result.importance,
            "learned": [memory_json(m, who) for m in result.learned],
        }
    )
