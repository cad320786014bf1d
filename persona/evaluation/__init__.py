"""Measuring persona on real benchmarks: dataset loaders, retrieval metrics, the retrieval evaluation.

Nothing here is imported by ``import persona``. The data (LoCoMo, PrefEval; CC BY-NC 4.0) is read from
``$PERSONA_DATA_DIR`` (default ``../shared/data`` next to the repository), never bundled. The runnable
entry point is ``python eval/retrieval.py``.
"""

from __future__ import annotations

from .datasets import (
    CATEGORY_NAMES,
    DATA_DIR_ENV,
    Conversation,
    DatasetNotFoundError,
    PreferenceItem,
    QAItem,
    load_locomo,
    load_prefeval_choices,
    load_prefeval_explicit,
    load_prefeval_filler,
    resolve_data_dir,
)
from .metrics import mean, ndcg_at_k, recall_at_k, reciprocal_rank, session_recall_at_k
from .retrieval import (
    Document,
    PersonaRetriever,
    RetrievalReport,
    Retriever,
    evaluate_locomo,
    evaluate_prefeval,
    render_summary,
)

__all__ = [
    "CATEGORY_NAMES",
    "DATA_DIR_ENV",
    "Conversation",
    "DatasetNotFoundError",
    "Document",
    "PersonaRetriever",
    "PreferenceItem",
    "QAItem",
    "RetrievalReport",
    "Retriever",
    "evaluate_locomo",
    "evaluate_prefeval",
    "load_locomo",
    "load_prefeval_choices",
    "load_prefeval_explicit",
    "load_prefeval_filler",
    "mean",
    "ndcg_at_k",
    "recall_at_k",
    "reciprocal_rank",
    "render_summary",
    "resolve_data_dir",
    "session_recall_at_k",
]
