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

# Names whose modules pull in jinja2 or litellm helpers: imported on first access, so `import persona` stays light.
_LAZY = {
    "RenderedPrompt": "persona.prompting",
    "list_strategies": "persona.prompting",
    "Reply": "persona.chat",
    "ReplyStream": "persona.chat",
    "AsyncReplyStream": "persona.chat",
    "Feedback": "persona.chat",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'persona' has no attribute {name!r}")


__all__ = [
    "KINDS",
    "AsyncReplyStream",
    "EmbedderMismatchError",
    "Feedback",
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
    "RenderedPrompt",
    "Reply",
    "ReplyStream",
    "StoreCorruptError",
    "StoreError",
    "__version__",
    "default_path",
    "list_strategies",
]
