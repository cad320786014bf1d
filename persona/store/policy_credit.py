"""How a rating's credit changes an arm's evidence: the one rule both stores apply
(`persona.store.sqlite_policy.credit`, `persona.store.postgres_policy.credit`)."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["CreditChange", "credit_change"]


class CreditChange(NamedTuple):
    """What to add to the arm's ``policy`` row: ratings counted, weight and weighted reward."""

    rewards: int
    weight: float
    reward: float


def credit_change(
    old_reward: float | None,
    old_weight: float | None,
    old_source: str | None,
    reward: float,
    weight: float,
    source: str,
) -> CreditChange | None:
    """The change that replaces a reply's earlier credit (``old_*``, None when it had none) with ``reward`` in
    [0, 1] at ``weight``; None when it must not: an implicit credit never replaces an explicit one."""
    if source == "implicit" and old_source == "explicit":
        return None
    before_w = float(old_weight or 0.0)
    before_r = before_w * float(old_reward or 0.0)
    return CreditChange(0 if old_source is not None else 1, weight - before_w, weight * reward - before_r)
