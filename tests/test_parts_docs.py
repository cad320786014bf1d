"""`Hit.parts` as documented: every part a search emits is explained in docs/retrieval.md and named in
`search --explain`'s help, and the docs describe no part that is not emitted."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import typer

from persona import Persona
from persona.cli import app
from persona.testing import FakeEmbedder, FakeReranker

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)


def _documented() -> list[str]:
    text = (ROOT / "docs" / "retrieval.md").read_text(encoding="utf-8")
    section = text.split("## What `Hit.parts` holds", 1)[1]
    return re.findall(r"^\| `(\w+)` \|", section, re.M)


def _emitted(tmp_path: Path) -> tuple[set[str], set[str]]:
    items = [
        {"text": "Ann: I just got back from Lisbon. Did you like the trip?", "kind": "episode",
         "metadata": {"session": 1, "city": "Lisbon"}, "created_at": T0},
        {"text": "Bob: Yes, the tiles were great. We ate grilled fish every day.", "kind": "episode",
         "metadata": {"session": 1}, "created_at": T0 + timedelta(seconds=30)},
        {"text": "I prefer window seats and I am allergic to peanuts.", "kind": "episode",
         "created_at": T0 + timedelta(days=3)},
    ]
    with Persona(tmp_path / "s", embedder=FakeEmbedder(), clock=lambda: T0 + timedelta(days=9)) as p:
        p.add_many("u", items)
        plain = p.search("u", "Can you recommend a dinner in Lisbon on 1 May 2024?", k=3)
        p.reranker = FakeReranker("fish")
        reranked = p.search("u", "what did we eat in Lisbon?", k=3)
    assert plain and reranked
    first = set().union(*(h.parts for h in plain))
    for hit in plain:  # the documented ranges of the bounded parts
        assert -1.0 - 1e-6 <= hit.parts["dense"] <= 1.0 + 1e-6
        assert 0.0 <= hit.parts["question"] <= 1.0
        assert all(hit.parts[name] in (0.0, 1.0) for name in ("mentioned", "preference", "dated"))
    assert any(h.parts["mentioned"] == 1.0 for h in plain)  # "Lisbon" names a metadata value
    assert any(h.parts["preference"] == 1.0 for h in plain)  # "recommend": advice; "I prefer": preference
    return first, set().union(*(h.parts for h in reranked))


def test_every_emitted_part_is_documented_and_nothing_else(tmp_path: Path) -> None:
    documented = _documented()
    assert len(documented) == len(set(documented))
    first, reranked = _emitted(tmp_path)
    assert reranked - first == {"rerank", "fused"}
    assert set(documented) == reranked


def test_search_explain_help_names_every_part(tmp_path: Path) -> None:
    command = typer.main.get_command(app)
    search = command.commands["search"]  # type: ignore[attr-defined]
    (explain,) = [p for p in search.params if p.name == "explain"]
    help_text = getattr(explain, "help", "") or ""
    for name in _documented():
        assert re.search(rf"\b{name}\b", help_text), f"--explain help does not name {name!r}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "ranks and fused shares" not in readme and "ranks and fused" not in help_text
