"""`persona serve`: the REST API on a real uvicorn server (loopback), its errors, keys and tenants."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _serving import running
from conftest import NetworkBlocked
from typer.testing import CliRunner

from persona import InvalidInputError
from persona.cli import app as cli_app
from persona.server import ServerConfig, create_app
from persona.server.auth import Principal, load_keys
from persona.testing import FakeEmbedder

pytest.importorskip("fastapi")

KEYS = """
[keys."key-acme"]
tenant = "acme"

[keys."sha256:{globex}"]
tenant = "globex"

[keys."key-acme-ro"]
tenant = "acme"
read_only = true
""".replace("{globex}", hashlib.sha256(b"key-globex").hexdigest())


def _app(tmp_path: Path, **config: Any) -> Any:
    return create_app(ServerConfig(store=str(tmp_path / "store"), **config), embedder=FakeEmbedder())


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx.Client]:
    app = _app(tmp_path)
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as c:
        c.app = app  # type: ignore[attr-defined]
        yield c


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[dict[str, httpx.Client]]:
    keys = tmp_path / "keys.toml"
    keys.write_text(KEYS, "utf-8")
    with running(_app(tmp_path, keys_file=str(keys))) as url:
        clients = {
            name: httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {key}"} if key else {})
            for name, key in (("acme", "key-acme"), ("globex", "key-globex"), ("ro", "key-acme-ro"),
                              ("none", None), ("bad", "key-wrong"))
        }
        try:
            yield clients
        finally:
            for c in clients.values():
                c.close()


def _error(r: httpx.Response, status: int, kind: str | None = None) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}
    if kind is not None:
        assert body["error"]["type"] == kind
    assert "Traceback" not in r.text
    return str(body["error"]["message"])


# -- every route --------------------------------------------------------------------------------------------


def test_memories_routes(client: httpx.Client) -> None:
    r = client.post("/v1/users/alice/memories", json={"text": "I am allergic to peanuts", "kind": "fact",
                                                      "metadata": {"src": "onboarding"}})
    assert r.status_code == 201, r.text
    one = r.json()
    assert one["user_id"] == "alice" and one["text"] == "I am allergic to peanuts" and one["metadata"]["src"] == "onboarding"
    r = client.post("/v1/users/alice/memories", json={"memories": [
        {"text": "I like jazz", "kind": "preference"},
        {"text": "Went hiking last week", "kind": "episode", "created_at": "2024-05-01T10:00:00Z"},
    ]})
    assert r.status_code == 201, r.text
    many = r.json()["memories"]
    assert [m["text"] for m in many] == ["I like jazz", "Went hiking last week"]

    listed = client.get("/v1/users/alice/memories").json()["memories"]
    assert {m["id"] for m in listed} == {one["id"], *(m["id"] for m in many)}
    assert [m["kind"] for m in client.get("/v1/users/alice/memories", params={"kind": "preference"}).json()["memories"]] == ["preference"]
    old = client.get("/v1/users/alice/memories", params={"until": "2024-06-01"}).json()["memories"]
    assert [m["text"] for m in old] == ["Went hiking last week"]
    assert len(client.get("/v1/users/alice/memories", params={"since": "2025-01-01", "limit": 1}).json()["memories"]) == 1

    assert client.get(f"/v1/memories/{one['id']}").json() == one
    r = client.patch(f"/v1/memories/{one['id']}", json={"text": "I am allergic to peanuts and shellfish"})
    assert r.status_code == 200 and r.json()["text"] == "I am allergic to peanuts and shellfish"
    events = [h["event"] for h in client.get(f"/v1/memories/{one['id']}/history").json()["history"]]
    assert events[0] == "ADD" and "UPDATE" in events

    hits = client.post("/v1/users/alice/search", json={"query": "peanuts shellfish allergy", "k": 2}).json()["hits"]
    assert hits[0]["id"] == one["id"] and "score" in hits[0] and hits[0]["user_id"] == "alice"
    assert client.post("/v1/users/bob/search", json={"query": "peanuts"}).json() == {"hits": []}
    # "last week", said on 2024-05-01: an event in the week before; the other memories name no time
    april = {"query": "hiking", "event_since": "2024-04-20", "event_until": "2024-04-30", "k": 5}
    assert [h["text"] for h in client.post("/v1/users/alice/search", json=april).json()["hits"]] == ["Went hiking last week"]
    assert client.post("/v1/users/alice/search", json={**april, "event_since": "2024-04-29T12:00:00Z"}).json() == {"hits": []}
    assert "event_since" in _error(client.post("/v1/users/alice/search", json={**april, "event_since": "soon"}), 400)
    jazz = {"query": "jazz", "k": 5, "sensitivity": ["normal"]}
    assert "I like jazz" in [h["text"] for h in client.post("/v1/users/alice/search", json=jazz).json()["hits"]]
    assert client.post("/v1/users/alice/search", json={**jazz, "sensitivity": "health"}).json() == {"hits": []}
    assert "sensitivity" in _error(client.post("/v1/users/alice/search", json={**jazz, "sensitivity": "nope"}), 400)
    # listing takes the same event and sensitivity filters
    listed = client.get("/v1/users/alice/memories", params={"event_since": "2024-04-20", "event_until": "2024-04-30"})
    assert [m["text"] for m in listed.json()["memories"]] == ["Went hiking last week"]
    labelled = client.get("/v1/users/alice/memories", params={"sensitivity": ["health"]}).json()["memories"]
    assert "I like jazz" not in [m["text"] for m in labelled]
    assert "I like jazz" in [m["text"] for m in client.get(
        "/v1/users/alice/memories", params={"sensitivity": ["normal", "health"]}).json()["memories"]]
    assert "event_until" in _error(client.get("/v1/users/alice/memories", params={"event_until": "later"}), 400)

    prompt = client.post("/v1/users/alice/prompt", json={"message": "What should I cook?", "model": "gpt-4o-mini"}).json()
    assert prompt["messages"][0]["role"] == "system" and "shellfish" in prompt["messages"][0]["content"]
    assert prompt["messages"][-1] == {"role": "user", "content": "What should I cook?"}

    export = client.get("/v1/users/alice/export").json()
    assert export["user_id"] == "alice" and len(export["memories"]) == 3

    r = client.delete(f"/v1/memories/{many[0]['id']}")
    assert r.status_code == 200 and r.json() == {"id": many[0]["id"], "deleted": True}
    _error(client.get(f"/v1/memories/{many[0]['id']}"), 404, "not_found")
    assert client.delete("/v1/users/alice").json() == {"user_id": "alice", "erased": 2}
    assert client.get("/v1/users/alice/memories").json() == {"memories": [], "next_cursor": None, "next": None}


def test_walking_the_pages_of_memories(keyed: dict[str, httpx.Client]) -> None:
    acme = keyed["acme"]
    items = [{"text": f"note {i}", "kind": "episode", "created_at": f"2024-01-{1 + i % 9:02d}T00:00:00Z"} for i in range(25)]
    added = {m["id"] for m in acme.post("/v1/users/alice/memories", json={"memories": items}).json()["memories"]}
    assert len(added) == 25
    first = acme.get("/v1/users/alice/memories", params={"kind": "episode"}).json()
    assert len(first["memories"]) == 25 and first["next_cursor"] is None and first["next"] is None  # one default page
    seen: list[str] = []
    url: str | None = "/v1/users/alice/memories?kind=episode&limit=7"
    pages = 0
    while url is not None:
        page = acme.get(url).json()
        seen += [m["id"] for m in page["memories"]]
        assert all(m["user_id"] == "alice" for m in page["memories"])
        url = page["next"]
        if url is not None:
            assert "limit=7" in url and "kind=episode" in url and f"cursor={page['next_cursor']}" in url
            acme.post("/v1/users/alice/memories", json={"text": f"added while walking {pages}", "kind": "episode"})
        pages += 1
    assert pages == 4 and len(seen) == 25 and set(seen) == added  # each exactly once, none added meanwhile
    assert keyed["globex"].get("/v1/users/alice/memories").json()["memories"] == []
    assert "limit must be in 1..1000" in _error(acme.get("/v1/users/alice/memories", params={"limit": 0}), 400)
    _error(acme.get("/v1/users/alice/memories", params={"limit": 1001}), 400, "invalid_input")
    assert "next_cursor" in _error(acme.get("/v1/users/alice/memories", params={"cursor": "junk"}), 400)


def test_ops_routes(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    client.post("/v1/users/alice/memories", json={"text": "I live in Lisbon"})
    client.get("/v1/users/alice/memories")
    text = client.get("/metrics").text
    assert 'persona_http_requests_total{method="POST",route="/v1/users/{user}/memories",status="201"} 1' in text
    assert 'persona_http_request_duration_seconds_bucket{method="GET",route="/v1/users/{user}/memories",le="+Inf"} 1' in text
    assert "persona_store_memories 1" in text and "persona_store_size_bytes" in text
    assert "alice" not in text  # route templates, never concrete paths
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/chat/completions" in paths and "/v1/users/{user}/search" in paths


def test_not_ready_is_503(client: httpx.Client) -> None:
    state = client.app.state.persona_server  # type: ignore[attr-defined]
    state.ready = False
    try:
        _error(client.get("/readyz"), 503, "unavailable")
        _error(client.get("/v1/users/alice/memories"), 503, "unavailable")
        assert client.get("/healthz").status_code == 200
    finally:
        state.ready = True


# -- errors -------------------------------------------------------------------------------------------------


def test_errors_are_json_with_the_right_status(client: httpx.Client) -> None:
    assert "empty" in _error(client.post("/v1/users/alice/memories", json={"text": "   "}), 400, "invalid_input")
    assert "k must be" in _error(client.post("/v1/users/alice/search", json={"query": "x", "k": 0}), 400)
    assert "query" in _error(client.post("/v1/users/alice/search", json={"k": 3}), 400)  # schema: not FastAPI's 422
    _error(client.post("/v1/users/alice/search", json={"query": "x", "typo": 1}), 400)
    _error(client.post("/v1/users/alice/search", content=b"{not json", headers={"content-type": "application/json"}), 400)
    _error(client.post("/v1/users/alice/memories", json={"text": "x", "kind": "nonsense"}), 400)
    _error(client.get("/v1/users/alice/memories", params={"since": "yesterday-ish"}), 400)
    _error(client.get("/v1/users/alice/memories", params={"limit": "many"}), 400)
    _error(client.patch("/v1/memories/nope", json={"text": "y"}), 404, "not_found")
    _error(client.get("/v1/memories/nope/history"), 404)
    _error(client.post("/v1/feedback", json={"reply_id": "nope", "rating": 1}), 404)
    _error(client.get("/no/such/route"), 404, "not_found")
    _error(client.put("/healthz"), 405)


def test_bodies_over_the_limit_get_413_before_parsing(tmp_path: Path) -> None:
    with running(_app(tmp_path, max_body_bytes=1000)) as url, httpx.Client(base_url=url, timeout=30) as c:
        big = b'{"text": "' + b"a" * 2000 + b'"}'
        _error(c.post("/v1/users/alice/memories", content=big, headers={"content-type": "application/json"}), 413, "too_large")

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            for _ in range(10):
                yield b"x" * 200

        _error(c.post("/v1/users/alice/memories", content=chunks(), headers={"content-type": "application/json"}), 413)
        assert c.post("/v1/users/alice/memories", json={"text": "small enough"}).status_code == 201
        assert c.get("/v1/users/alice/memories").json()["memories"][0]["text"] == "small enough"


# -- keys and tenants ---------------------------------------------------------------------------------------


def test_keys_and_tenants(keyed: dict[str, httpx.Client]) -> None:
    acme, globex, ro = keyed["acme"], keyed["globex"], keyed["ro"]
    _error(keyed["none"].get("/v1/users/alice/memories"), 401, "authentication_error")
    r = keyed["bad"].get("/v1/users/alice/memories")
    assert "key-wrong" not in _error(r, 401) and r.headers["www-authenticate"] == "Bearer"
    assert keyed["none"].get("/healthz").status_code == 200

    a = acme.post("/v1/users/alice/memories", json={"text": "acme alice lives in Lisbon"}).json()
    g = globex.post("/v1/users/alice/memories", json={"text": "globex alice lives in Oslo"}).json()
    assert a["user_id"] == "alice" and g["user_id"] == "alice"
    assert [m["text"] for m in acme.get("/v1/users/alice/memories").json()["memories"]] == ["acme alice lives in Lisbon"]
    assert [m["text"] for m in globex.get("/v1/users/alice/memories").json()["memories"]] == ["globex alice lives in Oslo"]
    hits = globex.post("/v1/users/alice/search", json={"query": "Lisbon", "k": 5}).json()["hits"]
    assert [h["id"] for h in hits] == [g["id"]]
    for call in (globex.get, globex.delete):
        _error(call(f"/v1/memories/{a['id']}"), 404, "not_found")
    _error(globex.patch(f"/v1/memories/{a['id']}", json={"text": "taken"}), 404)
    _error(globex.get(f"/v1/memories/{a['id']}/history"), 404)
    export = acme.get("/v1/users/alice/export").json()
    assert export["user_id"] == "alice" and {m["user_id"] for m in export["memories"]} == {"alice"}
    assert globex.delete("/v1/users/alice").json()["erased"] == 1
    assert acme.get(f"/v1/memories/{a['id']}").json()["text"] == "acme alice lives in Lisbon"

    # the read-only key reads its tenant and writes nothing
    assert [m["id"] for m in ro.get("/v1/users/alice/memories").json()["memories"]] == [a["id"]]
    _error(ro.post("/v1/users/alice/memories", json={"text": "nope"}), 403, "permission_denied")
    _error(ro.delete(f"/v1/memories/{a['id']}"), 403)
    _error(ro.delete("/v1/users/alice"), 403)
    assert len(acme.get("/v1/users/alice/memories").json()["memories"]) == 1


def test_tenant_namespace_cannot_collide() -> None:
    a, b = Principal(tenant="a"), Principal(tenant="a:b")  # "a:b" cannot be a tenant (load_keys refuses it)
    assert a.inner("b:c") == "a:b:c" and a.outer("a:b:c") == "b:c"
    assert Principal().inner("a:b") == "a:b"
    assert not Principal(tenant="acme").owns("globex:alice")
    assert Principal(tenant="ab").owns("ab:x") and not Principal(tenant="a").owns("ab:x")
    assert b.prefix == "a:b:"
    with pytest.raises(InvalidInputError, match="limit for this tenant"):
        a.inner("x" * 256)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("not toml [", "not valid TOML"),
        ("[other]\nx = 1\n", r"no \[keys"),
        ('[keys."k"]\ntenant = "a:b"\n', "tenant must be"),
        ('[keys."k"]\ntenant = "a"\nread_only = "yes"\n', "read_only"),
        ('[keys."sha256:abc"]\ntenant = "a"\n', "64 hex digits"),
    ],
)
def test_bad_keys_files_are_refused(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "keys.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(InvalidInputError, match=problem) as info:
        load_keys(path)
    assert '"k"' not in str(info.value)


def test_without_keys_only_loopback(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="without API keys"):
        ServerConfig(host="0.0.0.0").check()
    ServerConfig(host="0.0.0.0", keys_file="keys.toml").check()
    result = CliRunner().invoke(cli_app, ["--store", str(tmp_path / "s"), "serve", "--host", "192.168.1.10"])
    assert result.exit_code == 1 and "refusing to listen on '192.168.1.10' without API keys" in result.output


def test_the_network_guard_allows_loopback_only() -> None:
    with pytest.raises(NetworkBlocked):
        socket.create_connection(("10.255.255.1", 80), timeout=1)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s, pytest.raises(NetworkBlocked):
        s.connect(("93.184.216.34", 443))
    with pytest.raises(NetworkBlocked):
        socket.getaddrinfo("example.com", 443)
    assert socket.getaddrinfo("127.0.0.1", 80)


# -- the command --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_persona_serve_runs_and_stops_on_sigterm(tmp_path: Path, workers: int) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from _serving import free_port

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    cmd = [sys.executable, "-m", "persona", "--store", str(tmp_path / "store"), "--embedder", "fake", "serve",
           "--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "persona serve did not become ready"
            time.sleep(0.1)
        r = httpx.post(f"{url}/v1/users/alice/memories", json={"text": "I live in Lisbon"}, timeout=30)
        assert r.status_code == 201, r.text
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
        assert time.monotonic() - started < 15
        log = proc.stdout.read().decode() if proc.stdout else ""
        assert code in (0, -signal.SIGTERM), log  # uvicorn re-raises the signal once it has shut down
        assert "Application shutdown complete" in log and "Traceback" not in log
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


def test_privacy_routes(keyed: dict[str, httpx.Client]) -> None:
    """Consent and the disclosure log over HTTP: per tenant, in the caller's own user ids, writes need a
    key that may write, bad values are 400, and a prompt the API renders shows up in the log."""
    acme, globex, ro = keyed["acme"], keyed["globex"], keyed["ro"]
    memory = acme.post("/v1/users/alice/memories", json={"text": "I live in Lisbon", "kind": "fact"}).json()
    fresh = acme.get("/v1/users/alice/consent").json()
    assert fresh["user_id"] == "alice" and fresh["learning"] and fresh["personalization"]
    assert fresh["updated_at"] is None

    r = acme.put("/v1/users/alice/consent", json={"learning": False, "retention": {"episode": "30d"}})
    assert r.status_code == 200, r.text
    assert r.json()["learning"] is False and r.json()["retention"] == {"episode": "30d"}
    assert acme.get("/v1/users/alice/consent").json()["learning"] is False
    assert globex.get("/v1/users/alice/consent").json()["learning"] is True  # another tenant's alice
    _error(ro.put("/v1/users/alice/consent", json={"learning": True}), 403, "permission_denied")
    _error(acme.put("/v1/users/alice/consent", json={"retention": {"episode": "soon"}}), 400)
    _error(acme.put("/v1/users/alice/consent", json={"sharing": True}), 400)

    assert acme.get("/v1/users/alice/disclosures").json() == {"disclosures": []}
    sent = acme.post("/v1/users/alice/prompt", json={"message": "where do I live?", "model": "gpt-4o-mini"})
    assert sent.status_code == 200, sent.text
    log = acme.get("/v1/users/alice/disclosures").json()["disclosures"]
    assert [(d["user_id"], d["model"], d["memory_ids"]) for d in log] == [("alice", "gpt-4o-mini", [memory["id"]])]
    assert globex.get("/v1/users/alice/disclosures").json() == {"disclosures": []}
    assert acme.get("/v1/users/alice/disclosures", params={"until": "2000-01-01"}).json() == {"disclosures": []}
    _error(acme.get("/v1/users/alice/disclosures", params={"since": "not a time"}), 400)
    export = acme.get("/v1/users/alice/export").json()
    assert export["consent"]["user_id"] == "alice" and {d["user_id"] for d in export["disclosures"]} == {"alice"}
