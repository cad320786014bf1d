"""The OpenAI-compatible proxy, through the official `openai` SDK, against a fake upstream on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from _serving import Upstream, running, upstream

from persona import Persona
from persona.server import ServerConfig, create_app
from persona.testing import FakeEmbedder

openai = pytest.importorskip("openai")

KEYS = """
[keys."key-acme"]
tenant = "acme"

[keys."key-globex"]
tenant = "globex"

[keys."key-acme-ro"]
tenant = "acme"
read_only = true
"""


@dataclass
class Proxy:
    url: str
    up: Upstream
    persona: Persona

    def sdk(self, key: str = "key-acme") -> Any:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0, timeout=30)

    def rest(self, key: str = "key-acme") -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)

    def system_of(self, i: int = -1) -> str:
        messages = self.up.requests[i]["messages"]
        assert messages[0]["role"] == "system"
        return str(messages[0]["content"])


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Proxy]:
    keys = tmp_path / "keys.toml"
    keys.write_text(KEYS, "utf-8")
    with upstream() as up:
        config = ServerConfig(store=str(tmp_path / "store"), keys_file=str(keys), model="fake-model", api_base=up.url)
        app = create_app(config, embedder=FakeEmbedder())
        with running(app) as url:
            px = Proxy(url, up, app.state.persona_server.persona)
            with px.rest("key-acme") as acme, px.rest("key-globex") as globex:
                acme.post("/v1/users/alice/memories", json={"text": "I am allergic to peanuts"}).raise_for_status()
                acme.post("/v1/users/bob/memories", json={"text": "I collect vintage typewriters"}).raise_for_status()
                globex.post("/v1/users/alice/memories", json={"text": "I am a professional tuba player"}).raise_for_status()
            yield px


def test_the_users_memories_reach_the_upstream_and_no_one_elses(proxy: Proxy) -> None:
    raw = proxy.sdk().chat.completions.with_raw_response.create(
        model="fake-model",
        user="alice",
        temperature=0.2,
        messages=[
            {"role": "system", "content": "You are the cooking assistant of ACME."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": "What snack should I buy?"},
        ],
    )
    done = raw.parse()
    assert done.choices[0].message.content == "Hello from upstream"
    assert done.object == "chat.completion" and done.model == "fake-model" and done.usage.total_tokens > 0
    sent = proxy.up.requests[-1]
    assert sent["model"] == "fake-model" and sent["temperature"] == 0.2
    system = proxy.system_of()
    assert "peanuts" in system
    assert "typewriters" not in system and "tuba" not in system  # another user's, another tenant's
    everything = " ".join(m["content"] for m in sent["messages"])
    assert "typewriters" not in everything and "tuba" not in everything
    roles = [(m["role"], m["content"]) for m in sent["messages"][1:]]
    assert roles == [
        ("system", "You are the cooking assistant of ACME."),
        ("user", "Hi"),
        ("assistant", "Hello! How can I help?"),
        ("user", "What snack should I buy?"),
    ]
    used = raw.headers["x-persona-memories"].split(",")
    with proxy.rest() as acme:
        assert [acme.get(f"/v1/memories/{i}").json()["text"] for i in used] == ["I am allergic to peanuts"]
    assert raw.headers["x-persona-reply-id"] == done.id.removeprefix("chatcmpl-")


def test_the_other_tenant_sees_its_own_alice(proxy: Proxy) -> None:
    proxy.sdk("key-globex").chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "Any music tips?"}],
        extra_headers={"X-Persona-User": "alice", "X-Persona-Strategy": "profile"},
    )
    system = proxy.system_of()
    assert "tuba" in system and "peanuts" not in system and "typewriters" not in system


def test_the_turn_is_learned(proxy: Proxy) -> None:
    proxy.sdk().chat.completions.create(
        model="fake-model", user="alice", messages=[{"role": "user", "content": "I moved to Lisbon last month"}]
    )
    proxy.persona.learning.wait("acme:alice")
    with proxy.rest() as acme:
        texts = [m["text"] for m in acme.get("/v1/users/alice/memories").json()["memories"]]
    assert "I moved to Lisbon last month" in texts
    assert proxy.persona.list("globex:alice")[0].text == "I am a professional tuba player"
    # the next turn carries what was learned
    proxy.sdk().chat.completions.create(
        model="fake-model", user="alice", messages=[{"role": "user", "content": "Where do I live?"}]
    )
    assert "Lisbon" in proxy.system_of()


def test_streaming_chunk_by_chunk(proxy: Proxy) -> None:
    proxy.up.reply, proxy.up.pieces = "Try some roasted chickpeas instead", 4
    raw = proxy.sdk().chat.completions.with_raw_response.create(
        model="fake-model", user="alice", stream=True, messages=[{"role": "user", "content": "A snack idea?"}]
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.headers["x-persona-memories"]
    pieces = []
    finish = None
    for chunk in raw.parse():
        assert chunk.object == "chat.completion.chunk"
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.choices and chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
    assert "".join(pieces) == "Try some roasted chickpeas instead" and len(pieces) >= 4 and finish == "stop"
    assert proxy.up.requests[-1]["stream"] is True and "peanuts" in proxy.system_of()
    proxy.persona.learning.wait("acme:alice")
    assert any(m.text == "A snack idea?" for m in proxy.persona.list("acme:alice"))


def test_the_stream_ends_with_done(proxy: Proxy) -> None:
    body = {"model": "fake-model", "user": "alice", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    with proxy.rest() as acme, acme.stream("POST", "/v1/chat/completions", json=body) as r:
        lines = [line for line in r.iter_lines() if line]
    assert lines[-1] == "data: [DONE]" and all(line.startswith("data: ") for line in lines)


def test_feedback_on_a_proxied_reply(proxy: Proxy) -> None:
    raw = proxy.sdk().chat.completions.with_raw_response.create(
        model="fake-model", user="alice", messages=[{"role": "user", "content": "Snack?"}]
    )
    reply_id = raw.headers["x-persona-reply-id"]
    with proxy.rest("key-globex") as globex:
        assert globex.post("/v1/feedback", json={"reply_id": reply_id, "rating": 1}).status_code == 404
    with proxy.rest() as acme:
        r = acme.post("/v1/feedback", json={"reply_id": reply_id, "rating": 1, "comment": "great"})
    assert r.status_code == 200, r.text
    assert r.json()["reply_id"] == reply_id and list(r.json()["importance"]) == raw.headers["x-persona-memories"].split(",")


def test_a_read_only_key_chats_without_learning(proxy: Proxy) -> None:
    proxy.sdk("key-acme-ro").chat.completions.create(
        model="fake-model", user="alice", messages=[{"role": "user", "content": "I moved to Oslo"}]
    )
    assert "peanuts" in proxy.system_of()
    proxy.persona.learning.wait("acme:alice")
    assert all("Oslo" not in m.text for m in proxy.persona.list("acme:alice"))


def test_models(proxy: Proxy) -> None:
    assert [m.id for m in proxy.sdk().models.list()] == ["fake-model"]


def test_proxy_errors(proxy: Proxy) -> None:
    sdk = proxy.sdk()
    with pytest.raises(openai.BadRequestError, match="X-Persona-User"):
        sdk.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "Hi"}])
    with pytest.raises(openai.BadRequestError, match="last message"):
        sdk.chat.completions.create(model="fake-model", user="alice", messages=[{"role": "assistant", "content": "x"}])
    with pytest.raises(openai.BadRequestError):
        sdk.chat.completions.create(model="fake-model", user="alice", messages=[])
    with pytest.raises(openai.AuthenticationError):
        proxy.sdk("key-nope").chat.completions.create(
            model="fake-model", user="alice", messages=[{"role": "user", "content": "Hi"}]
        )
    proxy.up.fail_status = 400
    with pytest.raises(openai.APIStatusError) as info:
        sdk.chat.completions.create(model="fake-model", user="alice", messages=[{"role": "user", "content": "Hi"}])
    assert info.value.status_code == 502 and info.value.body["type"] == "upstream_error"
    with pytest.raises(openai.APIStatusError) as info:
        sdk.chat.completions.create(
            model="fake-model", user="alice", stream=True, messages=[{"role": "user", "content": "Hi"}]
        )
    assert info.value.status_code == 502
    proxy.persona.learning.wait("acme:alice")
    assert all(m.text != "Hi" for m in proxy.persona.list("acme:alice"))  # failed turns teach nothing


def test_a_slow_upstream_does_not_block_the_server(proxy: Proxy) -> None:
    import threading

    proxy.up.delay = 1.5
    worker = threading.Thread(
        target=lambda: proxy.sdk().chat.completions.create(
            model="fake-model", user="alice", messages=[{"role": "user", "content": "Slow one"}]
        )
    )
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while not any(r["messages"][-1]["content"] == "Slow one" for r in proxy.up.requests):
            assert time.monotonic() < deadline, "the proxied call never reached the upstream"
            time.sleep(0.02)
        with proxy.rest() as acme:
            start = time.monotonic()
            assert acme.get("/healthz").status_code == 200
            assert acme.post("/v1/users/alice/search", json={"query": "peanuts"}).status_code == 200
            assert time.monotonic() - start < 1.0
    finally:
        worker.join(timeout=30)


def test_the_model_comes_from_the_request_else_the_server(tmp_path: Path) -> None:
    with upstream() as up:
        app = create_app(ServerConfig(store=str(tmp_path / "store"), api_base=up.url), embedder=FakeEmbedder())
        with running(app) as url, httpx.Client(base_url=url, timeout=30) as http:
            body: dict[str, Any] = {"user": "alice", "messages": [{"role": "user", "content": "Hi"}]}
            r = http.post("/v1/chat/completions", json=body)
            assert r.status_code == 400 and "no model" in r.json()["error"]["message"]
            assert http.get("/v1/models").json() == {"object": "list", "data": []}
            r = http.post("/v1/chat/completions", json={**body, "model": "openai/other"})
            assert r.status_code == 200 and r.json()["model"] == "openai/other"
            assert up.requests[-1]["model"] == "other"  # litellm's openai/ provider strips its prefix


def test_shutdown_drains_learning(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    with upstream() as up:
        app = create_app(ServerConfig(store=store, model="fake", api_base=up.url), embedder=FakeEmbedder())
        with running(app) as url, httpx.Client(base_url=url, timeout=30) as http:
            for i in range(5):
                body = {"user": "alice", "messages": [{"role": "user", "content": f"I have {i + 2} cats at home"}]}
                assert http.post("/v1/chat/completions", json=body).status_code == 200
        # the server stopped right after the last answer: its lifespan waited for the learning
    with Persona(store, embedder=FakeEmbedder()) as p:
        said = {m.text for m in p.list("alice", kind="episode")}
    assert {f"I have {i + 2} cats at home" for i in range(5)} <= said


def test_an_unpriced_upstream_model_is_priced_once_at_zero_and_a_priced_one_keeps_its_price() -> None:
    from persona._env import ensure_offline_env
    from persona.server.proxy import price_upstream

    ensure_offline_env()
    import litellm

    known = dict(litellm.model_cost["gpt-4o-mini"])
    price_upstream("openai/gpt-4o-mini")
    assert "openai/gpt-4o-mini" not in litellm.model_cost or litellm.model_cost["openai/gpt-4o-mini"]["input_cost_per_token"] > 0
    assert litellm.model_cost["gpt-4o-mini"] == known
    assert "openai/persona-test-selfhosted" not in litellm.model_cost
    price_upstream("openai/persona-test-selfhosted")
    entry = litellm.model_cost["openai/persona-test-selfhosted"]
    assert entry["input_cost_per_token"] == 0 and entry["output_cost_per_token"] == 0
