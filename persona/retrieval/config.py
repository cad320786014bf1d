"""`RankingConfig`: how hybrid ranking weighs its evidence (`persona.retrieval.ranking`). Imports nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RankingConfig"]


@dataclass(frozen=True)
class RankingConfig:
    """How dense and lexical evidence are combined (defaults measured in eval/retrieval.py)."""

    dense_weight: float = 0.6
    lexical_weight: float = 0.4
    context_mix: float = 0.5
    """Weight of the previous memory's vector in a memory's context key (0 turns context keys off)."""
    segment_keys: bool = True
    """Match a memory by its best sentence as well as by its whole text (keys from persona.retrieval.sentences)."""
    conversation_dense: float = 0.5
    """Weight of the query's similarity to the centroid of the memory's conversation, added to dense."""
    neighbour_lexical: float = 0.5
    """Share of the previous memory's BM25 score a memory inherits (0 turns it off)."""
    next_lexical: float = 0.5
    """Share of the next memory's BM25 score a memory inherits (a question borrows its answer's words)."""
    mention_boost: float = 1.0
    """Lexical boost for memories carrying a metadata value the query names (0 turns it off)."""
    lexical_cap: float = 1.5
    """Upper bound of the IDF-normalised lexical score."""
    preference_boost: float = 0.3
    """Added to memories that state a preference when the query asks for advice (0 turns it off)."""
    date_boost: float = 0.0
    """Round 2's flat boost for memories dated within a calendar date the query names (0 turns it off;
    replaced by ``span_boost`` in round 4)."""
    date_slack_days: tuple[float, float] = (1.0, 7.0)
    """How far before and after the named date a memory still counts as dated there."""
    span_boost: float = 0.2
    """Added in proportion to how surely a memory's event lies in a time span the query names
    (`persona.retrieval.spans`: event times, else ``created_at``; 0 turns it off)."""
    span_told_days: float = 7.0
    """A memory without event times is taken to tell of the days up to this many before its ``created_at``."""
    question_penalty: float = 0.3
    """Subtracted in proportion to the share of a memory's sentences that are questions."""
    length_prior: float = 0.08
    """Added per unit of log(1 + words) to memories that are part of a conversation (linked to a turn
    before or after them): in a dialogue, the turns that carry facts are the longer ones. Standalone
    memories (facts, preferences, notes) get no length prior."""
    hop_weight: float = 0.0
    """Added per unit of a memory's similarity to the centroid of the first stage's best hits, a second
    hop (`persona.retrieval.secondpass.second_hop`; measured in round 4, off: it did not raise recall)."""
    neighbour_credit: float = 0.0
    """Share of how far the better neighbouring turn scores above a memory that the memory gains
    (`persona.retrieval.secondpass.neighbour_credit`; measured in round 4, off)."""
    session_penalty: float = 0.0
    """Subtracted from every memory but the best of its conversation, so other conversations' best turns
    can come first (`persona.retrieval.secondpass.session_rank`; measured in round 4, off)."""
