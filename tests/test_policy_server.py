"""The ``strategy="auto"`` bandit over HTTP (#16): GET and DELETE /v1/users/{user}/policy, auto prompts."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from _serving import running

from persona.server import ServerConfig, create_app
from persona.testing import FakeEmbedder

pytest.importorskip("fastapi")


def test_policy_routes(tmp_path: Path) -> None:
    app = create_app(ServerConfig(store=str(tmp_path / "store")), embedder=FakeEmbedder())
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as c:
        fresh = c.get("/v1/users/alice/policy")
        assert fresh.status_code == 200, fresh.text
        body = fresh.json()
        assert body["user_id"] == "alice" and len(body["arms"]) == 12
        assert set(body["arms"][0]) == {"arm", "strategy", "budget", "estimate", "uncertainty", "pulls", "rewards"}
        r = c.post("/v1/users/alice/prompt", json={"message": "hi", "model": "gpt-4o-mini", "strategy": "auto"})
        assert r.status_code == 200, r.text
        assert r.json()["arm"] in {a["arm"] for a in body["arms"]}
        both = c.post(
            "/v1/users/alice/prompt",
            json={"message": "hi", "model": "gpt-4o-mini", "strategy": "auto", "max_prompt_tokens": 300},
        )
        assert both.status_code == 400
        reset = c.delete("/v1/users/alice/policy")
        assert reset.status_code == 200 and all(a["pulls"] == 0 for a in reset.json()["arms"])
