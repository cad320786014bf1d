"""persona: personalize any LLM in context, from a durable per-user memory store.

``import persona`` is light: torch, sentence-transformers, faiss, onnxruntime, litellm and llama.cpp load on
first use.
"""

from __future__ import annotations

from .chat import AsyncReplyStream, Reply, ReplyStream
from .client import Persona, default_path
from .errors import (
    EmbedderMismatchError,
    InvalidInputError,
    LLMError,
    MissingDependencyError,
    NotFoundError,
    PersonaError,
    StoreCorruptError,
    StoreError,
)
from .learning.learner import Feedback
from .prompting.builder import RenderedPrompt
from .prompting.strategies import list_strategies
from .retrieval.ranking import RankingConfig
from .types import KINDS, CheckReport, EmbedderInfo, HistoryEntry, Hit, IndexState, Memory, StoreStats

__version__ = "0.1.0"

__all__ = [
    "KINDS",
    "AsyncReplyStream",
    "CheckReport",
    "EmbedderInfo",
    "EmbedderMismatchError",
    "Feedback",
    "HistoryEntry",
    "Hit",
    "IndexState",
    "InvalidInputError",
    "LLMError",
    "Memory",
    "MissingDependencyError",
    "NotFoundError",
    "Persona",
    "PersonaError",
    "RankingConfig",
    "RenderedPrompt",
    "Reply",
    "ReplyStream",
    "StoreCorruptError",
    "StoreError",
    "StoreStats",
    "__version__",
    "default_path",
    "list_strategies",
]
