"""Opening a `Persona`'s store: the store at a location, checked against the embedder the caller asked for."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .errors import EmbedderMismatchError

if TYPE_CHECKING:
    from .backends.base import Embedder
    from .store.base import Store

__all__ = ["open_checked"]


def open_checked(
    location: str | Path,
    embedder: Embedder | str | Path | None,
    resolved: Embedder | str | Path | None,
    *,
    reembed: bool,
) -> tuple[Store, Embedder | str | Path | None, tuple[str, int] | None]:
    """The store at ``location``, the embedder (resolved when it had to be compared) and the store's recorded
    ``(embedder id, dim)``. A store built with another embedder raises `EmbedderMismatchError` unless
    ``reembed`` (the store is closed first)."""
    from .backends.embedders import resolve_embedder
    from .store.opening import open_store

    store = open_store(location)
    recorded = store.recorded_embedder()
    if embedder is not None and recorded is not None:
        try:
            if resolved is None or isinstance(resolved, (str, Path)):
                resolved = resolve_embedder(embedder)
            if resolved.id != recorded[0] and not reembed:
                raise EmbedderMismatchError(
                    f"the store at {store.location} was built with embedder {recorded[0]!r}, not "
                    f"{resolved.id!r}. Open it without embedder= (or with embedder={recorded[0]!r}), or "
                    f"re-embed every memory: Persona(path, embedder={resolved.id!r}, reembed=True) "
                    "(CLI: persona reindex --embedder NAME)."
                )
        except BaseException:
            store.close()
            raise
    return store, resolved, recorded
