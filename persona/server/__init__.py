"""`persona serve`: the REST API and the OpenAI-compatible personalizing proxy; `persona mcp` (the ``server`` extra).

The modules, from the outside in::

    run.py             serve(config): checks the address, runs uvicorn (one process or several workers)
    app.py             create_app(config): the FastAPI app, its lifespan (open and drain the Persona)
    routes_memories.py the REST API over the public `persona.Persona` methods
    proxy.py           POST /v1/chat/completions and GET /v1/models, in OpenAI's wire format
    auth.py            API keys (--keys FILE), tenants and the user-id namespace of each tenant
    errors.py          every exception to a JSON error body and its status, in one place
    limits.py          the request body size limit (413 before anything is parsed)
    metrics.py         Prometheus text: request counts and latency histograms per route, store size
    mcp_server.py      persona mcp: the library as MCP tools over stdio (the official ``mcp`` SDK)
    deps.py            what every route needs: the state, the caller, `run` (a library call off the loop)
    config.py          ServerConfig: what ``persona serve`` was asked for

This layer uses the public API of `persona` (plus `persona.validation` to check user ids as the library does,
the `Embedder` protocol and `persona.testing` for the embedder option, and `persona._env` so litellm stays
offline); importing it needs FastAPI and uvicorn,
and `mcp_server` the MCP SDK (``pip install 'persona[server]'``).
"""

from __future__ import annotations

from .app import create_app
from .config import ServerConfig

__all__ = ["ServerConfig", "create_app"]
