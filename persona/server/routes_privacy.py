"""The REST API's privacy routes: a user's consent and their disclosure log ("who saw what about me").

`GET|PUT /v1/users/{user}/consent`, `GET /v1/users/{user}/disclosures` and `GET|DELETE /v1/users/{user}/policy`
(the ``strategy="auto"`` bandit), over `Persona.consent`, `Persona.set_consent`, `Persona.disclosures`,
`Persona.policy` and `Persona.reset_policy`; user ids are the caller's own (`auth.Principal` maps them
into the tenant's namespace and back), and changing consent needs a key that may write.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ..learning.policy import Policy
from .auth import Principal
from .deps import caller, run, state_of

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["privacy"])
Caller = Annotated[Principal, Depends(caller)]
_TIME = "An ISO 8601 date or time (UTC unless it has an offset)."


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    learning: bool | None = Field(None, description="Off: chat stores nothing of the user's turns.")
    personalization: bool | None = Field(None, description="Off: no memory of the user reaches a prompt.")
    retention: dict[str, str | None] | None = Field(
        None, description='The user\'s own times to live per kind ("30d"; null keeps a kind forever; {} clears).'
    )


def _outer(data: dict[str, Any], who: Principal) -> dict[str, Any]:
    data["user_id"] = who.outer(data["user_id"])
    return data


@router.get("/users/{user}/consent", summary="What the user agreed to (the defaults when never set)")
async def get_consent(user: str, request: Request, who: Caller) -> Any:
    p = state_of(request).open_persona()
    inner = who.inner(user)
    consent = await run(lambda: p.consent(inner))
    return JSONResponse(_outer(consent.to_dict(), who))


@router.put("/users/{user}/consent", summary="Set what the user agreed to; what is not sent stays as it was")
async def put_consent(user: str, body: ConsentIn, request: Request, who: Caller) -> Any:
    p = state_of(request).open_persona()
    who.check_write()
    inner = who.inner(user)
    consent = await run(
        lambda: p.set_consent(
            inner, learning=body.learning, personalization=body.personalization, retention=body.retention
        )
    )
    return JSONResponse(_outer(consent.to_dict(), who))


@router.get("/users/{user}/disclosures", summary="Which of the user's memories went to which model, newest first")
async def disclosures(
    user: str,
    request: Request,
    who: Caller,
    since: Annotated[str | None, Query(description=_TIME)] = None,
    until: Annotated[str | None, Query(description=_TIME)] = None,
    limit: Annotated[int | None, Query(description="At most this many records.")] = None,
) -> Any:
    p = state_of(request).open_persona()
    inner = who.inner(user)
    found = await run(
        lambda: p.disclosures(inner, since=since, until=until, limit=limit)  # type: ignore[arg-type]
    )
    return JSONResponse({"disclosures": [_outer(d.to_dict(), who) for d in found]})


@router.get("/users/{user}/policy", summary='How strategy "auto" chooses for the user (docs/bandit.md)')
async def get_policy(user: str, request: Request, who: Caller) -> Any:
    p = state_of(request).open_persona()
    inner = who.inner(user)
    policy = await run(lambda: p.policy(inner))
    return JSONResponse(_outer(policy.to_dict(), who))


@router.delete("/users/{user}/policy", summary='Reset the user\'s strategy "auto" evidence to the pooled prior')
async def delete_policy(user: str, request: Request, who: Caller) -> Any:
    p = state_of(request).open_persona()
    who.check_write()
    inner = who.inner(user)

    def reset() -> Policy:
        p.reset_policy(inner)
        return p.policy(inner)

    policy = await run(reset)
    return JSONResponse(_outer(policy.to_dict(), who))
