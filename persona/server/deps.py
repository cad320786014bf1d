"""What every route needs: the server's state, the caller, and a way to run library calls off the event loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from anyio import to_thread
from fastapi import Request

from persona import Memory, NotFoundError, Persona

from .auth import KeyRing, Principal
from .config import ServerConfig
from .errors import NotReady
from .metrics import Metrics

__all__ = ["ServerState", "caller", "memory_json", "owned_memory", "run", "state_of"]

T = TypeVar("T")


@dataclass
class ServerState:
    config: ServerConfig
    keys: KeyRing
    metrics: Metrics = field(default_factory=Metrics)
    persona: Persona | None = None
    ready: bool = False

    def open_persona(self) -> Persona:
        if self.persona is None or not self.ready:
            raise NotReady("the server is starting or shutting down; retry in a moment.")
        return self.persona


def state_of(request: Request) -> ServerState:
    state: ServerState = request.app.state.persona_server
    return state


async def caller(request: Request) -> Principal:
    """The authenticated caller (a FastAPI dependency); `AuthError` for a missing or unknown key.

    Async on purpose: a sync dependency costs a thread-pool round trip per request, and checking a key is a
    few hashes (no I/O), cheaper than the hop."""
    return state_of(request).keys.authenticate(request.headers.get("authorization"))


async def run(fn: Callable[[], T]) -> T:
    """Run a blocking library call in the worker thread pool, so the event loop keeps serving."""
    return await to_thread.run_sync(fn)


def memory_json(memory: Memory, who: Principal) -> dict[str, object]:
    """A memory as JSON, with the caller's own user id."""
    out = memory.to_dict()
    out["user_id"] = who.outer(memory.user_id)
    return out


def owned_memory(p: Persona, memory_id: str, who: Principal) -> Memory:
    """The memory, when it belongs to the caller's tenant; another tenant's looks exactly like a missing one."""
    try:
        memory = p.get(memory_id)
    except NotFoundError:
        raise NotFoundError(f"no memory {memory_id!r}.") from None
    if not who.owns(memory.user_id):
        raise NotFoundError(f"no memory {memory_id!r}.")
    return memory
