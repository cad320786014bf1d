"""The ``persona`` command line: a thin layer over `persona.Persona`.

Each command opens the store, calls one library method and prints the result: a rich table for people,
``--json`` for scripts. The commands live in modules named for what they do; each module's ``register(app)``
adds its commands, in the order of `COMMANDS`. A new group of commands (``persona eval``, say) is one more
module with a ``register`` function and one more entry in `COMMANDS`.

Entry points: the ``persona`` console script and ``python -m persona`` both call `main`.
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from . import conversation, evaluate, maintenance, mcp, memories, policy, privacy, serve, transfer
from ._app import app

__all__ = ["COMMANDS", "app", "main"]

COMMANDS: tuple[Callable[[typer.Typer], None], ...] = (
    memories.register,
    transfer.register,
    conversation.register,
    policy.register,
    maintenance.register,
    privacy.register,
    evaluate.register,
    serve.register,
    mcp.register,
)
"""The command registry: each function adds one module's commands to the app."""

for _register in COMMANDS:
    _register(app)


def main() -> None:
    """Run the CLI (the ``persona`` console script and ``python -m persona``)."""
    app()
