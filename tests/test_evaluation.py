"""The evaluation harness: loaders, metrics, baselines and the retrieval protocol on tiny hand-made data,
plus the real benchmark files' counts (skipped when the data directory is absent)."""

from __future__ import annotations

import importlib.util
import json
import math
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

import pytest

from persona.errors import PersonaError
from persona.evaluation import datasets, metrics
from persona.evaluation.baselines import BM25, BM25Retriever, DenseRetriever, rrf, tokenize
from persona.evaluation.retrieval import (
    CachingEmbedder,
    PersonaRetriever,
    evaluate_locomo,
    evaluate_prefeval,
    locomo_documents,
    render_summary,
    turn_text,
)
from persona.testing import FakeEmbedder

LOCOMO = [
    {
        "sample_id": "conv-x",
        "conversation": {
            "speaker_a": "Ann",
            "speaker_b": "Bo",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Ann", "dia_id": "D1:1", "text": "I adopted a puppy named Rex."},
                {"speaker": "Bo", "dia_id": "D1:2", "text": "Congrats! What breed is Rex?"},
                {
                    "speaker": "Ann",
                    "dia_id": "D1:3",
                    "text": "Look at him!",
                    "img_url": ["http://example.invalid/rex.jpg"],
                    "blip_caption": "a photo of a golden retriever puppy",
                },
            ],
            "session_2_date_time": "10:00 am on 2 June, 2023",
            "session_2": [
                {"speaker": "Bo", "dia_id": "D2:1", "text": "I ran a marathon in Boston last weekend."},
                {"speaker": "Ann", "dia_id": "D2:2", "text": "Rex chewed my running shoes."},
            ],
            "session_3_date_time": "9:00 am on 3 July, 2023",
        },
        "qa": [
            {
                "question": "What is the name of Ann's puppy?",
                "answer": "Rex",
                "evidence": ["D1:01"],
                "category": 4,
            },
            {
                "question": "Where did Bo run a marathon?",
                "answer": 2023,
                "evidence": ["D2:1; D9:9"],
                "category": 2,
            },
            {"question": "What did Rex chew?", "answer": "shoes", "evidence": ["D2:2", "D"], "category": 1},
            {"question": "Is Ann kind?", "answer": "yes", "evidence": [], "category": 3},
            {
                "question": "What is Bo's cat called?",
                "adversarial_answer": "Tom",
                "evidence": ["D1:2"],
                "category": 5,
            },
        ],
    }
]

FILLER = [
    {
        "conversation_id": "c1",
        "conversation": [
            {"role": "user", "content": "Convert this python function to golang please."},
            {"role": "assistant", "content": "Here it is in Go."},
            {"role": "user", "content": "Now write ten unit tests for it."},
            {"role": "assistant", "content": "Sure, the tests."},
        ],
    }
]
EXPLICIT = {
    "travel_restaurant": [
        {
            "preference": "I avoid restaurants serving gluten because of a gluten intolerance.",
            "question": "Which restaurants in Rome should I try?",
            "explanation": "Roman food is full of wheat.",
        },
        {
            "preference": "I am allergic to shellfish and seafood.",
            "question": "What dishes should I eat in New Orleans seafood restaurants?",
            "explanation": "New Orleans food is seafood.",
        },
    ]
}
CHOICES = {
    "travel_restaurant": [
        {
            "preference": "No gluten.",
            "question": "Lunch in Rome?",
            "explanation": "wheat",
            "implicit_query": "Good lunch near the office?",
            "options": ["salad bar", "pasta"],
            "conversation": {
                "query": "Good lunch near the office?",
                "assistant_options": "1. salad bar 2. pasta",
                "user_selection": "The salad bar.",
                "assistant_acknowledgment": "Got it.",
            },
            "aligned_op": "salad bar",
        }
    ]
}


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "locomo").mkdir(parents=True)
    (root / "locomo" / "locomo_dev.json").write_text(json.dumps(LOCOMO))
    for folder, content in (("explicit_preference", EXPLICIT), ("implicit_choice_based", CHOICES)):
        (root / "prefeval" / folder).mkdir(parents=True)
        for topic, items in content.items():
            (root / "prefeval" / folder / f"{topic}.json").write_text(json.dumps(items))
    (root / "prefeval" / "filtered_inter_turns.json").write_text(json.dumps(FILLER))
    return root


