"""Prometheus metrics: request counts and latency histograms per route, and the store's size.

`Metrics` keeps the numbers (thread-safe); `MetricsMiddleware` records every HTTP request under its route
template (``/v1/memories/{memory_id}``, never the concrete path, so ids do not explode the label set;
unmatched paths count as ``unmatched``); `Metrics.render` writes the text exposition format, version 0.0.4.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BUCKETS", "Metrics", "MetricsMiddleware"]

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Latency histogram bucket bounds, in seconds."""


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, int], int] = defaultdict(int)
        self._buckets: dict[tuple[str, str], list[int]] = {}
        self._sums: dict[tuple[str, str], float] = defaultdict(float)

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._counts[(method, route, status)] += 1
            key = (method, route)
            buckets = self._buckets.setdefault(key, [0] * (len(BUCKETS) + 1))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    buckets[i] += 1
            buckets[-1] += 1
            self._sums[key] += seconds

    def render(self, *, memories: int | None = None, users: int | None = None, size_bytes: int | None = None) -> str:
        lines = [
            "# HELP persona_http_requests_total HTTP requests, by method, route template and status.",
            "# TYPE persona_http_requests_total counter",
        ]
        with self._lock:
            counts = sorted(self._counts.items())
            histograms = sorted((k, list(v), self._sums[k]) for k, v in self._buckets.items())
        for (method, route, status), n in counts:
            lines.append(
                f'persona_http_requests_total{{method="{method}",route="{_label(route)}",status="{status}"}} {n}'
            )
        lines += [
            "# HELP persona_http_request_duration_seconds HTTP request latency, by method and route template.",
            "# TYPE persona_http_request_duration_seconds histogram",
        ]
        for (method, route), buckets, total in histograms:
            labels = f'method="{method}",route="{_label(route)}"'
            for bound, n in zip(BUCKETS, buckets, strict=False):
                lines.append(f'persona_http_request_duration_seconds_bucket{{{labels},le="{bound}"}} {n}')
            lines.append(f'persona_http_request_duration_seconds_bucket{{{labels},le="+Inf"}} {buckets[-1]}')
            lines.append(f"persona_http_request_duration_seconds_sum{{{labels}}} {total:.6f}")
            lines.append(f"persona_http_request_duration_seconds_count{{{labels}}} {buckets[-1]}")
        for name, value, text in (
            ("persona_store_memories", memories, "Memories in the store."),
            ("persona_store_users", users, "Users with at least one memory."),
            ("persona_store_size_bytes", size_bytes, "The store's size on disk (0 when the engine cannot tell)."),
        ):
            if value is not None:
                lines += [f"# HELP {name} {text}", f"# TYPE {name} gauge", f"{name} {value}"]
        return "\n".join(lines) + "\n"


class MetricsMiddleware:
    """ASGI middleware: times each HTTP request (a streamed answer: until its last chunk) into `Metrics`."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def watching(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watching)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.record(scope.get("method", "GET"), str(route), status, time.perf_counter() - start)
