"""persona: personalize any LLM in context, from a durable per-user memory store.

``import persona`` is light: torch, sentence-transformers, faiss, onnxruntime, litellm and llama.cpp load on
first use.
"""

from __future__ import annotations

from .chat import AsyncReplyStream, Reply, ReplyStream
from .client import Persona, default_path
from .errors import (
    BackendUnreachableError,
    ContextWindowExceededError,
    DatasetNotFoundError,
    EmbedderError,
    EmbedderMismatchError,
    ExtractionFailed,
    InvalidInputError,
    LLMError,
    LLMResponseError,
    LLMTimeoutError,
    MissingAPIKeyError,
    MissingDependencyError,
    NotFoundError,
    PersonaError,
    RateLimitError,
    StoreCorruptError,
    StoreError,
    TemplateError,
    UnknownModelError,
)
from .governance import Consent, Disclosure, RetentionPolicy, SweepResult
from .learning.policy import Arm, ArmStats, Policy
from .prompting.builder import RenderedPrompt
from .prompting.strategies import list_strategies
from .retrieval.config import RankingConfig
from .types import (
    KINDS,
    CheckReport,
    EmbedderInfo,
    Feedback,
    HistoryEntry,
    Hit,
    IndexState,
    LearningFailure,
    Memory,
    MemoryPage,
    StoreStats,
)

__version__ = "0.1.0"

__all__ = [
    "KINDS",
    "Arm",
    "ArmStats",
    "AsyncReplyStream",
    "BackendUnreachableError",
    "CheckReport",
    "Consent",
    "ContextWindowExceededError",
    "DatasetNotFoundError",
    "Disclosure",
    "EmbedderError",
    "EmbedderInfo",
    "EmbedderMismatchError",
    "ExtractionFailed",
    "Feedback",
    "HistoryEntry",
    "Hit",
    "IndexState",
    "InvalidInputError",
    "LLMError",
    "LLMResponseError",
    "LLMTimeoutError",
    "LearningFailure",
    "Memory",
    "MemoryPage",
    "MissingAPIKeyError",
    "MissingDependencyError",
    "NotFoundError",
    "Persona",
    "PersonaError",
    "Policy",
    "RankingConfig",
    "RateLimitError",
    "RenderedPrompt",
    "Reply",
    "ReplyStream",
    "RetentionPolicy",
    "StoreCorruptError",
    "StoreError",
    "StoreStats",
    "SweepResult",
    "TemplateError",
    "UnknownModelError",
    "__version__",
    "default_path",
    "list_strategies",
]
