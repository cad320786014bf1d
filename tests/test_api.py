"""The Persona API on the deterministic fake embedder: CRUD, dedup, history, search, filters, export.

Every test that takes ``p`` runs on both store engines (SQLite, and PostgreSQL when a test server is there)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import persona
from persona import Hit, InvalidInputError, Memory, NotFoundError, Persona, StoreError
from persona.testing import FakeEmbedder

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def p(location: str, embedder: FakeEmbedder) -> Iterator[Persona]:
    with Persona(location, embedder=embedder) as persona:
        yield persona


def test_add_get_list(p: Persona) -> None:
    m = p.add("alice", "I am allergic to peanuts", metadata={"src": "chat"}, importance=0.9)
    assert isinstance(m, Memory)
    assert m.kind == "fact" and m.importance == 0.9
    # the caller's metadata, and the slot the fact fills (so a later statement of it supersedes this one)
    assert m.metadata == {"src": "chat", "key": "allergy:peanuts", "value": "peanuts", "negated": False}
    assert m.created_at.tzinfo is not None and m.updated_at.tzinfo is not None
    assert p.get(m.id) == m
    assert p.list("alice") == [m]
    assert p.list("nobody") == []
    assert p.users() == ["alice"]


def test_list_filters_and_order(p: Persona) -> None:
    for day in range(5):
        p.add("u", f"event number {day}", kind="episode", created_at=T0 + timedelta(days=day))
    p.add("u", "likes tea", kind="preference", created_at=T0)
    newest_first = [m.text for m in p.list("u", kind="episode")]
    assert newest_first == [f"event number {d}" for d in range(4, -1, -1)]
    assert [m.text for m in p.list("u", since=T0 + timedelta(days=3))] == ["event number 4", "event number 3"]
    assert len(p.list("u", until=T0 + timedelta(days=1))) == 2
    assert len(p.list("u", limit=2)) == 2


def test_exact_duplicates_stored_once_but_episodes_never_merged(p: Persona) -> None:
    a = p.add("u", "I live in Paris")
    assert p.add("u", "I live in Paris").id == a.id
    assert p.add("u", "I live in Paris", kind="preference").id != a.id  # another kind
    assert p.add("other", "I live in Paris").id != a.id  # another user
    e1 = p.add("u", "ran 5k", kind="episode")
    e2 = p.add("u", "ran 5k", kind="episode")
    assert e1.id != e2.id
    batch = p.add_many("u", ["new fact", "new fact", "I live in Paris"])
    assert batch[0].id == batch[1].id and batch[2].id == a.id
    assert len(p.list("u", kind="fact")) == 2


def test_add_many_in_order_with_dicts(p: Persona, embedder: FakeEmbedder) -> None:
    items: list[str | dict[str, object]] = [
        f"memory {i}" if i % 2 else {"text": f"memory {i}", "kind": "episode", "metadata": {"i": i}}
        for i in range(600)
    ]
    out = p.add_many("u", items)
    assert [m.text for m in out] == [f"memory {i}" for i in range(600)]
    assert out[0].metadata == {"i": 0} and out[0].kind == "episode"
    assert max(len(c) for c in embedder.calls) <= 256  # embedded in batches
    assert p.add_many("u", []) == []


def test_add_many_is_atomic_on_bad_input(p: Persona) -> None:
    p.add("u", "kept")
    with pytest.raises(InvalidInputError, match="item 2"):
        p.add_many("u", ["a", "b", {"text": ""}])
    with pytest.raises(InvalidInputError, match="item 1"):
        p.add_many("u", ["a", {"text": "b", "metadata": {"x": object()}}])
    assert [m.text for m in p.list("u")] == ["kept"]


def test_update_and_history(p: Persona) -> None:
    m = p.add("u", "I live in Paris")
    u = p.update(m.id, text="I live in Berlin", metadata={"v": 2}, importance=0.7)
    assert u.id == m.id and u.text == "I live in Berlin" and u.metadata == {"v": 2} and u.importance == 0.7
    assert u.created_at == m.created_at and u.updated_at >= m.updated_at
    events = p.history(m.id)
    assert [e.event for e in events] == ["ADD", "UPDATE"]
    assert [e.text for e in events] == ["I live in Paris", "I live in Berlin"]
    assert p.search("u", "Berlin", k=1)[0].memory.text == "I live in Berlin"
    with pytest.raises(InvalidInputError, match="nothing to update"):
        p.update(m.id)


def test_delete_purges_history_text(p: Persona) -> None:
    m = p.add("u", "secret diary entry")
    p.update(m.id, text="secret diary entry, edited")
    p.delete(m.id)
    with pytest.raises(NotFoundError):
        p.get(m.id)
    events = p.history(m.id)
    assert [e.event for e in events] == ["ADD", "UPDATE", "DELETE"]
    assert all(e.text is None and e.metadata is None for e in events)
    assert p.search("u", "secret diary", k=5) == []
    with pytest.raises(NotFoundError, match="no memory"):
        p.delete(m.id)


def test_unknown_ids(p: Persona) -> None:
    for call in (p.get, p.delete, p.history):
        with pytest.raises(NotFoundError, match="no memory"):
            call("does-not-exist")
    with pytest.raises(NotFoundError):
        p.update("does-not-exist", text="x")


def test_search_ranks_and_explains(p: Persona) -> None:
    p.add_many(
        "u",
        [
            "I am allergic to peanuts",
            "My favourite city is Lisbon",
            "I play the cello on weekends",
            "I work as a nurse at night",
        ],
    )
    hits = p.search("u", "which city is my favourite?", k=2)
    assert len(hits) == 2 and all(isinstance(h, Hit) for h in hits)
    assert hits[0].memory.text == "My favourite city is Lisbon"
    assert hits[0].score >= hits[1].score
    assert {"dense", "lexical"} <= set(hits[0].parts)
    assert p.search("nobody", "anything") == []


def test_search_returns_k_when_k_pass_the_filters(p: Persona) -> None:
    # 200 facts that match the query well, 7 episodes that do not: filters apply before ranking.
    p.add_many("u", [f"coffee fact number {i}" for i in range(200)])
    p.add_many(
        "u",
        [
            {
                "text": f"unrelated walk {i}",
                "kind": "episode",
                "metadata": {"tag": "x" if i < 5 else "y"},
                "created_at": T0 + timedelta(days=i),
            }
            for i in range(7)
        ],
    )
    assert len(p.search("u", "coffee", k=5, kind="episode")) == 5
    tagged = p.search("u", "coffee", k=10, filters={"tag": "x"})
    assert len(tagged) == 5 and all(h.memory.metadata["tag"] == "x" for h in tagged)
    assert len(p.search("u", "coffee", k=10, filters={"tag": ["x", "y"]})) == 7
    recent = p.search("u", "walk", k=10, kind="episode", since=T0 + timedelta(days=5))
    assert sorted(h.memory.text for h in recent) == ["unrelated walk 5", "unrelated walk 6"]
    early = p.search("u", "walk", k=10, kind="episode", until=T0 + timedelta(days=1))
    assert [h.memory.text for h in early] == ["unrelated walk 0"]


def test_superseded_hidden_unless_asked(p: Persona) -> None:
    old = p.add("u", "I live in Paris")
    new = p.add("u", "I live in Berlin now", supersede=False)  # by hand below
    assert p.get(old.id).current
    p.search("u", "live", k=5)  # warm the index so the patch path is exercised
    gone = p.supersede(old.id, new.id, at=T0)
    assert gone.superseded_by == new.id and gone.valid_to == T0 and not gone.current
    assert [h.memory.id for h in p.search("u", "where do I live", k=5)] == [new.id]
    both = p.search("u", "where do I live", k=5, include_superseded=True)
    assert {h.memory.id for h in both} == {old.id, new.id}
    p.restore(old.id)
    assert len(p.search("u", "where do I live", k=5)) == 2
    assert [e.event for e in p.history(old.id)] == ["ADD", "SUPERSEDE", "RESTORE"]


def test_export_import_round_trip(p: Persona, tmp_path: Path) -> None:
    p.add("u", "fact one", metadata={"a": [1, 2, {"b": None}]}, importance=0.25, created_at=T0)
    p.add(
        "u",
        "episode one",
        kind="episode",
        created_at=datetime(2023, 1, 1, 8, 30, tzinfo=timezone(timedelta(hours=2))),
    )
    deleted = p.add("u", "to be deleted")
    p.delete(deleted.id)
    p.add("v", "someone else")
    data = p.export_user("u")
    import json

    assert json.loads(json.dumps(data)) == data
    assert data["schema_version"] == 1 and data["format"] == "persona.export"
    assert p.forget_user("u") == 2
    with Persona(tmp_path / "other", embedder=FakeEmbedder()) as q:
        q.import_user(data)
        assert q.export_user("u") == data
    p.import_user(data)
    assert p.export_user("u") == data
    assert p.search("u", "fact one", k=1)[0].memory.metadata == {"a": [1, 2, {"b": None}]}
    with pytest.raises(InvalidInputError, match="already exists"):
        p.import_user(data)  # ids exist: nothing imported twice
    assert len(p.list("u")) == 2
    assert p.export_user("nobody")["memories"] == []


@pytest.mark.parametrize(
    "bad",
    [
        {"format": "something"},
        {"format": "persona.export", "schema_version": 99, "user_id": "u", "memories": []},
        {"format": "persona.export", "schema_version": 1, "user_id": "", "memories": []},
        {"format": "persona.export", "schema_version": 1, "user_id": "u", "memories": [{"text": "no id"}]},
        {
            "format": "persona.export",
            "schema_version": 1,
            "user_id": "u",
            "memories": [{"id": "a", "text": "ok"}, {"id": "b", "text": ""}],
        },
    ],
)
def test_import_rejects_malformed_and_imports_nothing(p: Persona, bad: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        p.import_user(bad)
    assert p.users() == []


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda p: p.add("", "x"), "user_id"),
        (lambda p: p.add(None, "x"), "user_id"),
        (lambda p: p.add("u", ""), "empty"),
        (lambda p: p.add("u", "   "), "empty"),
        (lambda p: p.add("u", 42), "string"),
        (lambda p: p.add("u", "x" * 40_000), "limit"),
        (lambda p: p.add("u", "x", kind="gossip"), "kind"),
        (lambda p: p.add("u", "x", metadata={"when": datetime.now()}), "JSON"),
        (lambda p: p.add("u", "x", metadata=["not", "a", "dict"]), "dict"),
        (lambda p: p.add("u", "x", importance=3), "between 0 and 1"),
        (lambda p: p.add("u", "x", created_at="yesterday"), "ISO 8601"),
        (lambda p: p.search("u", "q", k=0), "positive integer"),
        (lambda p: p.search("u", "", k=3), "empty"),
        (lambda p: p.search("u", "q", filters={"a": {"b": 1}}), "filter"),
        (lambda p: p.list("u", limit=0), "positive"),
        (lambda p: p.add_many("u", "not a list"), "list"),
        (lambda p: p.add_many("u", [{"txt": "typo"}]), "unknown field"),
    ],
)
def test_bad_input_raises_and_changes_nothing(p: Persona, call, match: str) -> None:  # type: ignore[no-untyped-def]
    p.add("u", "existing memory")
    before = p.export_user("u")
    with pytest.raises(InvalidInputError, match=match):
        call(p)
    assert p.export_user("u") == before


def test_long_text_up_to_the_limit_is_accepted(p: Persona) -> None:
    m = p.add("u", "word " * 3_200)  # 16,000 characters
    assert len(m.text) == 16_000


def test_path_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(StoreError, match="is a file"):
        Persona(f, embedder=FakeEmbedder())


def test_closed_persona_refuses_work(store_path: Path) -> None:
    p = Persona(store_path, embedder=FakeEmbedder())
    p.close()
    p.close()
    with pytest.raises(StoreError, match="closed"):
        p.add("u", "x")


def test_default_path_is_persona_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PERSONA_HOME", str(tmp_path / "home"))
    with Persona(embedder=FakeEmbedder()) as p:
        assert p.path == tmp_path / "home"
        p.add("u", "x")
    assert (tmp_path / "home" / "persona.db").exists()


def test_thread_safety(p: Persona) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(30):
                p.add(f"user{n % 3}", f"thread {n} memory {i}", kind="episode")
                p.search(f"user{n % 3}", f"memory {i}", k=3)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(len(p.list(f"user{n}")) for n in range(3)) == 180


def test_async_twins(p: Persona) -> None:
    async def main() -> list[Hit]:
        await p.aadd("u", "async memory about gardens")
        await p.aadd_many("u", ["tomatoes in the garden", "a red bicycle"])
        return await p.asearch("u", "garden", k=2)

    hits = asyncio.run(main())
    assert {h.memory.text for h in hits} == {"async memory about gardens", "tomatoes in the garden"}


def test_public_names_are_complete() -> None:
    import types

    exported = {
        name
        for name, value in vars(persona).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }
    assert exported <= set(persona.__all__), exported - set(persona.__all__)
    for name in persona.__all__:
        assert hasattr(persona, name)


def test_an_object_that_is_not_an_embedder_is_refused(store_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="embedder"):
        Persona(store_path, embedder=object())  # type: ignore[arg-type]


def test_add_many_keeps_each_text_with_its_own_vector(
    p: Persona, embedder: FakeEmbedder, location: str
) -> None:
    texts = [("word " * (i % 37 + 1)) + f"unique{i}" for i in range(700)]  # lengths vary: embedded out of order
    memories = p.add_many("u", [{"text": t, "kind": "episode"} for t in texts])
    assert [m.text for m in memories] == texts
    import numpy as np

    from persona.store.opening import open_store, store_location

    store = open_store(store_location(location))  # a second connection: what was written, read back
    rows = store.user_rows("u")
    store.close()
    stored = np.frombuffer(b"".join(b for b in rows.embeddings if b), dtype="<f4").reshape(len(texts), -1)
    assert np.allclose(stored, FakeEmbedder().embed(rows.texts), atol=1e-6)
