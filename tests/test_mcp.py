"""``persona mcp``: the real command as a subprocess, driven by the MCP SDK's own stdio client."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("mcp")

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120.0
"""Seconds for a whole session, start-up included; every call has its own smaller limit too."""
CALL_SECONDS = 30.0


@asynccontextmanager
async def session(store: Path, errlog: Any) -> AsyncIterator[ClientSession]:
    env = {
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "PERSONA_EMBEDDER": "fake",  # the deterministic test embedder
        "HOME": str(store.parent),
    }
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "persona", "mcp", "--store", str(store)], env=env, cwd=str(ROOT)
    )
    async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(
        read, write, read_timeout_seconds=CALL_SECONDS
    ) as s:
        await s.initialize()
        yield s


async def call(s: ClientSession, tool: str, **arguments: Any) -> Any:
    """The tool's JSON result; fails the test on a tool error."""
    result = await s.call_tool(tool, arguments, read_timeout_seconds=CALL_SECONDS)
    text = "".join(c.text for c in result.content if c.type == "text")
    assert not result.is_error, text
    assert result.structured_content is not None
    assert json.loads(text) == result.structured_content  # the text content is the same JSON
    return result.structured_content


async def error(s: ClientSession, tool: str, **arguments: Any) -> str:
    """The message of the tool error ``tool`` answers."""
    result = await s.call_tool(tool, arguments, read_timeout_seconds=CALL_SECONDS)
    text = "".join(c.text for c in result.content if c.type == "text")
    assert result.is_error, text
    assert "Traceback" not in text
    return text


def test_mcp_tools_over_stdio(tmp_path: Path) -> None:
    store = tmp_path / "store"
    stderr = (tmp_path / "stderr.txt").open("w+")

    async def main() -> None:
        with anyio.fail_after(TIMEOUT):
            async with session(store, stderr) as s:
                tools = {t.name: t for t in (await s.list_tools()).tools}
                assert set(tools) == {"search_memories", "add_memory", "list_memories", "forget_user", "render_prompt"}
                search = tools["search_memories"].input_schema
                assert search["required"] == ["user", "query"]
                assert {"k", "kind", "filters", "since", "until", "event_since", "event_until"} <= set(search["properties"])
                assert all(t.description for t in tools.values())
                assert all(p.get("description") for p in search["properties"].values())

                added = await call(s, "add_memory", user="alice", text="I am allergic to peanuts",
                                   metadata={"topic": "food"})
                assert added["user_id"] == "alice" and added["kind"] == "fact" and added["source"] == "mcp"
                await call(s, "add_memory", user="alice", text="Went hiking in the Alps last week", kind="episode")
                await call(s, "add_memory", user="bob", text="Bob plays the violin")

                hits = (await call(s, "search_memories", user="alice", query="peanut allergy", k=1))["hits"]
                assert [h["id"] for h in hits] == [added["id"]] and isinstance(hits[0]["score"], float)
                food = await call(s, "search_memories", user="alice", query="allergy", filters={"topic": "food"})
                assert [h["text"] for h in food["hits"]] == ["I am allergic to peanuts"]

                first = await call(s, "list_memories", user="alice", limit=1)
                assert len(first["memories"]) == 1 and first["next_cursor"]
                rest = await call(s, "list_memories", user="alice", limit=1, cursor=first["next_cursor"])
                assert rest["next_cursor"] is None
                assert {m["id"] for m in first["memories"] + rest["memories"]} == {
                    m["id"] for m in (await call(s, "list_memories", user="alice"))["memories"]
                }

                # event filters: nothing alice said is about an event before 2000, both memories are after it
                assert (await call(s, "list_memories", user="alice", event_until="2000-01-01"))["memories"] == []
                assert len((await call(s, "list_memories", user="alice", event_since="2000-01-01"))["memories"]) == 2
                old = await call(s, "search_memories", user="alice", query="hiking", event_until="2000-01-01")
                assert old["hits"] == []

                rendered = await call(s, "render_prompt", user="alice", message="What should I cook?", model="gpt-4o-mini")
                assert rendered["messages"][0]["role"] == "system"
                assert "peanuts" in rendered["messages"][0]["content"]
                assert "violin" not in json.dumps(rendered)
                assert rendered["messages"][-1] == {"role": "user", "content": "What should I cook?"}

                assert await call(s, "forget_user", user="alice") == {"user_id": "alice", "erased": 2}
                assert (await call(s, "search_memories", user="alice", query="peanut allergy"))["hits"] == []
                assert (await call(s, "list_memories", user="alice"))["memories"] == []
                assert len((await call(s, "list_memories", user="bob"))["memories"]) == 1

                assert "empty" in await error(s, "add_memory", user="alice", text="   ")
                assert "k must be a positive integer" in await error(s, "search_memories", user="bob", query="x", k=0)
                assert "kind must be one of" in await error(s, "add_memory", user="bob", text="x", kind="nonsense")
                assert "next_cursor" in await error(s, "list_memories", user="bob", cursor="junk")
                assert "user" in await error(s, "search_memories", query="no user")  # the schema's own check
                assert "strategy" in (await error(s, "render_prompt", user="bob", message="hi", strategy="nope")).lower()

    anyio.run(main)
    stderr.seek(0)
    logged = stderr.read()
    assert "Traceback" not in logged, logged
