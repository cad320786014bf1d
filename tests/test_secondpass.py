"""The round-4 multi-hop candidates (persona.retrieval.secondpass): second hop, neighbour credit, session
penalty. Off by default; each is checked on hand-built indexes and through `Persona.search`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import numpy.typing as npt

from persona import Persona, RankingConfig
from persona.backends.faiss_index import FlatIndex
from persona.retrieval.index import UserIndex
from persona.retrieval.secondpass import HOP_POOL, HOP_SEEDS, neighbour_credit, second_hop, session_rank
from persona.testing import FakeEmbedder

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def _index(vectors: npt.NDArray[np.float32]) -> UserIndex:
    dense = FlatIndex(vectors.shape[1])
    dense.add(np.ascontiguousarray(vectors, dtype=np.float32))
    index = UserIndex(user_id="u", dim=vectors.shape[1], dense=dense)
    index.seqs = list(range(1, len(vectors) + 1))
    return index


def _unit(rows: list[list[float]]) -> npt.NDArray[np.float32]:
    a = np.asarray(rows, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def test_defaults_leave_the_feedback_terms_off() -> None:
    config = RankingConfig()
    assert (config.hop_weight, config.neighbour_credit, config.session_penalty) == (0.0, 0.0, 0.0)


def test_second_hop_scores_the_pool_by_the_seed_centroid() -> None:
    n = HOP_POOL + 20
    rng = np.random.default_rng(0)
    vectors = _unit(rng.normal(size=(n, 8)).tolist())
    vectors[:HOP_SEEDS] = _unit([[1, 0, 0, 0, 0, 0, 0, 0]] * HOP_SEEDS)
    vectors[HOP_SEEDS + 5] = _unit([[1, 0.01, 0, 0, 0, 0, 0, 0]])[0]  # a near-twin of the seeds
    index = _index(vectors)
    fused = np.linspace(1.0, 0.0, n)  # position order is first-stage rank order
    hop = second_hop(index, fused, np.arange(n))
    assert hop[HOP_SEEDS + 5] > 0.99 and hop.max() == 1.0
    assert (hop[HOP_POOL:] == 0.0).all()  # outside the pool: no second-hop evidence
    assert hop.min() == 0.0 and (hop[:HOP_POOL] >= 0.0).all()
    # only allowed candidates seed and join the pool
    allowed = np.arange(HOP_SEEDS, n)
    assert second_hop(index, fused, allowed)[:HOP_SEEDS].tolist() == [0.0] * HOP_SEEDS
    assert second_hop(index, fused, np.zeros(0, dtype=np.int64)).tolist() == [0.0] * n


def test_neighbour_credit_is_the_gap_to_the_better_neighbour() -> None:
    index = _index(_unit([[1, 0], [0, 1], [1, 1], [1, -1]]))
    index.links = np.array([-1, 0, 1, -1])
    linked = index.links >= 0
    follower = np.array([1, 2, -1, -1])
    fused = np.array([1.0, 0.2, 0.5, 0.9])
    credit = neighbour_credit(index, fused, linked, follower)
    # 1 gains the gap to 0 (its better neighbour); 0 and 2 lead their neighbours; 3 has none
    assert np.allclose(credit, [0.0, 0.8, 0.0, 0.0])


def test_session_rank_marks_all_but_each_conversations_best() -> None:
    index = _index(_unit([[1, 0]] * 5))
    index.group = np.array([0, 0, 1, 1, 1])
    fused = np.array([0.1, 0.5, 0.3, 0.9, 0.2])
    assert session_rank(index, fused, np.arange(5)).tolist() == [1.0, 0.0, 1.0, 0.0, 1.0]
    # a filtered-out memory is not its conversation's best
    assert session_rank(index, fused, np.array([0, 1, 2, 4])).tolist() == [1.0, 0.0, 0.0, 0.0, 1.0]


def _turns(session: int, texts: list[str], at: datetime) -> list[dict[str, object]]:
    return [
        {
            "text": f"Ann: {text}",
            "kind": "episode",
            "created_at": at,
            "metadata": {"session": session, "speaker": "Ann", "turn": f"{session}:{i}"},
        }
        for i, text in enumerate(texts)
    ]


def test_session_penalty_brings_other_conversations_forward(tmp_path: Path) -> None:
    memories = _turns(1, ["camping by the lake", "camping with the kids", "camping gear"], T0) + _turns(
        2, ["the weather was nice", "we went camping in the forest"], T0 + timedelta(days=7)
    )
    query = "camping"
    with Persona(tmp_path / "a", embedder=FakeEmbedder()) as p:
        p.add_many("u", memories)
        plain = [h.memory.metadata["session"] for h in p.search("u", query, k=2)]
        p.ranking = RankingConfig(session_penalty=1.0)
        spread = [h.memory.metadata["session"] for h in p.search("u", query, k=2)]
        p.ranking = RankingConfig(hop_weight=0.2, neighbour_credit=0.2)
        assert len(p.search("u", query, k=5)) == 5
    assert plain == [1, 1]
    assert sorted(spread) == [1, 2]
