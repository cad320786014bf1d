"""`persona serve` under load, on loopback only: search throughput and latency, and the proxy's overhead.

    python eval/bench_service.py                 # 5 s per point, 2,000 memories
    python eval/bench_service.py --seconds 10 --memories 10000 --json
    python eval/bench_service.py --root /tmp/persona-main   # the servers run another checkout's code (A/B)

For 1 and 2 workers (`persona serve --workers N`, a subprocess on a free 127.0.0.1 port, FakeEmbedder): every
client loops `POST /v1/users/u/search` for ``--seconds`` on its own keep-alive connection; 1, 16 and 64
concurrent clients. Besides throughput and latency, ``server_cpu_ms`` is the CPU time the server processes
spent per search: on a machine shared with other work, latency measures the machine, CPU time the code. Then the proxy:
`POST /v1/chat/completions` (1 client, ``--turns`` turns over 20 users, learning on) against a fake upstream
that answers at once, minus the same call made to the upstream directly: the time persona adds. Everything
is bounded (a startup wait, a time per point) and every server is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
CODE = ROOT
SERVER_PIDS: list[int] = []
"""The running servers' process ids (the last one is measured)."""
"""The checkout whose ``persona`` the servers run (``--root``)."""
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
    env = {**os.environ, "PYTHONPATH": str(CODE)}
    cmd = [sys.executable, "-m", "persona", "--store", store, "--embedder", "fake", "serve", "--port", str(port),
           "--workers", str(workers), *extra]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    SERVER_PIDS.append(proc.pid)
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
        SERVER_PIDS.remove(proc.pid)
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


class Connection:
    """One keep-alive HTTP/1.1 connection, spoken directly over asyncio streams: a load generator far lighter
    than an HTTP client library, so that on a small machine the numbers are the server's, not the client's."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        data = json.dumps(body).encode()
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\n\r\n")
        self.writer.write(head.encode() + data)
        header = await self.reader.readuntil(b"\r\n\r\n")
        status = int(header.split(b" ", 2)[1])
        length = 0
        for line in header.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()


async def search_load(url: str, clients: int, seconds: float) -> dict[str, Any]:
    before = await asyncio.to_thread(server_time, url)
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds

    async def client(i: int) -> None:
        nonlocal errors
        n = 0
        conn = Connection(url)
        try:
            while time.monotonic() < stop:
                body = {"query": f"{WORDS[(i + n) % len(WORDS)]} {WORDS[(i * 7 + n) % len(WORDS)]}", "k": 10}
                t = time.perf_counter()
                try:
                    status, _ = await asyncio.wait_for(conn.post("/v1/users/u/search", body), 30)
                    ok = status == 200
                except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError):
                    ok = False
                    await conn.close()
                    conn = Connection(url)
                latencies.append(time.perf_counter() - t)
                errors += not ok
                n += 1
        finally:
            await conn.close()

    cpu_before = cpu_seconds(SERVER_PIDS[-1]) if SERVER_PIDS else None
    started = time.monotonic()
    await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.monotonic() - started
    cpu_after = cpu_seconds(SERVER_PIDS[-1]) if SERVER_PIDS else None
    after = await asyncio.to_thread(server_time, url)
    served = after[1] - before[1]
    cpu = None
    if cpu_before is not None and cpu_after is not None and latencies:
        cpu = round((cpu_after - cpu_before) / len(latencies) * 1000, 2)
    return {
        "clients": clients,
        "requests": len(latencies),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(pct(latencies, 0.5) * 1000, 2),
        "p95_ms": round(pct(latencies, 0.95) * 1000, 2),
        "server_mean_ms": round((after[0] - before[0]) / served * 1000, 2) if served > 0 else None,
        "server_cpu_ms": cpu,
        "errors": errors,
    }


def cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user + system) of a process and all its descendants so far, from /proc (None elsewhere):
    what a request costs the server, which a busy shared machine does not inflate as it inflates latency."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            if p == pid:
                return None
    return total


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
        cpu: float | None = None
        with serve(store, 1, ["--model", "fake", "--api-base", up]) as url, httpx.Client(timeout=30) as http:
            for i in range(turns + 5):  # the first 5 warm up (imports, tokenizer, indexes)
                if i == 5:
                    cpu_before = cpu_seconds(SERVER_PIDS[-1])
                body = {"model": "fake", "user": f"c{i % 20}", "messages": messages}
                t = time.perf_counter()
                r = http.post(f"{url}/v1/chat/completions", json=body)
                took = time.perf_counter() - t
                errors += r.status_code != 200
                if i >= 5:
                    proxied.append(took)
            time.sleep(1.0)  # let the last turns' learning finish: its CPU is part of a turn's cost
            cpu_after = cpu_seconds(SERVER_PIDS[-1])
            if cpu_before is not None and cpu_after is not None:
                cpu = round((cpu_after - cpu_before) / turns * 1000, 2)
    return {
        "turns": turns,
        "upstream_p50_ms": round(own * 1000, 2),
        "proxied_p50_ms": round(pct(proxied, 0.5) * 1000, 2),
        "overhead_p50_ms": round((pct(proxied, 0.5) - own) * 1000, 2),
        "overhead_p95_ms": round((pct(proxied, 0.95) - own) * 1000, 2),
        "server_cpu_ms": cpu,
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="time per load point")
    parser.add_argument("--memories", type=int, default=2000, help="memories of the searched user")
    parser.add_argument("--turns", type=int, default=200, help="proxied chat turns")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--root", type=Path, default=ROOT, help="run the servers from this checkout")
    parser.add_argument("--only", choices=["search", "proxy"], help="measure only this")
    args = parser.parse_args()
    global CODE
    CODE = args.root.resolve()
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
        for workers in () if args.only == "proxy" else (1, 2):
            with serve(store, workers, []) as url:
                asyncio.run(search_load(url, 4, 1.0))  # warm the indexes of every worker
                for clients in (1, 16, 64):
                    point = asyncio.run(search_load(url, clients, args.seconds))
                    results["search"].append({"workers": workers, **point})
                    if not args.json:
                        print(json.dumps(results["search"][-1]), flush=True)
        if args.only != "search":
            results["proxy"] = proxy_overhead(store, args.turns)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(json.dumps({"proxy": results["proxy"]}))


if __name__ == "__main__":
    main()
