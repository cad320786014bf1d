"""``persona serve``: the HTTP API and the OpenAI-compatible proxy (the ``server`` extra, loaded lazily)."""

from __future__ import annotations

import importlib.util
from typing import Annotated

import typer

from persona.errors import MissingDependencyError

from ._app import state_of

__all__ = ["register"]

PANEL = "Service"

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        metavar="STORE",
        show_default=False,
        help="The store (a directory or a PostgreSQL DSN); default: the global --store. Example: --store ./memories",
    ),
]
"""The service commands' own ``--store`` (``serve`` and ``mcp``)."""


def serve(
    ctx: typer.Context,
    store: StoreOption = None,
    host: Annotated[
        str,
        typer.Option(help="Address to listen on. Anything but loopback needs --keys. Example: --host 0.0.0.0"),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on. Example: --port 8080")] = 8080,
    keys: Annotated[
        str | None,
        typer.Option(
            "--keys",
            metavar="FILE",
            show_default=False,
            help='API keys and their tenants (TOML: [keys."<key>"] tenant = "acme", read_only = true). Without '
            "it the server is open and listens on loopback only. Example: --keys keys.toml",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            metavar="MODEL",
            show_default=False,
            help="The model for requests that name none (a litellm name, or with --api-base the upstream's "
            "name). Example: --model openai/gpt-4o-mini",
        ),
    ] = None,
    api_base: Annotated[
        str | None,
        typer.Option(
            "--api-base",
            metavar="URL",
            show_default=False,
            help="Send model calls to this OpenAI-compatible upstream (vLLM, Ollama, ...) as openai/<model>; "
            "its key comes from $PERSONA_UPSTREAM_API_KEY. Example: --api-base http://127.0.0.1:8000/v1",
        ),
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes sharing the store. Example: --workers 2")] = 1,
    max_body: Annotated[
        int,
        typer.Option("--max-body", metavar="BYTES", help="Largest request body accepted. Example: --max-body 1048576"),
    ] = 4 * 1024 * 1024,
    retention: Annotated[
        str | None,
        typer.Option(
            "--retention",
            metavar="KIND=DURATION,...",
            envvar="PERSONA_RETENTION",
            show_default=False,
            help="Times to live, swept when the store opens and every --sweep-every minutes (see persona "
            "retention). Default: $PERSONA_RETENTION. Example: --retention episode=365d,reply=30d",
        ),
    ] = None,
    sweep_every: Annotated[
        float,
        typer.Option("--sweep-every", metavar="MINUTES", help="Minutes between retention sweeps. Example: --sweep-every 15"),
    ] = 60.0,
) -> None:
    """Serve the REST API and an OpenAI-compatible personalizing proxy over HTTP until SIGTERM or Ctrl-C.

    Point any OpenAI SDK's base_url at http://HOST:PORT/v1: every chat request is personalized with the
    memories of its user (the request's 'user' field or the X-Persona-User header) and learned from.
    OpenAPI docs at /docs. Needs the server extra: pip install 'persona[server]'.

    Example: persona serve --store ./memories --model openai/gpt-4o-mini --keys keys.toml --host 0.0.0.0
    """
    if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None:
        raise MissingDependencyError("persona serve needs FastAPI and uvicorn: pip install 'persona[server]'.")
    from persona.server.config import ServerConfig
    from persona.server.run import serve as run_server

    state = state_of(ctx)
    config = ServerConfig(
        store=store or state.store,
        host=host,
        port=port,
        keys_file=keys,
        model=model,
        api_base=api_base,
        workers=workers,
        embedder=state.embedder,
        max_body_bytes=max_body,
        retention=retention,
        sweep_minutes=sweep_every,
    )
    run_server(config)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("serve", rich_help_panel=PANEL)(serve)
