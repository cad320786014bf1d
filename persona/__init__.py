"""persona: personalize any LLM in context, from a durable per-user memory store.

``import persona`` is light: torch, sentence-transformers, faiss and litellm load on first use.
"""

from __future__ import annotations

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
from .retrieval import RankingConfig
from .types import KINDS, HistoryEntry, Hit, Memory

__version__ = "0.1.0"

__all__ = [
    "KINDS",
    "EmbedderMismatchError",
    "HistoryEntry",
    "Hit",
    "InvalidInputError",
    "LLMError",
    "Memory",
    "MissingDependencyError",
    "NotFoundError",
    "Persona",
    "PersonaError",
    "RankingConfig",
    "StoreCorruptError",
    "StoreError",
    "__version__",
    "default_path",
]
