"""`persona serve` under load, on loopback only: search throughput and latency, and the proxy's overhead.

    python eval/bench_service.py                 # 5 s per point, 2,000 memories
    python eval/bench_service.py --seconds 10 --memories 10000 --json

For 1 and 2 workers (`persona serve --workers N`, a subprocess on a free 127.0.0.1 port, FakeEmbedder): every
client loops `POST /v1/users/u/search` for ``--seconds``; 1, 16 and 64 concurrent clients. Then the proxy:
`POST /v1/chat/completions` (1 client, ``--turns`` turns over 20 users, learning on) against a fake upstream
that answers at once, minus the same call made to the upstream directly: the time persona adds. Everything
is bounded (a startup wait, a time per point) and every server is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
STARTUP_SECONDS = 60.0
WORDS = ["peanuts", "lisbon", "jazz", "hiking", "tea", "coffee", "berlin", "guitar", "sushi", "running", "chess", "python", "garden", "cats"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@contextmanager
def serve(store: str, workers: int, extra: list[str]) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "persona", "--store", store, "--embedder", "fake", "serve", "--port", str(port),
           "--workers", str(workers), *extra]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"persona serve exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("persona serve did not become ready")
            time.sleep(0.1)
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()


def server_time(url: str) -> tuple[float, int]:
    """(seconds, requests) the server itself spent on searches so far, from /metrics (one worker's view)."""
    total, count = 0.0, 0
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if 'route="/v1/users/{user}/search"' in line:
            if line.startswith("persona_http_request_duration_seconds_sum"):
                total = float(line.rsplit(" ", 1)[1])
            elif line.startswith("persona_http_request_duration_seconds_count"):
                count = int(line.rsplit(" ", 1)[1])
    return total, count


async def search_load(url: str, clients: int, seconds: float) -> dict[str, Any]:
    before = await asyncio.to_thread(server_time, url)
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds

    async def client(i: int, http: httpx.AsyncClient) -> None:
        nonlocal errors
        n = 0
        while time.monotonic() < stop:
            body = {"query": f"{WORDS[(i + n) % len(WORDS)]} {WORDS[(i * 7 + n) % len(WORDS)]}", "k": 10}
            t = time.perf_counter()
            try:
                r = await http.post(f"{url}/v1/users/u/search", json=body)
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - t)
            errors += not ok
            n += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        started = time.monotonic()
        await asyncio.gather(*(client(i, http) for i in range(clients)))
        elapsed = time.monotonic() - started
    after = await asyncio.to_thread(server_time, url)
    served = after[1] - before[1]
    return {
        "clients": clients,
        "requests": len(latencies),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(pct(latencies, 0.5) * 1000, 2),
        "p95_ms": round(pct(latencies, 0.95) * 1000, 2),
        "server_mean_ms": round((after[0] - before[0]) / served * 1000, 2) if served > 0 else None,
        "errors": errors,
    }


class _Instant(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stall

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = json.dumps({
            "id": "x", "object": "chat.completion", "created": 0, "model": "fake",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def instant_upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Instant)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def proxy_overhead(store: str, turns: int) -> dict[str, Any]:
    """Proxied latency minus the upstream's own median, measured alone first (both share this machine's CPUs,
    so timing them interleaved would charge persona's background learning to the upstream)."""
    with instant_upstream() as up:
        messages = [{"role": "user", "content": "What should I cook tonight?"}]
        direct: list[float] = []
        with httpx.Client(timeout=30) as http:
            for i in range(turns + 5):
                t = time.perf_counter()
                http.post(f"{up}/chat/completions", json={"model": "fake", "messages": messages})
                if i >= 5:
                    direct.append(time.perf_counter() - t)
        own = statistics.median(direct)
        proxied: list[float] = []
        errors = 0
        with serve(store, 1, ["--model", "fake", "--api-base", up]) as url, httpx.Client(timeout=30) as http:
            for i in range(turns + 5):  # the first 5 warm up (imports, tokenizer, indexes)
                body = {"model": "fake", "user": f"c{i % 20}", "messages": messages}
                t = time.perf_counter()
                r = http.post(f"{url}/v1/chat/completions", json=body)
                took = time.perf_counter() - t
                errors += r.status_code != 200
                if i >= 5:
                    proxied.append(took)
    return {
        "turns": turns,
        "upstream_p50_ms": round(own * 1000, 2),
        "proxied_p50_ms": round(pct(proxied, 0.5) * 1000, 2),
        "overhead_p50_ms": round((pct(proxied, 0.5) - own) * 1000, 2),
        "overhead_p95_ms": round((pct(proxied, 0.95) - own) * 1000, 2),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="time per load point")
    parser.add_argument("--memories", type=int, default=2000, help="memories of the searched user")
    parser.add_argument("--turns", type=int, default=200, help="proxied chat turns")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from persona import Persona
    from persona.testing import FakeEmbedder

    results: dict[str, Any] = {"search": [], "proxy": None}
    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        store = str(Path(tmp) / "store")
        texts = [
            {"text": f"note {i}: {WORDS[i % len(WORDS)]} and {WORDS[(i * 5) % len(WORDS)]}", "kind": "episode"}
            for i in range(args.memories)
        ]
        with Persona(store, embedder=FakeEmbedder()) as p:
            p.add_many("u", texts)
        for workers in (1, 2):
            with serve(store, workers, []) as url:
                asyncio.run(search_load(url, 4, 1.0))  # warm the indexes of every worker
                for clients in (1, 16, 64):
                    point = asyncio.run(search_load(url, clients, args.seconds))
                    results["search"].append({"workers": workers, **point})
                    if not args.json:
                        print(json.dumps(results["search"][-1]), flush=True)
        results["proxy"] = proxy_overhead(store, args.turns)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(json.dumps({"proxy": results["proxy"]}))


if __name__ == "__main__":
    main()
