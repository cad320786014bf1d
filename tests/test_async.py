"""The async twins (`persona.client_async`): each returns what its sync method returns, and they run together."""

from __future__ import annotations

import asyncio
import inspect
from datetime import datetime, timezone

import pytest

from persona import NotFoundError, Persona, StoreError
from persona.testing import FakeEmbedder

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
MOCK = "gpt-4o-mini"  # with mock_response= litellm answers without a network call; tiktoken counts offline

# Every public sync method of `Persona` that does I/O has an `a`-prefixed twin with its signature.
TWINNED = {
    "add",
    "policy",
    "reset_policy",
    "reply_user",
    "add_many",
    "update",
    "delete",
    "supersede",
    "restore",
    "forget_user",
    "get",
    "list",
    "list_page",
    "users",
    "history",
    "search",
    "search_vector",
    "stated_preferences",
    "export_user",
    "import_user",
    "reembed",
    "count",
    "check",
    "stats",
    "prompt",
    "feedback",
    "sweep",
    "consent",
    "set_consent",
    "disclosures",
}
# The public methods without a twin from `AsyncMethods`, and why.
NO_TWIN = {
    "chat",  # `achat` awaits the model call itself (persona.client_chat), with its own overloads
    "close",  # closing is not worth a thread hop
    "now",  # reads the clock
    "learning_errors",  # in memory
}


