"""The learning benchmark: does chat learn the user's current facts, and only the user's?

Scripted users (``persona/evaluation/data/learning.json``, written by the project: 130 users, 1,236 chat turns,
75 ``dev``, 10 ``heldout``, 15 ``fresh``, 15 ``fresh2`` and 15 ``fresh3``, the last three by authors who never read the
rules; ``dev``
and, from #13's round 3 on, ``fresh`` are tuning splits) state, restate, change and retract facts and preferences in varied English,
mixed with small talk, questions, hypotheticals and facts about other people; the scripted assistant replies
include invented claims about the user ("Since you live in Paris, ..."). Each user's turns go through
``Persona.chat`` (the reply is the script's, through litellm's ``mock_response``: no model, no network) or
``Persona.add``; then the user's current facts, preferences and profile entries are compared with the
expected ones. Offline, no LLM needed (``extract_model`` optional).

A memory *matches* an expected item when its text contains the item's ``value`` (words, case-insensitive)
and agrees on negation (a memory reads as negative when it says not/no longer/never/don't/can't/hate ...).

* precision: current memories that match an expected current item / current memories (a memory that only
  negates a stale item, "I'm not allergic to shellfish", is neither right nor wrong and is not counted);
* recall: expected current items matched by some current memory / expected current items;
* stale: stale items (stated, then changed or retracted) still matched by a current memory / stale items;
* leaked: memories made of the assistant's words: stable memories holding words only the assistant said,
  plus assistant episodes that ``search`` returns for the assistant's own replies (must be 0).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError

__all__ = ["LearningReport", "ScriptedUser", "load_learning", "run_learning", "score_user"]

_FACT_KINDS = ("fact", "preference", "profile")
_NEGATIVE = re.compile(
    r"\b(?:not|no longer|never|don't|doesn't|do not|can't|cannot|can no longer|won't|isn't|aren't|hate|hates|"
    r"dislike|dislikes|detest|can't stand|no more|stopped|quit|gave up|given up|gone off|done with|avoid|"
    r"passed away|died|broke up|split up|left(?![- ]handed)|used to)\b",
    re.I,
)
_START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Expected:
    value: str
    about: str
    negated: bool = False


@dataclass(frozen=True)
class ScriptedUser:
    id: str
    split: str
    turns: tuple[dict[str, str], ...]
    current: tuple[Expected, ...]
    stale: tuple[Expected, ...]


@dataclass
class UserScore:
    user_id: str
    split: str
    memories: int
    correct: int
    neutral: int
    expected: int
    found: int
    stale: int
    stale_current: int
    leaked: int
    missed: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    still_current: list[str] = field(default_factory=list)


@dataclass
class LearningReport:
    """Totals per split (``dev``, ``heldout``, ``all``) and each user's score."""

    totals: dict[str, dict[str, float]]
    users: list[UserScore]
    turns: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "totals": self.totals,
            "turns": self.turns,
            "seconds": self.seconds,
            "users": [asdict(u) for u in self.users],
        }


def load_learning(path: str | Path | None = None, *, split: str | None = None) -> list[ScriptedUser]:
    """The scripted users (the bundled file unless ``path``), optionally one ``split`` (dev/heldout/fresh/fresh2/fresh3)."""
    if path is None:
        raw = resources.files("persona.evaluation").joinpath("data/learning.json").read_text("utf-8")
    else:
        raw = Path(path).read_text("utf-8")
    data = json.loads(raw)

    def items(rows: Iterable[dict[str, Any]]) -> tuple[Expected, ...]:
        return tuple(Expected(str(r["value"]), str(r.get("about", "")), bool(r.get("negated"))) for r in rows)

    users = [
        ScriptedUser(
            id=str(u["id"]),
            split=str(u.get("split", "dev")),
            turns=tuple(u["turns"]),
            current=items(u.get("current", [])),
            stale=items(u.get("stale", [])),
        )
        for u in data["users"]
    ]
    if split not in (None, "all") and split not in {u.split for u in users}:
        raise InvalidInputError(f"learning split must be dev, heldout, fresh, fresh2, fresh3 or all, got {split!r}.")
    return [u for u in users if split in (None, "all") or u.split == split]


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"[\w']+", text.lower().replace("’", "'"))) + " "


