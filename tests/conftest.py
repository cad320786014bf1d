"""Shared fixtures: a temporary home, a clean environment, and no network, for every test."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _stores import ENGINES, fresh_store

from persona import Persona
from persona.testing import FakeEmbedder

# The library must set what it needs by itself: tests start without these.
for _var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "LITELLM_LOCAL_MODEL_COST_MAP", "TIKTOKEN_CACHE_DIR"):
    os.environ.pop(_var, None)

DATA_DIR = Path(os.environ.get("PERSONA_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))


class NetworkBlocked(RuntimeError):
    pass


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo
LOOPBACK = frozenset({"127.0.0.1", "::1"})
"""Literal loopback addresses: the only network the tests may use (servers they start themselves)."""
LOOPBACK_NAMES = LOOPBACK | {"localhost"}


def _guard(sock: socket.socket, address: Any) -> None:
    if sock.family == socket.AF_UNIX:
        return
    if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple) and address[0] in LOOPBACK:
        return
    raise NetworkBlocked(f"test tried to open a network connection to {address!r}")


def _blocked_connect(self: socket.socket, address: Any) -> None:
    _guard(self, address)
    _real_connect(self, address)


def _blocked_connect_ex(self: socket.socket, address: Any) -> int:
    _guard(self, address)
    return _real_connect_ex(self, address)


def _blocked_getaddrinfo(*args: Any, **kwargs: Any) -> Any:
    host = args[0] if args else kwargs.get("host")
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host in LOOPBACK_NAMES:
        return _real_getaddrinfo(*args, **kwargs)
    raise NetworkBlocked(f"test tried to resolve {host!r}")


socket.socket.connect = _blocked_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _blocked_connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = _blocked_getaddrinfo


@pytest.fixture(autouse=True)
def _home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("PERSONA_HOME", str(home / "store"))
    return home


@pytest.fixture
def embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def p(store_path: Path, embedder: FakeEmbedder) -> Iterator[Persona]:
    with Persona(store_path, embedder=embedder) as persona:
        yield persona


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Each store engine in turn: "sqlite", then "postgres" (skipped when no test server; tests/_stores.py)."""
    return str(request.param)


@pytest.fixture
def location(engine: str, tmp_path: Path) -> Iterator[str]:
    """Where a new, empty store of each engine lives: a directory, or a DSN naming a fresh schema."""
    with fresh_store(engine, tmp_path) as where:
        yield where


@pytest.fixture
def data_dir() -> Path:
    if not (DATA_DIR / "locomo" / "locomo_dev.json").exists():
        pytest.skip(
            f"benchmark data not found at {DATA_DIR} (set PERSONA_DATA_DIR to the shared/data folder)"
        )
    return DATA_DIR
