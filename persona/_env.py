"""Environment set-up that keeps persona offline by default.

Called before any heavy library is imported (never at ``import persona`` time, which stays light).
Each variable is set only when the user has not set it, so a user can still opt in to the network.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

__all__ = ["ensure_offline_env", "tiktoken_cache_dir"]

_done = False


def tiktoken_cache_dir() -> str | None:
    """The tiktoken files (cl100k_base, o200k_base) that ship inside litellm, found without importing it."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"
    return str(path) if path.is_dir() else None


def ensure_offline_env() -> None:
    """Set HF_HUB_OFFLINE, LITELLM_LOCAL_MODEL_COST_MAP and TIKTOKEN_CACHE_DIR unless already set."""
    global _done
    if _done:
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        cache = tiktoken_cache_dir()
        if cache:
            os.environ["TIKTOKEN_CACHE_DIR"] = cache
    _done = True
