"""``persona mcp``: persona as the memory of any MCP client, over stdio (the official ``mcp`` SDK).

`build` makes the MCP server over one open `persona.Persona`; `serve_stdio` opens the store and runs it until
the client closes stdin. The tools are thin calls of the public methods (`search`, `add`, `list_page`,
`forget_user`, `prompt`) and return their results as JSON objects. A `PersonaError` becomes an MCP tool
error carrying the library's message; anything else is reported by the SDK as a failed call, its traceback
going to stderr only. stdout carries the protocol and nothing else: logs go to stderr.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from persona import Persona, PersonaError, __version__
from persona.backends.base import Embedder

__all__ = ["build", "serve_stdio"]

T = TypeVar("T")
log = logging.getLogger("persona.mcp")

User = Annotated[str, Field(description="The user whose memories these are (any stable id, e.g. 'alice').")]
Kind = Annotated[
    str | None, Field(description="Only memories of this kind: fact, preference, episode or profile.")
]
Time = Annotated[str | None, Field(description="An ISO 8601 date or time (UTC unless it has an offset).")]
EventSince = Annotated[
    str | None,
    Field(description="Only memories about events from this time on (the times their text names, else when "
          "they were said); ISO 8601."),
]
EventUntil = Annotated[str | None, Field(description="Only memories about events before this time; ISO 8601.")]
INSTRUCTIONS = (
    "persona is a per-user long-term memory. Before answering a user, search_memories (or render_prompt) for "
    "what you know about them; add_memory when they tell you something worth remembering about themselves."
)


def _library(fn: Callable[[], T]) -> T:
    """Call the library; its errors become tool errors with its message (never a traceback)."""
    try:
        return fn()
    except PersonaError as exc:
        raise ToolError(" ".join(str(exc).split()) or type(exc).__name__) from None


def build(p: Persona) -> MCPServer[Any]:
    """The MCP server whose tools use ``p`` (render_prompt's default model is ``p``'s)."""
    server: MCPServer[Any] = MCPServer("persona", version=__version__, instructions=INSTRUCTIONS)

    @server.tool()
    def search_memories(
        user: User,
        query: Annotated[str, Field(description="What to look for, in plain words.")],
        k: Annotated[int, Field(description="How many memories at most (1..10000).")] = 10,
        kind: Kind = None,
        filters: Annotated[
            dict[str, Any] | None, Field(description="Metadata that must match exactly, e.g. {\"topic\": \"food\"}.")
        ] = None,
        since: Time = None,
        until: Time = None,
        include_superseded: Annotated[bool, Field(description="Also memories a newer one replaced.")] = False,
        event_since: EventSince = None,
        event_until: EventUntil = None,
    ) -> dict[str, Any]:
        """The user's memories most relevant to a query, best first, each with its score."""
        hits = _library(
            lambda: p.search(
                user, query, k=k, kind=kind, filters=filters, since=since, until=until,  # type: ignore[arg-type]
                include_superseded=include_superseded, event_since=event_since,  # type: ignore[arg-type]
                event_until=event_until,  # type: ignore[arg-type]
            )
        )
        return {"hits": [h.to_dict() for h in hits]}

    @server.tool()
    def add_memory(
        user: User,
        text: Annotated[str, Field(description="The thing to remember, as one self-contained sentence.")],
        kind: Annotated[
            str, Field(description="fact, preference, episode (an event) or profile.")
        ] = "fact",
        metadata: Annotated[dict[str, Any] | None, Field(description="JSON metadata to keep with it.")] = None,
        created_at: Annotated[Time, Field(description="When it was said or happened (default: now); ISO 8601.")] = None,
        importance: Annotated[float | None, Field(description="How much it matters, 0..1 (default 0.5).")] = None,
    ) -> dict[str, Any]:
        """Remember one thing about the user. A duplicate returns the existing memory; a newer statement of the
        same fact (where they live, say) supersedes the older one."""
        memory = _library(
            lambda: p.add(
                user, text, kind=kind, metadata=metadata, created_at=created_at,  # type: ignore[arg-type]
                importance=importance, source="mcp",
            )
        )
        return memory.to_dict()

    @server.tool()
    def list_memories(
        user: User,
        limit: Annotated[int, Field(description="Memories per page (at least 1).")] = 50,
        cursor: Annotated[
            str | None, Field(description="The next_cursor of the previous page; none for the first page.")
        ] = None,
        kind: Kind = None,
        since: Time = None,
        until: Time = None,
        include_superseded: Annotated[bool, Field(description="Also memories a newer one replaced.")] = False,
        event_since: EventSince = None,
        event_until: EventUntil = None,
    ) -> dict[str, Any]:
        """A page of the user's memories, newest first, and next_cursor for the next page (null on the last)."""
        page = _library(
            lambda: p.list_page(
                user, limit=limit, cursor=cursor, kind=kind, since=since, until=until,  # type: ignore[arg-type]
                include_superseded=include_superseded, event_since=event_since,  # type: ignore[arg-type]
                event_until=event_until,  # type: ignore[arg-type]
            )
        )
        return page.to_dict()

    @server.tool()
    def forget_user(user: User) -> dict[str, Any]:
        """Erase everything persona holds about the user: every memory, its history and its index. Cannot be undone."""
        return {"user_id": user, "erased": _library(lambda: p.forget_user(user))}

    @server.tool()
    def render_prompt(
        user: User,
        message: Annotated[str, Field(description="The user's new message.")],
        strategy: Annotated[
            str, Field(description="How memories are rendered: a persona strategy name (default hybrid).")
        ] = "hybrid",
        model: Annotated[
            str | None,
            Field(description="The model the prompt is for (sizes the token budget), a litellm name; "
                  "default: persona mcp --model."),
        ] = None,
        max_prompt_tokens: Annotated[
            int | None, Field(description="Token budget for the whole prompt (default: from the model).")
        ] = None,
        history: Annotated[
            list[dict[str, Any]] | None,
            Field(description="Earlier turns as OpenAI chat messages ({\"role\", \"content\"}), oldest first."),
        ] = None,
    ) -> dict[str, Any]:
        """The chat messages that personalize a reply: the user's relevant memories rendered into a system
        message, then the history and the message, within the token budget; and the memory ids used."""
        rendered = _library(
            lambda: p.prompt(
                user, message, strategy=strategy, model=model,
                max_prompt_tokens=max_prompt_tokens, history=history,
            )
        )
        return rendered.to_dict()

    return server


def serve_stdio(store: str | None, *, embedder: Embedder | str | None = None, model: str | None = None) -> None:
    """Open the store and serve MCP over stdin/stdout until the client closes stdin; close the store after."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(name)s: %(message)s")
    with Persona(store, embedder=embedder, model=model) as p:
        log.info("persona mcp: store %s", p.location)
        build(p).run("stdio")
