"""Real servers on loopback for the server tests: persona's app under uvicorn, and a fake OpenAI upstream.

Every server listens on 127.0.0.1 on a free port, starts within a bounded wait and is always stopped.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import uvicorn

STARTUP_SECONDS = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(app: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread; yields its base URL (``http://127.0.0.1:PORT``)."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on port {port} did not start within {STARTUP_SECONDS} s")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@dataclass
class Upstream:
    """A fake OpenAI-compatible chat server: records every request body; answers ``reply`` (in ``pieces``
    when streaming), or fails with ``fail_status``; waits ``delay`` seconds first."""

    reply: str = "Hello from upstream"
    pieces: int = 3
    fail_status: int | None = None
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def chunks(self) -> list[str]:
        size = max(1, -(-len(self.reply) // self.pieces))
        return [self.reply[i : i + size] for i in range(0, len(self.reply), size)]


def _handler(up: Upstream) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            up.requests.append(body)
            if up.delay:
                time.sleep(up.delay)
            if up.fail_status is not None:
                self._json(up.fail_status, {"error": {"message": "upstream says no", "type": "invalid_request_error"}})
                return
            model = body.get("model", "fake")
            if not body.get("stream"):
                self._json(200, {
                    "id": "cmpl-1", "object": "chat.completion", "created": 0, "model": model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": up.reply},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14},
                })
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for piece in up.chunks():
                chunk = {"id": "cmpl-1", "object": "chat.completion.chunk", "created": 0, "model": model,
                         "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            end = {"id": "cmpl-1", "object": "chat.completion.chunk", "created": 0, "model": model,
                   "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
            self.wfile.flush()

    return Handler


@contextmanager
def upstream(**options: Any) -> Iterator[Upstream]:
    """A running `Upstream` on loopback; ``.url`` is its OpenAI base URL (``http://127.0.0.1:PORT/v1``)."""
    up = Upstream(**options)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(up))
    server.daemon_threads = True
    up.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield up
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
