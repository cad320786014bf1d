"""The `Persona` methods that move or maintain a whole store or user: `export_user` / `import_user`,
`reembed`, `count`, `check` and `stats`. `Persona` inherits these from `MaintenanceMethods`; they use only the
memory service and the learner it sets up."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .types import CheckReport, Memory, StoreStats
from .validation import check_user_id

if TYPE_CHECKING:
    from datetime import datetime

    from .learning.learner import Learner
    from .memories import Memories

__all__ = ["MaintenanceMethods"]


class MaintenanceMethods:
    """Export, import and store maintenance for `persona.Persona` (which sets the attributes below)."""

    _memories: Memories
    learning: Learner

    def _check_open(self) -> None:
        raise NotImplementedError

    def now(self) -> datetime:
        raise NotImplementedError

    def export_user(self, user_id: str) -> dict[str, Any]:
        """Everything about a user as JSON-serializable data; ``import_user`` restores it exactly."""
        self._check_open()
        from .store.transfer import export_data

        return export_data(self._memories.store, check_user_id(user_id))  # consent and disclosures too

    def import_user(self, data: Mapping[str, Any], *, progress: bool = False) -> builtins.list[Memory]:
        """Restore what ``export_user`` wrote (the memories all or nothing; then the consent and disclosures).
        Memory ids must not exist in this store."""
        self._check_open()
        from .store.transfer import parse_export, parse_governance, parse_policy

        user_id, items, history = parse_export(data, self.now())
        consent, disclosures = parse_governance(data, user_id)
        policy = parse_policy(data)
        imported: builtins.list[Memory] = []
        if items:
            imported = self._memories.insert(user_id, items, progress=progress, imported_history=history)
        if consent is not None or disclosures:
            self._memories.store.import_governance(user_id, consent, disclosures)
        if policy:
            self._memories.store.import_policy(user_id, policy)  # the strategy="auto" evidence
        if not items:
            return []
        if self.learning.settle(user_id):  # an export from before slots: its newest statements win
            imported = [self._memories.get(m.id) for m in imported]
        return imported

    # -- maintenance -----------------------------------------------------------------------------------------

    def reembed(self, *, progress: bool = False) -> int:
        """Re-embed every memory with the current embedder (after changing it). Returns how many."""
        self._check_open()
        return self._memories.reembed(progress=progress)

    def count(self, user_id: str | None = None) -> int:
        """How many memories a user has (all users when None). Cheap: loads no model."""
        self._check_open()
        return self._memories.store.count(None if user_id is None else check_user_id(user_id))

    def check(self, *, repair: bool = False) -> CheckReport:
        """Check the store: database integrity, embeddings present, index files readable and fresh.

        ``missing_keys`` counts memories written before sentence keys existed (they rank on their whole
        text only; `reembed` adds the keys). With ``repair=True`` stale or unreadable index files are rebuilt
        (memories are never touched).
        """
        self._check_open()
        return self._memories.check(repair=repair)

    def stats(self) -> StoreStats:
        """Users, memories by kind, store size and index state (cheap: loads no model)."""
        self._check_open()
        return self._memories.stats()
