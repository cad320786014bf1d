"""`create_app`: the FastAPI app for a `ServerConfig`, and its lifespan.

Startup opens the `persona.Persona` (in a worker thread; opening runs a retention sweep) and only then
reports ready, then sweeps every ``config.sweep_minutes`` (`persona.server.sweeps`); shutdown (SIGTERM or
Ctrl-C through uvicorn) stops reporting ready, stops the sweeps and drains background learning with
`Persona.close`, waiting at most ``config.drain_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import fail_after, to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp

from persona import Persona, __version__
from persona.backends.base import Embedder

from . import errors, proxy, routes_memories, routes_privacy
from .auth import load_keys
from .config import ServerConfig
from .deps import ServerState, state_of
from .errors import NotReady
from .limits import BodyLimit
from .metrics import MetricsMiddleware
from .sweeps import run_sweeps, stop_sweeps

__all__ = ["app_from_env", "create_app"]

log = logging.getLogger("persona.server")


def _embedder(config: ServerConfig) -> Embedder | str | None:
    if config.embedder is None or not config.embedder.strip():
        return None
    if config.embedder.strip() == "fake":
        from persona.testing import FakeEmbedder

        return FakeEmbedder()
    return config.embedder.strip()


def create_app(config: ServerConfig | None = None, *, embedder: Embedder | None = None) -> FastAPI:
    """The app. ``embedder`` overrides ``config.embedder`` (tests pass `persona.testing.FakeEmbedder`)."""
    config = (config or ServerConfig()).check()
    state = ServerState(config=config, keys=load_keys(config.keys_file))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        spec = embedder if embedder is not None else _embedder(config)
        state.persona = await to_thread.run_sync(
            lambda: Persona(config.store, embedder=spec, model=config.model, retention=config.retention)
        )
        state.ready = True
        log.info("persona serve: store %s ready", state.persona.location)
        sweeping = asyncio.create_task(run_sweeps(state.persona, config.sweep_minutes), name="persona-sweeps")
        try:
            yield
        finally:
            state.ready = False
            await stop_sweeps(sweeping)
            p = state.persona
            try:
                with fail_after(config.drain_seconds):
                    await to_thread.run_sync(p.close, abandon_on_cancel=True)
            except TimeoutError:
                log.warning("learning did not drain within %.0f s; pending turns are dropped", config.drain_seconds)

    app = FastAPI(
        title="persona",
        version=__version__,
        summary="Per-user memory for LLMs: a REST API and an OpenAI-compatible personalizing proxy.",
        lifespan=lifespan,
    )
    app.state.persona_server = state
    errors.install(app)
    app.include_router(routes_memories.router)
    app.include_router(routes_privacy.router)
    app.include_router(proxy.router)

    @app.get("/healthz", tags=["ops"], summary="The process is up")
    async def healthz() -> Any:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], summary="The store is open and requests are served")
    async def readyz(request: Request) -> Any:
        s = state_of(request)
        if not s.ready:
            raise NotReady("the server is starting or shutting down.")
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics(request: Request) -> Any:
        s = state_of(request)
        stats = None
        if s.ready and s.persona is not None:
            p = s.persona
            stats = await to_thread.run_sync(p.stats)
        text = s.metrics.render(
            memories=None if stats is None else stats.memories,
            users=None if stats is None else stats.users,
            size_bytes=None if stats is None else stats.size_bytes,
        )
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    return app


def app_from_env() -> ASGIApp:
    """The app of one uvicorn worker process (``persona serve --workers N``): its config comes from the parent."""
    return create_app(ServerConfig.from_env())