def _public_methods(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_") and inspect.isfunction(getattr(cls, name))}


def _parameters(signature: inspect.Signature) -> list[tuple[str, object, object, object]]:
    """Name, kind, default and annotation of every parameter after ``self`` (typed `_Sync` on the twins)."""
    return [(q.name, q.kind, q.default, q.annotation) for q in list(signature.parameters.values())[1:]]


def test_every_public_io_method_has_a_typed_twin() -> None:
    public = _public_methods(Persona)
    sync = {name for name in public if not inspect.iscoroutinefunction(getattr(Persona, name))}
    assert sync == TWINNED | NO_TWIN, (
        "a new public method: give it a twin in persona/client_async.py or list it"
    )
    assert public - sync == {f"a{name}" for name in TWINNED} | {"achat"}
    for name in TWINNED:
        twin = getattr(Persona, f"a{name}")
        assert inspect.iscoroutinefunction(twin), name
        assert twin.__doc__ == f"The async twin of `{name}`."
        mine, theirs = inspect.signature(twin), inspect.signature(getattr(Persona, name))
        assert _parameters(mine) == _parameters(theirs), name
        assert mine.return_annotation == theirs.return_annotation, name


def test_writes_and_reads_match_the_sync_methods(p: Persona) -> None:
    async def main() -> None:
        m = await p.aadd("alice", "I am allergic to peanuts", metadata={"src": "chat"}, importance=0.9)
        assert await p.aget(m.id) == p.get(m.id) == m
        many = await p.aadd_many("alice", ["tomatoes in the garden", {"text": "ran 5k", "kind": "episode"}])
        assert [x.text for x in many] == ["tomatoes in the garden", "ran 5k"]
        assert await p.alist("alice") == p.list("alice")
        assert await p.alist("alice", kind="episode", limit=1) == p.list("alice", kind="episode", limit=1)
        assert await p.ausers() == p.users() == ["alice"]
        assert await p.asearch("alice", "garden", k=2) == p.search("alice", "garden", k=2)
        hits = await p.asearch("alice", "garden", k=1)
        assert hits[0].memory.text == "tomatoes in the garden"
        vector = FakeEmbedder().embed(["garden"])[0]
        assert await p.asearch_vector("alice", vector, "garden", k=2) == p.search_vector(
            "alice", vector, "garden", k=2
        )

        changed = await p.aupdate(m.id, text="I am allergic to cashews")
        assert changed == p.get(m.id) and changed.text == "I am allergic to cashews"
        history = await p.ahistory(m.id)
        assert history == p.history(m.id) and len(history) == 2

        old = await p.aadd("alice", "the bike is red", kind="episode", created_at=T0)
        new = await p.aadd("alice", "the bike is blue", kind="episode")
        hidden = await p.asupersede(old.id, new.id)
        assert hidden == p.get(old.id) and hidden.superseded_by == new.id
        assert old.id not in {x.id for x in await p.alist("alice")}
        back = await p.arestore(old.id)
        assert back == p.get(old.id) and back.superseded_by is None

        await p.adelete(new.id)
        with pytest.raises(NotFoundError):
            p.get(new.id)

    asyncio.run(main())


def test_stated_preferences_count_stats_check_reembed(p: Persona) -> None:
    p.add("u", "I prefer tea over coffee", kind="episode")
    p.add("u", "a red bicycle")

    async def main() -> None:
        assert await p.astated_preferences("u", limit=5) == p.stated_preferences("u", limit=5)
        assert [m.text for m in await p.astated_preferences("u")] == ["I prefer tea over coffee"]
        assert await p.acount("u") == p.count("u") == 2
        assert await p.acount() == p.count() == 2
        assert await p.astats() == p.stats()
        assert await p.acheck() == p.check()
        assert (await p.acheck(repair=True)).ok
        assert await p.areembed() == 2

    asyncio.run(main())


def test_export_import_and_forget_round_trip(p: Persona, tmp_path_factory: pytest.TempPathFactory) -> None:
    p.add_many("u", ["I live in Lisbon", "likes green tea", {"text": "met Ana", "kind": "episode"}])

    async def main() -> None:
        data = await p.aexport_user("u")
        assert data == p.export_user("u")
        with Persona(tmp_path_factory.mktemp("copy") / "store", embedder=FakeEmbedder()) as other:
            imported = await other.aimport_user(data)
            assert sorted(m.id for m in imported) == sorted(m.id for m in p.list("u"))
            assert await other.alist("u") == other.list("u") == p.list("u")
        assert await p.aforget_user("u") == 3
        assert p.list("u") == [] and await p.ausers() == []

    asyncio.run(main())


def test_prompt_and_feedback(p: Persona) -> None:
    p.add("ana", "I am allergic to peanuts")

    async def main() -> None:
        rendered = await p.aprompt("ana", "what can I snack on?", model=MOCK, max_prompt_tokens=500)
        assert rendered == p.prompt("ana", "what can I snack on?", model=MOCK, max_prompt_tokens=500)
        assert rendered.tokens <= 500 and rendered.memory_ids

        reply = await p.achat("ana", "hi", model=MOCK, mock_response="hello")
        assert reply.text == "hello"
        p.learning.wait("ana")
        given = await p.afeedback(reply.id, 1, comment="great")
        assert given.reply_id == reply.id and given.rating == 1

    asyncio.run(main())


def test_twins_run_concurrently(p: Persona) -> None:
    async def main() -> None:
        added = await asyncio.gather(*(p.aadd(f"user{n % 3}", f"memory number {n}") for n in range(30)))
        assert len({m.id for m in added}) == 30
        hits, listed, stats, rendered, batch, users = await asyncio.gather(
            p.asearch("user0", "memory", k=5),
            p.alist("user1"),
            p.astats(),
            p.aprompt("user2", "memory?", model=MOCK),
            p.aadd_many("user0", [f"batch item {i}" for i in range(20)]),
            p.ausers(),
        )
        assert len(hits) == 5 and len(listed) == 10 and len(batch) == 20
        assert stats.memories in (30, 50)
        assert rendered.messages[-1]["content"].endswith("memory?")
        assert users == ["user0", "user1", "user2"]
        assert p.count() == 50

    asyncio.run(main())


def test_a_twin_of_a_closed_persona_raises(p: Persona) -> None:
    p.close()
    with pytest.raises(StoreError):
        asyncio.run(p.acount())