# ------------------------------------------------------------------------------------------- loaders


def test_normalize_evidence_splits_strips_zeros_and_dedupes() -> None:
    assert datasets.normalize_evidence(["D30:05", "D1:3; D2:4", "D1:3 D10:011", "D", "D:11:26"]) == (
        "D30:5",
        "D1:3",
        "D2:4",
        "D10:11",
        "D",
        "D:11:26",
    )


def test_parse_session_date_is_utc() -> None:
    assert datasets.parse_session_date("1:56 pm on 8 May, 2023") == datetime(
        2023, 5, 8, 13, 56, tzinfo=timezone.utc
    )
    assert datasets.parse_session_date("12:48 am on 1 February, 2023").hour == 0
    with pytest.raises(ValueError, match="unrecognised"):
        datasets.parse_session_date("yesterday")


def test_load_locomo(tiny: Path) -> None:
    (conv,) = datasets.load_locomo(tiny)
    assert (conv.sample_id, conv.speaker_a, conv.speaker_b) == ("conv-x", "Ann", "Bo")
    assert [s.index for s in conv.sessions] == [1, 2]  # session 3 has a date but no turns
    assert conv.sessions[1].date == datetime(2023, 6, 2, 10, 0, tzinfo=timezone.utc)
    assert conv.turn_count == 5
    image = conv.sessions[0].turns[2]
    assert image.image_caption == "a photo of a golden retriever puppy"
    assert conv.sessions[0].turns[0].image_caption is None
    q = conv.qa
    assert q[0].evidence == ("D1:1",) and q[0].category_name == "single-hop"
    assert q[1].answer == "2023" and q[1].evidence == ("D2:1",) and q[1].unresolved_evidence == ("D9:9",)
    assert q[2].evidence == ("D2:2",) and q[2].unresolved_evidence == ("D",)
    assert q[3].evidence == () and q[3].all_evidence == ()
    assert q[4].answer is None and q[4].adversarial_answer == "Tom" and q[4].category_name == "adversarial"


def test_load_prefeval(tiny: Path) -> None:
    assert datasets.prefeval_topics(tiny) == ["travel_restaurant"]
    items = datasets.load_prefeval_explicit(tiny)
    assert [i.id for i in items] == ["travel_restaurant/0", "travel_restaurant/1"]
    assert items[1].preference.startswith("I am allergic")
    (choice,) = datasets.load_prefeval_choices(tiny)
    assert choice.options == ("salad bar", "pasta") and choice.aligned_option == "salad bar"
    assert [m.role for m in choice.dialog] == ["user", "assistant", "user", "assistant"]
    (filler,) = datasets.load_prefeval_filler(tiny)
    assert filler.conversation_id == "c1"
    assert [m.content for m in filler.user_messages] == [
        "Convert this python function to golang please.",
        "Now write ten unit tests for it.",
    ]


