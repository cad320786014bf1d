"""`ServerConfig`: what ``persona serve`` was asked for, and its round trip through the environment (workers)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields

from persona import RetentionPolicy
from persona.errors import InvalidInputError

__all__ = ["CONFIG_ENV", "DEFAULT_MAX_BODY_BYTES", "LOOPBACK_HOSTS", "ServerConfig"]

CONFIG_ENV = "PERSONA_SERVE_CONFIG"
"""Where `serve` leaves the configuration for uvicorn's worker processes (JSON)."""
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True)
class ServerConfig:
    """The server's settings. ``embedder`` is an embedder name (``"fake"``: the deterministic test embedder)."""

    store: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    keys_file: str | None = None
    model: str | None = None
    api_base: str | None = None
    workers: int = 1
    embedder: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    drain_seconds: float = 10.0
    retention: str | None = None
    """The store's retention policy, ``episode=365d,reply=30d`` (`persona.RetentionPolicy.of`); None: none."""
    sweep_minutes: float = 60.0
    """How often the retention sweep runs (it also runs when the store opens)."""

    def check(self) -> ServerConfig:
        """``self`` when it can be served; else ``InvalidInputError`` saying why (nothing falls back)."""
        if self.keys_file is None and self.host not in LOOPBACK_HOSTS:
            raise InvalidInputError(
                f"refusing to listen on {self.host!r} without API keys: anyone who can reach it could read every "
                "user's memories. Pass --keys FILE (see README, 'Run as a service'), or listen on 127.0.0.1."
            )
        if not 0 <= self.port <= 65535:
            raise InvalidInputError(f"port must be in 0..65535, got {self.port}.")
        if self.workers < 1:
            raise InvalidInputError(f"workers must be at least 1, got {self.workers}.")
        if self.max_body_bytes < 1:
            raise InvalidInputError(f"max_body_bytes must be at least 1, got {self.max_body_bytes}.")
        if not self.sweep_minutes > 0:
            raise InvalidInputError(f"sweep_minutes must be more than 0, got {self.sweep_minutes}.")
        RetentionPolicy.of(self.retention)  # InvalidInputError now, not when the store opens
        return self

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServerConfig:
        raw = os.environ.get(CONFIG_ENV)
        if not raw:
            raise InvalidInputError(f"${CONFIG_ENV} is not set; start the server with `persona serve`.")
        data = json.loads(raw)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
