"""The retrieval evaluation: build a store from a benchmark, ask its questions, score the rankings.

Protocol (LoCoMo, from the retrieval-quality issue): one ``episode`` memory per dialogue turn, added with
``add_many``, one user per conversation, all users in one store. The text is ``"Speaker: text"`` plus
``" [image: caption]"`` when the turn shares an image (variant ``plain``), or
``"(session date) Speaker: text [shares image: caption]"`` (variant ``dated``); ``created_at`` is the
session's date and ``metadata`` holds ``dia_id``, ``session`` and ``speaker``. Each category 1-4 question
with at least one resolvable evidence turn is asked with ``search(user, question, k)``; R@k is the share of
its evidence turns among the top k, averaged over questions. Unresolvable evidence ids are left out of
the denominator (7 of 2,141 ids; counting them as misses moves R@10 by < 0.1).

Protocol (PrefEval, explicit preferences): setting ``item`` gives every preference its own user, holding
the preference text and the 316 filler *user* turns of ``filtered_inter_turns.json`` (assistant turns are
left out); the query is the item's question and the one relevant memory is the preference. Setting
``topic`` gives each topic one user holding every preference of the topic plus the same filler, so the
other preferences of the topic compete.

Costs: search latency is wall time per ``search`` call, query embedding included (every k is asked
separately unless the retriever is prefix-consistent). Ingest rate is documents per second of ``add``;
with a `CachingEmbedder` a text already embedded is not embedded again, so PrefEval's rate (the same
filler for every user) mostly measures the store's writes.

A system under test is a `Retriever`: `PersonaRetriever` runs the public API; `baselines` holds the
reference systems (dense, BM25, RRF) the issue's numbers come from.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from persona.backends.base import Embedder

from .caching_embedder import CachingEmbedder
from .datasets import CATEGORY_NAMES, Conversation, FillerConversation, PreferenceItem, QAItem, Session, Turn
from .metrics import GroupScores, QuestionResult, percentile, score_groups

__all__ = [
    "DEFAULT_KS",
    "LOCOMO_VARIANTS",
    "PREFEVAL_SETTINGS",
    "CachingEmbedder",
    "Document",
    "GroupScores",
    "PersonaRetriever",
    "QuestionResult",
    "RetrievalReport",
    "Retriever",
    "evaluable",
    "evaluate_locomo",
    "evaluate_prefeval",
    "failures",
    "locomo_documents",
    "render_summary",
    "turn_text",
]

DEFAULT_KS: tuple[int, ...] = (1, 5, 10, 25)
LOCOMO_VARIANTS: tuple[str, ...] = ("plain", "dated")
PREFEVAL_SETTINGS: tuple[str, ...] = ("item", "topic")
EVALUATED_CATEGORIES: tuple[int, ...] = (1, 2, 3, 4)

T = TypeVar("T")


@dataclass(frozen=True)
class Document:
    """One memory to add: ``key`` is the id that relevance judgments use (a ``dia_id``, a preference id)."""

    key: str
    text: str
    created_at: datetime
    metadata: dict[str, Any] = field(default_factory=dict)


class Retriever(Protocol):
    """A system under test. ``search`` returns document keys, best first, at most ``k``.

    ``prefix_consistent`` says whether the top k of a search for K > k equals a search for k; when it does
    not (or may not), every k is asked separately.
    """

    name: str
    prefix_consistent: bool

    def add(self, user_id: str, docs: Sequence[Document]) -> None: ...

    def search(self, user_id: str, query: str, k: int) -> list[str]: ...

    def forget(self, user_id: str) -> None:
        """Drop a user (PrefEval's per-item users are independent: this keeps memory use flat)."""


# ------------------------------------------------------------------------------------------- Persona


class PersonaRetriever:
    """Runs the protocol through the public API: ``Persona.add_many`` and ``Persona.search``.

    ``path`` is the store directory (a fresh temporary one when None). ``key_field`` is the metadata field
    that holds a document's key.
    """

    prefix_consistent = False

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        embedder: Embedder | None = None,
        key_field: str = "dia_id",
        name: str = "persona",
        **options: Any,
    ) -> None:
        from persona import Persona

        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if path is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="persona-eval-")
            path = self._tmp.name
        self.path = path if isinstance(path, str) and "://" in path else Path(path)
        """A directory, or a PostgreSQL DSN."""
        self.persona = Persona(self.path, embedder=embedder, **options)
        self.key_field = key_field
        self.name = name

    def add(self, user_id: str, docs: Sequence[Document]) -> None:
        self.persona.add_many(
            user_id,
            [
                {
                    "text": d.text,
                    "kind": "episode",
                    "created_at": d.created_at,
                    "metadata": {self.key_field: d.key, **d.metadata},
                }
                for d in docs
            ],
        )

    def search(self, user_id: str, query: str, k: int) -> list[str]:
        hits = self.persona.search(user_id, query, k=k)
        return [str(h.memory.metadata[self.key_field]) for h in hits]

    def forget(self, user_id: str) -> None:
        self.persona.forget_user(user_id)

    def close(self) -> None:
        self.persona.close()
        if self._tmp is not None:
            self._tmp.cleanup()


