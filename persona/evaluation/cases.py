"""Every dataset as one shape for the harness: a `Suite` of `Case` questions and the memories each user holds.

The memories follow the retrieval protocol of `persona.evaluation.retrieval` (its `locomo_documents` and
PrefEval filler are reused, so the store the harness builds is the one the retrieval numbers come from):
LoCoMo is one ``episode`` per turn (``"Speaker: text [image: caption]"``, dated by its session, metadata
``dia_id``/``session``/``speaker``), one user per conversation; PrefEval is the preference then the 316 filler
user turns, one user per preference (``item``, the benchmark's layout; users are built, asked and forgotten
one at a time) or per topic (``topic``); synthetic users come from `persona.evaluation.synthetic`.

Each LoCoMo question is asked (adversarial ones included, for answer quality); R@k counts the questions the
retrieval evaluation counts (categories 1-4 with resolvable evidence).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .config import DatasetSpec
from .datasets import CATEGORY_NAMES, load_locomo, load_prefeval_explicit, load_prefeval_filler
from .retrieval import Document, _filler_documents, evaluable, locomo_documents
from .synthetic import generate

__all__ = ["Case", "Suite", "load_suite"]


@dataclass(frozen=True)
class Case:
    """One question to ask ``user_id``. ``evidence`` holds document keys; empty when there is none."""

    id: str
    user_id: str
    question: str
    category: str
    evidence: tuple[str, ...]
    answer: str | None
    """The gold answer; None for adversarial questions and PrefEval (judged, not matched)."""
    locomo_category: int | None = None
    preference: str | None = None
    recall_scored: bool = True


@dataclass
class Suite:
    """A dataset ready to run: its cases in order and, per user, the documents to add (with their kind)."""

    name: str
    cases: list[Case]
    documents: Callable[[str], list[tuple[Document, str]]]
    key_field: str
    """The metadata field that holds a document's key."""
    now: Callable[[str], datetime]
    """The clock for a user's prompts (after their last memory)."""
    transient_users: bool = False
    """Build each user right before their questions and forget them after (PrefEval ``item``)."""
    categories: list[str] = field(default_factory=list)
    sessions: bool = False
    """Whether session-level recall makes sense (LoCoMo)."""
    answer_kind: str = "qa"
    """``qa`` (token F1 + correctness judge) or ``preference`` (PrefEval's four checks)."""


def _locomo(spec: DatasetSpec, data_dir: str | None) -> Suite:
    conversations = load_locomo(data_dir)
    cases = [
        Case(
            id=f"{c.sample_id}/q{i}",
            user_id=c.sample_id,
            question=qa.question,
            category=qa.category_name,
            evidence=qa.evidence,
            answer=qa.answer,
            locomo_category=qa.category,
            recall_scored=evaluable(qa),
        )
        for c in conversations
        for i, qa in enumerate(c.qa)
    ]
    by_id = {c.sample_id: c for c in conversations}
    last = {c.sample_id: max(s.date for s in c.sessions) + timedelta(days=1) for c in conversations}
    return Suite(
        name="locomo",
        cases=cases[: spec.limit] if spec.limit else cases,
        documents=lambda user: [(d, "episode") for d in locomo_documents(by_id[user])],
        key_field="dia_id",
        now=lambda user: last[user],
        categories=[CATEGORY_NAMES[k] for k in sorted(CATEGORY_NAMES)],
        sessions=True,
    )


def _prefeval(spec: DatasetSpec, data_dir: str | None) -> Suite:
    items = load_prefeval_explicit(data_dir, list(spec.topics) if spec.topics else None)
    chosen = items[: spec.limit] if spec.limit else items
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    filler = _filler_documents(load_prefeval_filler(data_dir), base + timedelta(days=1))

    def pref(i: int) -> Document:
        item = items[i]
        return Document(key=item.id, text=item.preference, created_at=base, metadata={"topic": item.topic})

    item_of = {f"prefeval-{it.topic}-{it.index}": n for n, it in enumerate(items)}

    def documents(user: str) -> list[tuple[Document, str]]:
        if spec.setting == "item":
            prefs = [pref(item_of[user])]
        else:
            prefs = [pref(n) for n, it in enumerate(items) if f"prefeval-{it.topic}" == user]
        return [(d, "episode") for d in (*prefs, *filler)]

    def user_of(topic: str, index: int) -> str:
        return f"prefeval-{topic}-{index}" if spec.setting == "item" else f"prefeval-{topic}"

    return Suite(
        name="prefeval",
        cases=[
            Case(
                id=it.id,
                user_id=user_of(it.topic, it.index),
                question=it.question,
                category=it.topic,
                evidence=(it.id,),
                answer=None,
                preference=it.preference,
            )
            for it in chosen
        ],
        documents=documents,
        key_field="key",
        now=lambda user: base + timedelta(days=2),
        transient_users=spec.setting == "item",
        categories=list(dict.fromkeys(it.topic for it in chosen)),
        answer_kind="preference",
    )


def _synthetic(spec: DatasetSpec) -> Suite:
    users = {u.user_id: u for u in generate(spec.users, seed=spec.seed)}
    cases = [
        Case(
            id=q.key,
            user_id=u.user_id,
            question=q.question,
            category=q.category,
            evidence=q.evidence,
            answer=q.answer,
            locomo_category=5 if q.answer is None else None,
            recall_scored=bool(q.evidence),
        )
        for u in users.values()
        for q in u.questions
    ]

    def documents(user: str) -> list[tuple[Document, str]]:
        return [(Document(m.key, m.text, m.created_at), m.kind) for m in users[user].memories]

    return Suite(
        name="synthetic",
        cases=cases[: spec.limit] if spec.limit else cases,
        documents=documents,
        key_field="key",
        now=lambda user: max(m.created_at for m in users[user].memories) + timedelta(days=1),
        categories=["fact", "preference", "adversarial"],
    )


def load_suite(spec: DatasetSpec, data_dir: str | None = None) -> Suite:
    """The `Suite` for a dataset of a config (reads the benchmark data for LoCoMo and PrefEval)."""
    if spec.name == "locomo":
        return _locomo(spec, data_dir)
    if spec.name == "prefeval":
        return _prefeval(spec, data_dir)
    return _synthetic(spec)
