"""Prompting: strategies (Jinja2 templates in ``templates/``) rendered from a user's memories within a token
budget. ``strategies`` finds and parses templates; ``builder`` selects, packs and renders the memories."""

from __future__ import annotations

from .builder import Item, MemorySource, RenderedPrompt, build_prompt, resolve_model
from .strategies import SECTIONS, Strategy, list_strategies, load_strategy, template_dirs

__all__ = [
    "SECTIONS",
    "Item",
    "MemorySource",
    "RenderedPrompt",
    "Strategy",
    "build_prompt",
    "list_strategies",
    "load_strategy",
    "resolve_model",
    "template_dirs",
]
