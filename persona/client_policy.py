"""The `Persona` methods of the ``strategy="auto"`` bandit: `policy`, `reset_policy` and their async twins.

The bandit itself is `persona.learning.policy_service.PolicyService` (``Persona._policy``); docs/bandit.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .validation import check_user_id

if TYPE_CHECKING:
    from .learning.policy import Arm, Policy
    from .learning.policy_service import PolicyService, PolicyStore

__all__ = ["PolicyMethods"]


class PolicyMethods:
    """Inspect and reset a user's bandit (``Persona(arms=..., seed=...)`` configures it)."""

    _policy: PolicyService

    def _check_open(self) -> None:
        raise NotImplementedError

    @staticmethod
    def _open_policy(store: PolicyStore, arms: Sequence[Arm] | None, seed: int | None) -> PolicyService:
        """The bandit over ``store``; invalid ``arms`` close the store and raise `InvalidInputError`."""
        from .learning.policy_service import PolicyService

        try:
            return PolicyService(store, arms, seed=seed)
        except BaseException:
            store.close()
            raise

    def policy(self, user_id: str) -> Policy:
        """The user's bandit: each configured arm's estimate (posterior mean reward in [0, 1]), uncertainty,
        pulls and rewards, best first. A user never served with ``strategy="auto"`` gets the pooled prior
        (no pulls): not an error."""
        self._check_open()
        return self._policy.policy(check_user_id(user_id))

    def reset_policy(self, user_id: str) -> None:
        """Erase the user's bandit evidence (their next choices start from the pooled prior)."""
        self._check_open()
        self._policy.reset(check_user_id(user_id))

    async def apolicy(self, user_id: str) -> Policy:
        """The async twin of `policy`."""
        import asyncio

        return await asyncio.to_thread(self.policy, user_id)

    async def areset_policy(self, user_id: str) -> None:
        """The async twin of `reset_policy`."""
        import asyncio

        await asyncio.to_thread(self.reset_policy, user_id)