def _matches(text: str, item: Expected) -> bool:
    return _words(item.value) in _words(text) and bool(_NEGATIVE.search(text)) == item.negated


def _shingles(text: str, n: int = 5) -> set[str]:
    words = _words(text).split()
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def score_user(user: ScriptedUser, memories: Sequence[Any], searched_assistant: int) -> UserScore:
    """Score ``memories`` (the user's current stable ones, `persona.Memory`) against the script."""
    user_text = " ".join(t.get("user", "") or t.get("add", "") for t in user.turns)
    said = [t["assistant"] for t in user.turns if t.get("assistant")]
    theirs = {s for reply in said for s in _shingles(reply)} - _shingles(user_text)
    score = UserScore(
        user.id, user.split, 0, 0, 0, len(user.current), 0, len(user.stale), 0, searched_assistant
    )
    for m in memories:
        text = m.text
        if any(_matches(text, item) for item in user.current):
            score.correct += 1
        elif any(
            _words(item.value) in _words(text) and bool(_NEGATIVE.search(text)) != item.negated
            for item in user.stale
        ):
            score.neutral += 1
            continue
        else:
            score.wrong.append(text)
        score.memories += 1
        short = len(_words(text).split()) < 5
        in_reply = any(_words(text).strip() in _words(r) for r in said)
        if _shingles(text) & theirs or (short and in_reply and _words(text).strip() not in _words(user_text)):
            score.leaked += 1
    for item in user.current:
        if any(_matches(m.text, item) for m in memories):
            score.found += 1
        else:
            score.missed.append(f"{item.about}: {'not ' if item.negated else ''}{item.value}")
    for item in user.stale:
        if any(_matches(m.text, item) for m in memories):
            score.stale_current += 1
            score.still_current.append(f"{item.about}: {item.value}")
    return score


def _totals(scores: Sequence[UserScore]) -> dict[str, float]:
    memories = sum(s.memories for s in scores)
    expected = sum(s.expected for s in scores)
    stale = sum(s.stale for s in scores)
    return {
        "users": len(scores),
        "precision": sum(s.correct for s in scores) / memories if memories else 1.0,
        "recall": sum(s.found for s in scores) / expected if expected else 1.0,
        "stale": sum(s.stale_current for s in scores) / stale if stale else 0.0,
        "leaked": sum(s.leaked for s in scores),
        "memories": memories,
        "expected": expected,
    }


def run_learning(
    users: Sequence[ScriptedUser],
    *,
    store: str | Path | None = None,
    embedder: Any = None,
    extract_model: str | None = None,
    model: str = "gpt-4o-mini",
    strategy: str = "hybrid",
    progress: bool = False,
) -> LearningReport:
    """Play every user's script through a `persona.Persona` at ``store`` (a temporary one by default)."""
    import time

    from tqdm.auto import tqdm

    from ..client import Persona

    started = time.perf_counter()
    now = [_START]
    turns = 0
    scores: list[UserScore] = []
    with tempfile.TemporaryDirectory(prefix="persona-learning-") as tmp:
        path = Path(store) if store is not None else Path(tmp) / "store"
        with Persona(path, embedder=embedder, clock=lambda: now[0], extract_model=extract_model) as p:
            for user in tqdm(users, desc="learning", unit="user", disable=not progress):
                for turn in user.turns:
                    now[0] += timedelta(hours=1)
                    if "add" in turn:
                        p.add(user.id, turn["add"], kind=turn.get("kind", "fact"))
                    else:
                        p.chat(
                            user.id,
                            turn["user"],
                            model=model,
                            strategy=strategy,
                            mock_response=turn["assistant"],
                        )
                        turns += 1
                p.learning.wait(user.id)
                leaked = set()
                for turn in user.turns:
                    if turn.get("assistant"):
                        hits = p.search(user.id, turn["assistant"], k=5)
                        leaked |= {h.memory.id for h in hits if h.memory.metadata.get("role") == "assistant"}
                current = [m for kind in _FACT_KINDS for m in p.list(user.id, kind=kind)]
                scores.append(score_user(user, current, len(leaked)))
    totals = {"all": _totals(scores)}
    for split in sorted({s.split for s in scores}):
        totals[split] = _totals([s for s in scores if s.split == split])
    return LearningReport(totals, scores, turns, time.perf_counter() - started)
