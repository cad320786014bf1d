"""The retrieved section fills the budget by rank, past the strategy's k, unless the strategy says ``fill: 0``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from persona import Persona
from persona.testing import FakeEmbedder

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
MODEL = "gpt-4o"  # tiktoken o200k_base: exact and offline
TEMPLATE = """{#- persona
description: retrieved only, k 3
sections: retrieved=1.0
k: 3
OPTIONS-#}
{% for m in retrieved %}- {{ m.text }}
{% endfor %}
"""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Persona]:
    with Persona(tmp_path / "store", embedder=FakeEmbedder(), clock=lambda: T0 + timedelta(days=30)) as p:
        p.add_many(
            "ana",
            [
                {"text": f"Ana hiked trail number {i} near the lake", "kind": "fact", "created_at": T0}
                for i in range(40)
            ],
        )
        yield p


def _strategy(tmp_path: Path, options: str = "") -> Path:
    path = tmp_path / ("k3_fill0.j2" if options else "k3.j2")
    path.write_text(TEMPLATE.replace("OPTIONS", options + "\n" if options else ""), "utf-8")
    return path


def test_hits_fill_the_budget_past_k_in_rank_order(store: Persona, tmp_path: Path) -> None:
    message = "which trail did Ana hike near the lake?"
    wide = store.prompt("ana", message, strategy=_strategy(tmp_path), model=MODEL, max_prompt_tokens=400)
    ranked = [h.memory.id for h in store.search("ana", message, k=40)]
    assert 3 < len(wide.memory_ids) < 40  # past k = 3, and the budget (not the store) is the limit
    assert wide.memory_ids == ranked[: len(wide.memory_ids)]  # whole entries, best first
    assert wide.tokens <= 400 and wide.left_out["retrieved"]
    big = store.prompt("ana", message, strategy=_strategy(tmp_path), model=MODEL, max_prompt_tokens=2000)
    assert len(big.memory_ids) == 40


def test_fill_0_keeps_exactly_k(store: Persona, tmp_path: Path) -> None:
    strategy = _strategy(tmp_path, "fill: 0")
    r = store.prompt(
        "ana", "which trail near the lake?", strategy=strategy, model=MODEL, max_prompt_tokens=2000
    )
    assert len(r.memory_ids) == 3
