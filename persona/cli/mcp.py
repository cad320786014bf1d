"""``persona mcp``: persona as the memory of an MCP client, over stdio (the ``server`` extra, loaded lazily)."""

from __future__ import annotations

import importlib.util
from typing import Annotated

import typer

from persona.errors import MissingDependencyError

from ._app import embedder_spec, state_of
from .serve import PANEL, StoreOption

__all__ = ["register"]


def mcp(
    ctx: typer.Context,
    store: StoreOption = None,
    model: Annotated[
        str | None,
        typer.Option(
            metavar="MODEL",
            show_default=False,
            help="The model render_prompt sizes its token budget for when a call names none (a litellm name). "
            "Example: --model openai/gpt-4o-mini",
        ),
    ] = None,
) -> None:
    """Serve persona to an MCP client (Claude Desktop, an IDE, an agent) over stdin/stdout until it disconnects.

    Tools: search_memories, add_memory, list_memories, forget_user, render_prompt. The client starts this
    command itself; stdout carries only the protocol, logs go to stderr. Needs the server extra:
    pip install 'persona[server]'.

    Example: persona mcp --store ~/.persona
    """
    if importlib.util.find_spec("mcp") is None:
        raise MissingDependencyError("persona mcp needs the MCP SDK: pip install 'persona[server]'.")
    from persona.server.mcp_server import serve_stdio

    state = state_of(ctx)
    serve_stdio(store or state.store, embedder=embedder_spec(state.embedder), model=model)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("mcp", rich_help_panel=PANEL)(mcp)
