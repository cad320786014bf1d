"""Which provider a model name routes to, offline: what the disclosure log records beside the model.

``local/...`` is persona's own provider (the model runs in this process); any other name is routed as litellm
routes it (``litellm.get_llm_provider``: ``gpt-4o-mini`` -> ``openai``, ``anthropic/...`` -> ``anthropic``),
without a network call. Answers are cached per name.
"""

from __future__ import annotations

import contextlib
import io
from functools import lru_cache

__all__ = ["provider_of"]


@lru_cache(maxsize=256)
def provider_of(model: str) -> str:
    """The provider ``model`` is sent to: ``local`` for ``local/...``, else litellm's routing; ``unknown``
    when litellm cannot route it (the prompt was rendered for a name no call could use)."""
    if model.startswith("local/"):
        return "local"
    from .llm import _litellm

    litellm = _litellm()
    prefix = model.split("/", 1)[0]
    if "/" in model and prefix in {str(item.get("provider")) for item in litellm.custom_provider_map}:
        return prefix
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return str(litellm.get_llm_provider(model)[1])
    except Exception:
        return "unknown"
