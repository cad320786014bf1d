"""The real bundled embedder end to end, offline (the network is blocked by conftest)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from persona import Persona

pytestmark = pytest.mark.slow


def test_default_embedder_finds_by_meaning(tmp_path: Path) -> None:
    with Persona(tmp_path / "store") as p:
        p.add_many(
            "alice",
            [
                "I am allergic to peanuts",
                "My daughter starts university in Lisbon next autumn",
                "I repaired the bicycle chain on Saturday",
                {"text": "We adopted a grey kitten called Miso", "kind": "episode"},
            ],
        )
        p.add("bob", "I am allergic to peanuts too")
        hits = p.search("alice", "which foods must she avoid?", k=2)
        assert hits[0].memory.text == "I am allergic to peanuts"
        assert all(h.memory.user_id == "alice" for h in hits)
        assert p.search("alice", "pets at home", k=1)[0].memory.text.startswith("We adopted")
        assert p.stats().to_dict()["embedder"] == {"id": "sentence-transformers/all-MiniLM-L6-v2", "dim": 384}
    assert os.environ.get("HF_HUB_OFFLINE") == "1"  # set by the library itself, not by the test environment


def test_reopened_store_keeps_working_with_the_recorded_embedder(tmp_path: Path) -> None:
    with Persona(tmp_path / "store") as p:
        p.add("u", "The quarterly report is due on Friday")
    with Persona(tmp_path / "store") as p:
        assert p.search("u", "when is the deadline?", k=1)[0].memory.text.startswith("The quarterly report")
