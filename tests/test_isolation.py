"""Property: no user's search ever returns another user's memory, and a user's ranking ignores other users.

Both properties hold on both store engines (PostgreSQL when a test server is there: tests/_stores.py)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from _stores import ENGINES, fresh_store
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from persona import Persona
from persona.testing import FakeEmbedder

WORDS = [
    "apple",
    "river",
    "violin",
    "paris",
    "peanut",
    "jazz",
    "garden",
    "nurse",
    "tea",
    "train",
    "snow",
    "cat",
]
text = st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(" ".join)
users = st.sampled_from(["alice", "bob", "carol"])
op = st.tuples(users, text, st.sampled_from(["fact", "episode", "preference"]))


@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(op, min_size=1, max_size=40),
    queries=st.lists(st.tuples(users, text), min_size=1, max_size=5),
    k=st.integers(1, 50),
)
def test_search_never_crosses_users(
    engine: str, ops: list[tuple[str, str, str]], queries: list[tuple[str, str]], k: int
) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        fresh_store(engine, Path(tmp)) as where,
        Persona(where, embedder=FakeEmbedder()) as p,
    ):
        for user, words, kind in ops:
            p.add(user, words, kind=kind)
        for user, query in queries:
            hits = p.search(user, query, k=k)
            assert all(h.memory.user_id == user for h in hits)
            owned = len(p.list(user))
            assert len(hits) == min(k, owned)


@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mine=st.lists(text, min_size=1, max_size=15, unique=True),
    theirs=st.lists(text, min_size=1, max_size=30),
    query=text,
)
def test_ranking_does_not_depend_on_other_users(
    engine: str, mine: list[str], theirs: list[str], query: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp, fresh_store(engine, Path(tmp)) as a, fresh_store(engine, Path(tmp)) as b:
        with Persona(a, embedder=FakeEmbedder()) as alone:
            alone.add_many("me", mine)
            solo = [(h.memory.text, round(h.score, 9)) for h in alone.search("me", query, k=10)]
        with Persona(b, embedder=FakeEmbedder()) as crowded:
            crowded.add_many("other", theirs)
            crowded.add_many("me", mine)
            crowded.add_many("third", theirs[::-1])
            shared = [(h.memory.text, round(h.score, 9)) for h in crowded.search("me", query, k=10)]
        assert solo == shared
