"""``persona policy``: a user's ``strategy="auto"`` bandit (docs/bandit.md), shown, as JSON, or reset."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ._app import open_store
from ._output import JsonFlag, console, emit_json, safe_text
from .conversation import PANEL, User

__all__ = ["register"]


def policy(
    ctx: typer.Context,
    user: User,
    reset: Annotated[
        bool, typer.Option("--reset", help="Erase the user's bandit evidence (they start from the pooled prior).")
    ] = False,
    json: JsonFlag = False,
) -> None:
    """Show how strategy "auto" chooses for a user: each arm's estimate, uncertainty, pulls and rewards.

    The estimate is the posterior mean reward in [0, 1] (0.5: a rating of 0). A user never served with
    "auto" shows the pooled prior. JSON: {"user_id", "arms": [{"arm", "strategy", "budget", "estimate",
    "uncertainty", "pulls", "rewards"}], "prior": {arm: pooled mean}}.

    Example: persona policy alice --json
    """
    with open_store(ctx) as p:
        if reset:
            p.reset_policy(user)
        found = p.policy(user)
    if json:
        emit_json(found.to_dict())
        return
    table = Table("arm", "estimate", "uncertainty", "pulls", "rewards", "pooled prior")
    for arm in found.arms:
        table.add_row(
            safe_text(arm.arm),
            f"{arm.estimate:.3f}",
            f"{arm.uncertainty:.3f}",
            str(arm.pulls),
            str(arm.rewards),
            f"{arm.prior:.3f}",
        )
    console().print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("policy", rich_help_panel=PANEL)(policy)