def test_missing_data_dir_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(datasets.DATA_DIR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(PersonaError, match="PERSONA_DATA_DIR") as info:
        datasets.load_locomo()
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(datasets.DatasetNotFoundError, match=r"locomo_dev\.json"):
        datasets.load_locomo(tmp_path)  # the directory exists, the file does not


def test_data_dir_from_environment(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(datasets.DATA_DIR_ENV, str(tiny))
    assert datasets.resolve_data_dir() == tiny
    assert len(datasets.load_locomo()) == 1


# ------------------------------------------------------------------------------------------- metrics


def test_recall_counts_the_share_of_relevant_in_top_k() -> None:
    ranked = ["a", "b", "c", "d"]
    assert metrics.recall_at_k(ranked, {"a", "d"}, 1) == 1 / 2
    assert metrics.recall_at_k(ranked, {"a", "d"}, 4) == 1.0
    assert metrics.recall_at_k(ranked, {"x"}, 10) == 0.0
    assert metrics.recall_at_k(["a"], ["a", "a"], 5) == 1.0  # duplicates in the judgments count once
    with pytest.raises(ValueError, match="empty"):
        metrics.recall_at_k(ranked, set(), 5)
    with pytest.raises(ValueError, match="k must be"):
        metrics.recall_at_k(ranked, {"a"}, 0)


def test_reciprocal_rank_and_ndcg() -> None:
    assert metrics.reciprocal_rank(["x", "a", "b"], {"a", "b"}) == 0.5
    assert metrics.reciprocal_rank(["x"], {"a"}) == 0.0
    assert metrics.ndcg_at_k(["a", "b", "x"], {"a", "b"}, 10) == pytest.approx(1.0)
    assert metrics.ndcg_at_k(["x", "a"], {"a"}, 10) == pytest.approx(1 / math.log2(3))
    assert metrics.ndcg_at_k(["x", "a"], {"a"}, 1) == 0.0


def test_session_recall() -> None:
    assert metrics.dia_session("D12:3") == "D12"
    # evidence in sessions D1 and D2; the top 2 hits are both from D1
    assert metrics.session_recall_at_k(["D1:4", "D1:1", "D2:9"], {"D1:1", "D2:2"}, 2) == 0.5
    assert metrics.session_recall_at_k(["D1:4", "D1:1", "D2:9"], {"D1:1", "D2:2"}, 3) == 1.0


def test_mean_and_percentile() -> None:
    assert metrics.mean([1.0, 2.0, 3.0]) == 2.0
    assert math.isnan(metrics.mean([]))
    assert metrics.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert metrics.percentile([5.0], 95) == 5.0
    with pytest.raises(ValueError):
        metrics.percentile([1.0], 101)


# ----------------------------------------------------------------------------------------- baselines


def test_tokenize_and_bm25() -> None:
    assert tokenize("Caroline's LGBTQ+ group, 8 May!") == ["caroline", "s", "lgbtq", "group", "8", "may"]
    bm = BM25(["the cat sat", "the dog ran", "the cat and the cat", "a bird", "the fish swam"])
    assert bm.idf("the") == 0.0  # in 4 of 5 documents: the raw idf is negative, floored at 0
    assert bm.idf("cat") == pytest.approx(math.log(3.5 / 2.5))
    assert bm.idf("unseen") == 0.0
    scores = bm.scores("cat")
    assert scores[2] > scores[0] > 0 and scores[1] == scores[3] == scores[4] == 0
    assert bm.scores("cat cat")[0] == pytest.approx(2 * scores[0])  # repeated query words count


def test_rrf_fuses_ranks_with_a_depth_cut() -> None:
    fused = rrf([["a", "b"], ["b", "c"]])
    assert fused[0] == "b" and set(fused) == {"a", "b", "c"}
    assert rrf([["a", "b", "c"], ["c"]], depth=1) == ["a", "c"]


def test_caching_embedder_embeds_batches_once() -> None:
    inner = FakeEmbedder()
    cached = CachingEmbedder(inner)
    first = cached.embed(["one", "two", "one"])
    again = cached.embed(["two", "one"])
    assert inner.calls == [["one", "two"]]
    assert (again[1] == first[0]).all()
    cached.embed(["a query"])
    cached.embed(["a query"])
    assert inner.calls[1:] == [["a query"], ["a query"]]  # single texts (queries) are not cached
    assert cached.id == inner.id and cached.dim == inner.dim


# ------------------------------------------------------------------------------------------ protocol


def test_turn_texts_follow_the_protocol(tiny: Path) -> None:
    (conv,) = datasets.load_locomo(tiny)
    session, turn = conv.sessions[0], conv.sessions[0].turns[2]
    assert turn_text(session, turn) == "Ann: Look at him! [image: a photo of a golden retriever puppy]"
    assert turn_text(session, turn, "dated") == (
        "(1:56 pm on 8 May, 2023) Ann: Look at him! [shares image: a photo of a golden retriever puppy]"
    )
    docs = locomo_documents(conv)
    assert [d.key for d in docs] == ["D1:1", "D1:2", "D1:3", "D2:1", "D2:2"]
    assert docs[3].created_at == conv.sessions[1].date
    assert docs[3].metadata == {"session": 2, "speaker": "Bo"}


def test_evaluate_locomo_with_bm25(tiny: Path) -> None:
    report = evaluate_locomo(BM25Retriever(), datasets.load_locomo(tiny), ks=(1, 5))
    assert [g.name for g in report.groups] == ["multi-hop", "temporal", "single-hop", "overall"]
    assert report.overall.count == 3  # no category 5, nothing without evidence
    assert report.overall.recall[5] == 1.0  # five turns: everything is in the top 5
    assert report.documents == 5 and report.search_ms
    assert "| overall | 3 |" in report.to_markdown()
    assert "| locomo | bm25 | plain | 3 |" in render_summary([report])


def test_evaluate_locomo_through_persona(tiny: Path, tmp_path: Path) -> None:
    retriever = PersonaRetriever(tmp_path / "store", embedder=FakeEmbedder())
    try:
        report = evaluate_locomo(retriever, datasets.load_locomo(tiny), ks=(1, 3, 10))
        memories = retriever.persona.list("conv-x")
    finally:
        retriever.close()
    assert report.overall.count == 3 and report.overall.recall[10] == 1.0
    assert all(r.ranked[1][0] in {"D1:1", "D1:2", "D1:3", "D2:1", "D2:2"} for r in report.results)
    assert len(memories) == 5 and {m.kind for m in memories} == {"episode"}
    rex = next(m for m in memories if m.metadata["dia_id"] == "D1:1")
    assert rex.text == "Ann: I adopted a puppy named Rex."
    assert rex.metadata == {"dia_id": "D1:1", "session": 1, "speaker": "Ann"}
    assert rex.created_at == datetime(2023, 5, 8, 13, 56, tzinfo=timezone.utc)


@pytest.mark.parametrize("setting", ["item", "topic"])
def test_evaluate_prefeval(tiny: Path, setting: str) -> None:
    items = datasets.load_prefeval_explicit(tiny)
    filler = datasets.load_prefeval_filler(tiny)
    retriever = DenseRetriever(CachingEmbedder(FakeEmbedder()))
    report = evaluate_prefeval(retriever, items, filler, setting=setting, ks=(1, 3))
    assert report.overall.count == 2
    assert report.documents == (6 if setting == "item" else 4)  # preference(s) + the 2 filler user turns
    assert report.overall.recall[3] == 1.0
    if setting == "item":
        assert retriever._vectors == {}  # per-item users are dropped once asked


# --------------------------------------------------------------------------------------- the script


def _script() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "eval" / "retrieval.py"
    spec = importlib.util.spec_from_file_location("eval_retrieval", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_runs_a_baseline_and_prints_the_command(
    tiny: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--dataset", "all", "--baseline", "bm25", "--data-dir", str(tiny), "--quiet", "--per-group"]
    assert _script().main(argv) == 0
    out = capsys.readouterr().out
    assert "| locomo | bm25 | plain | 3 |" in out and "| prefeval | bm25 | topic | 2 |" in out
    assert "Reproduce: python eval/retrieval.py --dataset all --baseline bm25" in out


def test_script_reports_missing_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _script().main(["--baseline", "bm25", "--data-dir", str(tmp_path / "none"), "--quiet"]) == 1
    assert "PERSONA_DATA_DIR" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------- real data


def test_real_data_counts(data_dir: Path) -> None:
    conversations = datasets.load_locomo(data_dir)
    assert [c.sample_id for c in conversations] == ["conv-26", "conv-30", "conv-41", "conv-42", "conv-43"]
    assert sum(len(c.qa) for c in conversations) == 999
    assert sum(c.turn_count for c in conversations) == 2760
    qa = [q for c in conversations for q in c.qa]
    main = [q for q in qa if q.category in (1, 2, 3, 4)]
    assert len(main) == 762
    assert sum(1 for q in main if q.evidence) == 760
    assert sum(1 for q in qa if not q.all_evidence) == 2  # the README's "4" counts all 10 conversations
    assert sorted(u for q in qa for u in q.unresolved_evidence) == ["D", "D10:19", "D:11:26"]
    assert all(q.answer is not None for q in main)
    items = datasets.load_prefeval_explicit(data_dir)
    assert len(items) == 505 and len({i.topic for i in items}) == 10
    filler = datasets.load_prefeval_filler(data_dir)
    assert sum(len(c.user_messages) for c in filler) == 316
    assert sum(len(c.messages) for c in filler) == 632
    assert len(datasets.load_prefeval_choices(data_dir)) == 505