# -------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class RetrievalReport:
    """Everything one evaluation run measured. Scores are fractions (0..1); the tables show percentages."""

    dataset: str
    system: str
    variant: str
    ks: tuple[int, ...]
    groups: tuple[GroupScores, ...]
    """Per group, then ``overall`` last."""
    documents: int
    ingest_seconds: float
    search_ms: tuple[float, ...]
    results: tuple[QuestionResult, ...]

    @property
    def overall(self) -> GroupScores:
        return self.groups[-1]

    @property
    def ingest_per_second(self) -> float:
        return self.documents / self.ingest_seconds if self.ingest_seconds > 0 else math.inf

    @property
    def search_p50_ms(self) -> float:
        return percentile(self.search_ms, 50)

    @property
    def search_p95_ms(self) -> float:
        return percentile(self.search_ms, 95)

    def to_markdown(self) -> str:
        """A per-group table of this run, then one line of cost figures."""
        has_sessions = bool(self.overall.session_recall)
        head = ["group", "n", *(f"R@{k}" for k in self.ks), "MRR", "nDCG@10"]
        if has_sessions:
            head += [f"S-R@{k}" for k in self.ks if k in (5, 10)]
        lines = [
            f"**{self.dataset} · {self.system} · {self.variant}**",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|",
        ]
        for g in self.groups:
            row = [
                g.name,
                str(g.count),
                *(_pct(g.recall[k]) for k in self.ks),
                _pct(g.mrr),
                _pct(g.ndcg_at_10),
            ]
            if has_sessions:
                row += [_pct(g.session_recall[k]) for k in self.ks if k in (5, 10)]
            lines.append("| " + " | ".join(row) + " |")
        lines += [
            "",
            f"{self.documents} documents ingested at {self.ingest_per_second:,.0f}/s; "
            f"search p50 {self.search_p50_ms:.1f} ms, p95 {self.search_p95_ms:.1f} ms "
            f"over {len(self.search_ms)} calls.",
        ]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "system": self.system,
            "variant": self.variant,
            "ks": list(self.ks),
            "groups": [
                {
                    "name": g.name,
                    "count": g.count,
                    "recall": {str(k): v for k, v in g.recall.items()},
                    "mrr": g.mrr,
                    "ndcg_at_10": g.ndcg_at_10,
                    "session_recall": {str(k): v for k, v in g.session_recall.items()},
                }
                for g in self.groups
            ],
            "documents": self.documents,
            "ingest_per_second": self.ingest_per_second,
            "search_p50_ms": self.search_p50_ms,
            "search_p95_ms": self.search_p95_ms,
        }


def _pct(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:.1f}"


