"""Every error persona raises on purpose.

The tree::

    PersonaError                      root: catch this to catch everything persona raises
    ├── InvalidInputError             an argument is malformed (also a ValueError)
    ├── NotFoundError                 a memory id (or reply id) does not exist (also a KeyError)
    ├── EmbedderMismatchError         the store was built with another embedder
    ├── StoreError                    the store directory cannot be used
    │   └── StoreCorruptError         the database is not a persona store, or it is damaged
    ├── MissingDependencyError        an optional extra is not installed (also an ImportError)
    └── LLMError                      a call to a language model failed (subclasses in persona.backends.llm:
                                      missing API key, unknown model, unreachable, timeout, rate limit,
                                      context window exceeded, malformed response)

Every message says what to do next. The CLI turns these into one line on stderr and exit code 1.
"""

from __future__ import annotations

__all__ = [
    "EmbedderMismatchError",
    "InvalidInputError",
    "LLMError",
    "MissingDependencyError",
    "NotFoundError",
    "PersonaError",
    "StoreCorruptError",
    "StoreError",
]


class PersonaError(Exception):
    """Root of every error persona raises on purpose."""


class InvalidInputError(PersonaError, ValueError):
    """Raised before anything is written when an argument is malformed: empty text, k < 1, bad metadata."""


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


class MissingDependencyError(PersonaError, ImportError):
    """Raised when an optional part is used without its extra installed; the message names the pip command."""


class LLMError(PersonaError):
    """Raised when a call to a language model fails; the message says what to change."""


class ExtractionFailed(PersonaError):
    """Raised by ``extract_llm`` when the model's output stays unusable after the retries."""
