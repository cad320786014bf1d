"""`serve`: check the configuration, then run uvicorn (in this process, or as ``workers`` processes)."""

from __future__ import annotations

import os

from .config import CONFIG_ENV, ServerConfig

__all__ = ["serve"]

GRACEFUL_SECONDS = 4
"""How long uvicorn waits for open requests at shutdown; learning then drains (``drain_seconds``), < 15 s."""


def serve(config: ServerConfig) -> None:
    """Serve until SIGTERM or Ctrl-C. Raises ``InvalidInputError`` for a configuration that cannot be served."""
    import uvicorn

    from .app import create_app
    from .auth import load_keys

    config.check()
    load_keys(config.keys_file)  # a bad keys file fails here, before any worker starts
    common: dict[str, object] = {
        "host": config.host,
        "port": config.port,
        "timeout_graceful_shutdown": GRACEFUL_SECONDS,
        "log_level": "info",
        "access_log": False,  # an access log would hold user ids in paths; the metrics count requests
    }
    if config.workers == 1:
        uvicorn.run(create_app(config), **common)  # type: ignore[arg-type]
        return
    os.environ[CONFIG_ENV] = config.to_env()
    uvicorn.run(
        "persona.server.app:app_from_env", factory=True, workers=config.workers, **common  # type: ignore[arg-type]
    )