def render_summary(reports: Sequence[RetrievalReport]) -> str:
    """One markdown row per run: the overall scores and costs, for comparing systems side by side."""
    ks = sorted({k for r in reports for k in r.ks})
    head = ["dataset", "system", "variant", "n", *(f"R@{k}" for k in ks), "MRR", "nDCG@10"]
    head += ["search p50 ms", "p95 ms", "ingest/s"]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" if i < 3 else "---:" for i in range(len(head))) + "|",
    ]
    for r in reports:
        o = r.overall
        row = [r.dataset, r.system, r.variant, str(o.count)]
        row += [_pct(o.recall[k]) if k in o.recall else "" for k in ks]
        row += [_pct(o.mrr), _pct(o.ndcg_at_10)]
        row += [f"{r.search_p50_ms:.1f}", f"{r.search_p95_ms:.1f}", f"{r.ingest_per_second:,.0f}"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- running


def _bar(items: Iterable[T], progress: bool, desc: str, total: int | None = None) -> Iterable[T]:
    if not progress:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, total=total, leave=False)  # type: ignore[no-any-return]


def _ask(
    retriever: Retriever, user_id: str, query: str, ks: tuple[int, ...], timings: list[float]
) -> dict[int, tuple[str, ...]]:
    wanted = [max(ks)] if retriever.prefix_consistent else sorted(ks)
    got: dict[int, list[str]] = {}
    for k in wanted:
        start = time.perf_counter()
        got[k] = retriever.search(user_id, query, k)
        timings.append(1000 * (time.perf_counter() - start))
    deepest = got[max(wanted)]
    return {k: tuple(got.get(k, deepest)[:k]) for k in ks}


def _add(retriever: Retriever, user_id: str, docs: Sequence[Document]) -> float:
    start = time.perf_counter()
    retriever.add(user_id, docs)
    return time.perf_counter() - start


def turn_text(session: Session, turn: Turn, variant: str = "plain") -> str:
    """A LoCoMo turn as memory text, in the protocol's ``plain`` or ``dated`` form."""
    if variant == "plain":
        text = f"{turn.speaker}: {turn.text}"
        return text + (f" [image: {turn.image_caption}]" if turn.image_caption else "")
    if variant == "dated":
        text = f"({session.date_text}) {turn.speaker}: {turn.text}"
        return text + (f" [shares image: {turn.image_caption}]" if turn.image_caption else "")
    raise ValueError(f"unknown LoCoMo variant {variant!r}; choose one of {', '.join(LOCOMO_VARIANTS)}")


def locomo_documents(conversation: Conversation, variant: str = "plain") -> list[Document]:
    """One document per turn of a conversation, in order."""
    return [
        Document(
            key=turn.dia_id,
            text=turn_text(session, turn, variant),
            created_at=session.date,
            metadata={"session": session.index, "speaker": turn.speaker},
        )
        for session, turn in conversation.turns()
    ]


def evaluable(qa: QAItem) -> bool:
    """A LoCoMo question counts when it is in category 1-4 and has at least one resolvable evidence turn."""
    return qa.category in EVALUATED_CATEGORIES and bool(qa.evidence)


def evaluate_locomo(
    retriever: Retriever,
    conversations: Sequence[Conversation],
    *,
    variant: str = "plain",
    ks: Sequence[int] = DEFAULT_KS,
    limit: int | None = None,
    progress: bool = False,
) -> RetrievalReport:
    """Ingest every conversation (one user each), ask the evaluable questions, score per category.

    ``limit`` keeps the first N evaluable questions in file order (and ingests only their conversations).
    """
    ks_t = tuple(sorted(set(ks)))
    if variant not in LOCOMO_VARIANTS:
        raise ValueError(f"unknown LoCoMo variant {variant!r}; choose one of {', '.join(LOCOMO_VARIANTS)}")
    asked: list[tuple[Conversation, QAItem]] = [(c, q) for c in conversations for q in c.qa if evaluable(q)]
    if limit is not None:
        asked = asked[:limit]
    used = list(dict.fromkeys(c.sample_id for c, _ in asked))
    by_id = {c.sample_id: c for c in conversations}
    ingest = 0.0
    docs_total = 0
    for sample_id in _bar(used, progress, "ingest"):
        docs = locomo_documents(by_id[sample_id], variant)
        ingest += _add(retriever, sample_id, docs)
        docs_total += len(docs)
    timings: list[float] = []
    results = [
        QuestionResult(
            user_id=conv.sample_id,
            question=qa.question,
            group=qa.category_name,
            relevant=qa.evidence,
            ranked=_ask(retriever, conv.sample_id, qa.question, ks_t, timings),
        )
        for conv, qa in _bar(asked, progress, "questions")
    ]
    order = [CATEGORY_NAMES[c] for c in EVALUATED_CATEGORIES]
    return RetrievalReport(
        dataset="locomo",
        system=retriever.name,
        variant=variant,
        ks=ks_t,
        groups=score_groups(results, order, ks_t, sessions=True),
        documents=docs_total,
        ingest_seconds=ingest,
        search_ms=tuple(timings),
        results=tuple(results),
    )


