"""Every exception to a JSON error, in one place: ``{"error": {"type": ..., "message": ...}}`` and its status.

================================  ======  =====================
raised                            status  ``type``
================================  ======  =====================
InvalidInputError, schema errors  400     invalid_input
UnknownModelError                 400     unknown_model
AuthError (no or unknown key)     401     authentication_error
Forbidden (read-only key writing) 403     permission_denied
NotFoundError, unknown routes     404     not_found
method not allowed                405     method_not_allowed
body over the limit (limits.py)   413     too_large
LLMError, ExtractionFailed        502     upstream_error
NotReady, StoreError, embedder    503     unavailable
anything else                     500     internal_error (the traceback goes to the log, never the client)
================================  ======  =====================
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from persona.errors import (
    EmbedderError,
    EmbedderMismatchError,
    ExtractionFailed,
    InvalidInputError,
    LLMError,
    MissingDependencyError,
    NotFoundError,
    PersonaError,
    StoreError,
    UnknownModelError,
)

__all__ = ["AuthError", "Forbidden", "NotReady", "error_response", "install", "status_of"]

log = logging.getLogger("persona.server")


# The server's own errors: HTTP conditions, not library failures, so they stay out of persona's error tree.
class AuthError(Exception):
    """No key, or a key the server does not know (401)."""


class Forbidden(Exception):
    """The key may not do this: a read-only key writing (403)."""


class NotReady(Exception):
    """The server is starting or shutting down (503)."""


# Most specific first: the first class an exception is an instance of decides.
_MAP: tuple[tuple[type[BaseException], int, str], ...] = (
    (UnknownModelError, 400, "unknown_model"),
    (InvalidInputError, 400, "invalid_input"),
    (AuthError, 401, "authentication_error"),
    (Forbidden, 403, "permission_denied"),
    (NotFoundError, 404, "not_found"),
    (LLMError, 502, "upstream_error"),
    (ExtractionFailed, 502, "upstream_error"),
    (NotReady, 503, "unavailable"),
    (StoreError, 503, "unavailable"),
    (EmbedderMismatchError, 503, "unavailable"),
    (EmbedderError, 503, "unavailable"),
    (MissingDependencyError, 503, "unavailable"),
)
_BY_STATUS = {400: "invalid_input", 401: "authentication_error", 403: "permission_denied", 404: "not_found",
              405: "method_not_allowed", 413: "too_large", 503: "unavailable"}


def status_of(exc: BaseException) -> tuple[int, str]:
    for cls, status, kind in _MAP:
        if isinstance(exc, cls):
            return status, kind
    return 500, "internal_error"


def error_response(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status, headers=headers)


def _message(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


async def _known(request: Request, exc: Exception) -> JSONResponse:
    status, kind = status_of(exc)
    if status == 500:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, kind, "internal error; the server log has the details.")
    if status >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, _message(exc))
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return error_response(status, kind, _message(exc), headers)


async def _schema(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return error_response(400, "invalid_input", "; ".join(parts) or "the request body is not valid.")


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kind = _BY_STATUS.get(exc.status_code, "http_error")
    message = str(exc.detail) if exc.status_code != 404 else f"no route {request.method} {request.url.path}."
    return error_response(exc.status_code, kind, message, dict(exc.headers or {}) or None)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    handlers: dict[Any, Any] = {
        RequestValidationError: _schema,
        StarletteHTTPException: _http,
        PersonaError: _known,
        AuthError: _known,
        Forbidden: _known,
        NotReady: _known,
        Exception: _known,
    }
    for cls, handler in handlers.items():
        app.add_exception_handler(cls, handler)
