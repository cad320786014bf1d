"""Every error persona raises on purpose.

The tree::

    PersonaError                      root: catch this to catch everything persona raises
    ├── InvalidInputError             an argument is malformed (also a ValueError)
    │   └── TemplateError                 a strategy template does not parse, fails, or was stopped while rendering
    ├── NotFoundError                 a memory id (or reply id) does not exist (also a KeyError)
    ├── EmbedderMismatchError         the store was built with another embedder
    ├── StoreError                    the store directory cannot be used
    │   └── StoreCorruptError         the database is not a persona store, or it is damaged
    ├── DatasetNotFoundError          the benchmark data directory or a file in it is missing (eval harness)
    ├── EmbedderError                 the embedder cannot be prepared (ONNX export, its cache directory)
    ├── MissingDependencyError        an optional extra is not installed (also an ImportError)
    ├── ExtractionFailed              a model's fact extraction stayed unusable (chat falls back to the rules)
    └── LLMError                      a call to a language model failed
        ├── MissingAPIKeyError            the provider needs a key that is not set
        ├── UnknownModelError             litellm cannot route the model name, or the provider does not know it
        ├── BackendUnreachableError       connection refused, DNS failure, 502/503 (after the retries)
        ├── LLMTimeoutError               the call took longer than ``timeout`` (also a TimeoutError)
        ├── RateLimitError                429 after all retries
        ├── ContextWindowExceededError    the prompt plus the answer do not fit the model's context
        └── LLMResponseError              anything else the backend rejected or failed on

Every message says what to do next. The CLI turns these into one line on stderr and exit code 1.
"""

from __future__ import annotations

__all__ = [
    "BackendUnreachableError",
    "ContextWindowExceededError",
    "DatasetNotFoundError",
    "EmbedderError",
    "EmbedderMismatchError",
    "ExtractionFailed",
    "InvalidInputError",
    "LLMError",
    "LLMResponseError",
    "LLMTimeoutError",
    "MissingAPIKeyError",
    "MissingDependencyError",
    "NotFoundError",
    "PersonaError",
    "RateLimitError",
    "StoreCorruptError",
    "StoreError",
    "TemplateError",
    "UnknownModelError",
]


class PersonaError(Exception):
    """Root of every error persona raises on purpose."""


class InvalidInputError(PersonaError, ValueError):
    """Raised before anything is written when an argument is malformed: empty text, k < 1, bad metadata."""


class TemplateError(InvalidInputError):
    """Raised when a strategy template has a syntax error, fails while rendering, or is stopped for running
    too long, producing too much or recursing (see `persona.prompting.sandbox`). Fix the template."""


class NotFoundError(PersonaError, KeyError):
    """Raised when a memory id (or a reply id) does not exist, or was deleted."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0]) if self.args else ""


class EmbedderMismatchError(PersonaError):
    """Raised when a store built with one embedder is opened with another.

    Fix: open it with the embedder it was built with, or re-embed every memory with
    ``Persona(path, embedder=new).reembed()`` (CLI: ``persona reindex --embedder NEW``).
    """


class StoreError(PersonaError):
    """Raised when the store path cannot be used (it is a file, it is not writable, ...)."""


class StoreCorruptError(StoreError):
    """Raised when the database at the store path is not a persona store or is damaged."""


class DatasetNotFoundError(PersonaError, FileNotFoundError):
    """Raised when the benchmark data directory (or a file in it) is missing.

    Fix: point ``PERSONA_DATA_DIR`` at the directory that holds ``locomo/`` and ``prefeval/``.
    """


class EmbedderError(PersonaError):
    """Raised when the embedder cannot be prepared: exporting a model to ONNX failed, or its cache directory
    is not writable. The message names the fallback (``SentenceTransformerEmbedder``) or the setting to change."""


class MissingDependencyError(PersonaError, ImportError):
    """Raised when an optional part is used without its extra installed; the message names the pip command."""


class LLMError(PersonaError):
    """Raised when a call to a language model fails; the message says what to change."""


class ExtractionFailed(PersonaError):
    """Raised by ``extract_llm`` when the model's output stays unusable after the retries."""


class MissingAPIKeyError(LLMError):
    """Raised when the provider needs an API key that is neither set in the environment nor passed."""


class UnknownModelError(LLMError):
    """Raised when litellm cannot route the model name, or the provider says the model does not exist."""


class BackendUnreachableError(LLMError):
    """Raised when the backend cannot be reached (connection refused, DNS, 502/503) after all retries."""


class LLMTimeoutError(LLMError, TimeoutError):
    """Raised when the call takes longer than ``timeout`` seconds."""


class RateLimitError(LLMError):
    """Raised when the provider still answers 429 after all retries."""


class ContextWindowExceededError(LLMError):
    """Raised when the prompt and the answer do not fit the model's context window."""


class LLMResponseError(LLMError):
    """Raised for any other failure the backend reports (bad request, server error, malformed answer)."""