def _filler_documents(filler: Sequence[FillerConversation], created_at: datetime) -> list[Document]:
    return [
        Document(key=f"filler:{c.conversation_id}:{i}", text=m.content, created_at=created_at, metadata={})
        for c in filler
        for i, m in enumerate(c.user_messages)
    ]


def evaluate_prefeval(
    retriever: Retriever,
    items: Sequence[PreferenceItem],
    filler: Sequence[FillerConversation],
    *,
    setting: str = "item",
    ks: Sequence[int] = DEFAULT_KS,
    limit: int | None = None,
    progress: bool = False,
    created_at: datetime | None = None,
    keep_users: bool = False,
) -> RetrievalReport:
    """PrefEval explicit preferences: is the preference among the top k for its question (per topic)?

    ``item``: one user per preference (the preference, then the filler user turns). ``topic``: one user per
    topic holding all its preferences, then the filler. The preference memories are dated a day before
    the filler (``created_at``, default 2024-01-01 UTC), as in the benchmark the preference comes first.
    Per-item users are forgotten once asked unless ``keep_users``.
    """
    from datetime import timedelta, timezone

    ks_t = tuple(sorted(set(ks)))
    base = created_at or datetime(2024, 1, 1, tzinfo=timezone.utc)
    chosen = list(items[:limit] if limit is not None else items)
    filler_docs = _filler_documents(filler, base + timedelta(days=1))

    def pref_doc(item: PreferenceItem) -> Document:
        return Document(key=item.id, text=item.preference, created_at=base, metadata={"topic": item.topic})

    ingest = 0.0
    docs_total = 0
    timings: list[float] = []
    results: list[QuestionResult] = []
    if setting == "item":
        for item in _bar(chosen, progress, "preferences"):
            user = f"prefeval-{item.topic}-{item.index}"
            docs = [pref_doc(item), *filler_docs]
            ingest += _add(retriever, user, docs)
            docs_total += len(docs)
            ranked = _ask(retriever, user, item.question, ks_t, timings)
            results.append(QuestionResult(user, item.question, item.topic, (item.id,), ranked))
            if not keep_users:
                retriever.forget(user)
    elif setting == "topic":
        topics = list(dict.fromkeys(i.topic for i in chosen))
        for topic in _bar(topics, progress, "topics"):
            user = f"prefeval-{topic}"
            docs = [pref_doc(i) for i in items if i.topic == topic] + filler_docs
            ingest += _add(retriever, user, docs)
            docs_total += len(docs)
            for item in (i for i in chosen if i.topic == topic):
                ranked = _ask(retriever, user, item.question, ks_t, timings)
                results.append(QuestionResult(user, item.question, item.topic, (item.id,), ranked))
    else:
        raise ValueError(
            f"unknown PrefEval setting {setting!r}; choose one of {', '.join(PREFEVAL_SETTINGS)}"
        )
    order = list(dict.fromkeys(i.topic for i in chosen))
    return RetrievalReport(
        dataset="prefeval",
        system=retriever.name,
        variant=setting,
        ks=ks_t,
        groups=score_groups(results, order, ks_t, sessions=False),
        documents=docs_total,
        ingest_seconds=ingest,
        search_ms=tuple(timings),
        results=tuple(results),
    )


def failures(report: RetrievalReport, k: int = 10) -> list[QuestionResult]:
    """The questions with at least one relevant key missing from the top k, worst first."""
    missed = [r for r in report.results if r.recall(k) < 1.0]
    return sorted(missed, key=lambda r: r.recall(k))
