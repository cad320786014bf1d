"""The request body limit: a body over ``max_bytes`` gets 413 before any of it is parsed.

A declared ``Content-Length`` over the limit is refused at once; a body without one is read (at most the limit
plus one chunk) and refused as soon as it passes the limit, before the app sees any of it.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit"]


class BodyLimit:
    """ASGI middleware enforcing the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await self._refuse(send, 400, "invalid_input", "Content-Length is not a number.")
                    return
                if declared > self.max_bytes:
                    await self._refuse(send, 413, "too_large", self._too_large())
                    return
        chunks: list[bytes] = []
        seen = 0
        while True:  # read the whole body first (it is at most max_bytes), then hand it on in one message
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await self._refuse(send, 413, "too_large", self._too_large())
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> str:
        return f"the request body is over the limit of {self.max_bytes:,} bytes; send less per request."

    @staticmethod
    async def _refuse(send: Send, status: int, kind: str, text: str) -> None:
        body = json.dumps({"error": {"type": kind, "message": text}}).encode()
        headers: list[Any] = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
