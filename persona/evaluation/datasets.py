"""Loaders for the benchmark data: LoCoMo conversations and PrefEval preferences, as typed dataclasses.

The data is never bundled with persona (it is CC BY-NC 4.0). It is read from a directory found by
`resolve_data_dir`: an explicit argument, else ``$PERSONA_DATA_DIR``, else ``../shared/data`` next to the
repository. The layout expected there::

    locomo/locomo_dev.json
    prefeval/explicit_preference/<topic>.json
    prefeval/implicit_choice_based/<topic>.json
    prefeval/filtered_inter_turns.json

LoCoMo evidence ids are normalised the way the data's README says: each raw entry is split on ``;`` and
whitespace, leading zeros are stripped (``D30:05`` -> ``D30:5``), duplicates are dropped. Ids that name no
turn of the conversation (``D``, ``D:11:26``, a turn number past the session's end) are kept apart in
`QAItem.unresolved_evidence`; `QAItem.evidence` holds only ids that resolve to a turn.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from persona.errors import DatasetNotFoundError

__all__ = [
    "CATEGORY_NAMES",
    "DATA_DIR_ENV",
    "DATA_FILES",
    "ChoiceItem",
    "Conversation",
    "DatasetNotFoundError",
    "FillerConversation",
    "Message",
    "PreferenceItem",
    "QAItem",
    "Session",
    "Turn",
    "check_dataset",
    "load_locomo",
    "load_prefeval_choices",
    "load_prefeval_explicit",
    "load_prefeval_filler",
    "normalize_evidence",
    "parse_session_date",
    "prefeval_topics",
    "resolve_data_dir",
]

DATA_DIR_ENV = "PERSONA_DATA_DIR"
"""The environment variable that points at the benchmark data directory."""

DATA_FILES: dict[str, tuple[str, ...]] = {
    "locomo": ("locomo/locomo_dev.json",),
    "prefeval": ("prefeval/explicit_preference", "prefeval/filtered_inter_turns.json"),
}
"""What each benchmark reads under the data directory. A dataset not listed here (``synthetic``) needs no data."""

CATEGORY_NAMES: dict[int, str] = {
    1: "multi-hop",
    2: "temporal",
    3: "open-domain",
    4: "single-hop",
    5: "adversarial",
}
"""LoCoMo's category codes, as the data's README names them (the paper's table orders them differently)."""

_DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data"
_SESSION_KEY = re.compile(r"session_(\d+)")
_EVIDENCE_ID = re.compile(r"D(\d+):(\d+)")
_DATE_FORMAT = "%I:%M %p on %d %B, %Y"


def _choose_data_dir(data_dir: str | os.PathLike[str] | None) -> tuple[Path, str]:
    """The data directory to use and where that choice came from (for messages); not checked."""
    if data_dir is not None:
        return Path(data_dir), "the data_dir argument"
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]), f"${DATA_DIR_ENV}"
    return _DEFAULT_DATA_DIR, "the default location"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The benchmark data directory: ``data_dir``, else ``$PERSONA_DATA_DIR``, else ``../shared/data``.

    Raises `DatasetNotFoundError` when the chosen directory does not exist.
    """
    chosen, origin = _choose_data_dir(data_dir)
    if not chosen.is_dir():
        raise DatasetNotFoundError(
            f"benchmark data directory {str(chosen)!r} (from {origin}) does not exist; "
            f"set {DATA_DIR_ENV} to the directory that holds locomo/ and prefeval/"
        )
    return chosen


def check_dataset(
    name: str, data_dir: str | os.PathLike[str] | None = None, topics: Sequence[str] | None = None
) -> None:
    """Raise `DatasetNotFoundError` unless the files dataset ``name`` reads are there (cheap: no parsing).

    Datasets outside `DATA_FILES` need no data and always pass. ``topics`` are PrefEval topics to check for;
    without them at least one topic file must be present. The message names the dataset, the directory
    looked in and the missing paths, and says what to do.
    """
    needed = DATA_FILES.get(name)
    if needed is None:
        return
    root, origin = _choose_data_dir(data_dir)
    missing = [rel for rel in needed if not (root / rel).exists()]
    if name == "prefeval" and not missing:
        folder = "prefeval/explicit_preference"
        if topics:
            missing = [f"{folder}/{t}.json" for t in topics if not (root / folder / f"{t}.json").is_file()]
        elif not any((root / folder).glob("*.json")):
            missing = [f"{folder}/<topic>.json"]
    if missing:
        absent = "" if root.is_dir() else ", which does not exist"
        raise DatasetNotFoundError(
            f"dataset {name!r} needs benchmark data that is not in {str(root)!r} (from {origin}{absent}): "
            f"missing {', '.join(missing)}. Set {DATA_DIR_ENV} (or data_dir in the config) to the directory "
            f"that holds locomo/ and prefeval/, or drop {name!r} from the config's datasets"
        )


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise DatasetNotFoundError(
            f"benchmark file {str(path)!r} is missing; "
            f"set {DATA_DIR_ENV} to the directory that holds locomo/ and prefeval/"
        )
    with path.open(encoding="utf-8") as f:
        return json.load(f)


# --------------------------------------------------------------------------------------------- LoCoMo


@dataclass(frozen=True)
class Turn:
    """One dialogue turn. ``dia_id`` is ``D<session>:<k>``; ``image_caption`` is set when it shares an image."""

    dia_id: str
    session: int
    speaker: str
    text: str
    image_caption: str | None = None


@dataclass(frozen=True)
class Session:
    """One session of a conversation: its number, the date as written in the file and as a UTC datetime."""

    index: int
    date_text: str
    date: datetime
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class QAItem:
    """One LoCoMo question. ``answer`` is None for adversarial questions (see ``adversarial_answer``)."""

    question: str
    answer: str | None
    category: int
    evidence: tuple[str, ...]
    """Normalised evidence ids that resolve to a turn of the conversation."""
    unresolved_evidence: tuple[str, ...] = ()
    """Normalised evidence ids that name no turn (a typo in the data)."""
    adversarial_answer: str | None = None

    @property
    def category_name(self) -> str:
        return CATEGORY_NAMES.get(self.category, f"category-{self.category}")

    @property
    def all_evidence(self) -> tuple[str, ...]:
        """Every normalised evidence id, resolvable or not."""
        return self.evidence + self.unresolved_evidence


@dataclass(frozen=True)
class Conversation:
    """One LoCoMo conversation between two speakers, over many dated sessions, with its questions."""

    sample_id: str
    speaker_a: str
    speaker_b: str
    sessions: tuple[Session, ...]
    qa: tuple[QAItem, ...]

    def turns(self) -> Iterator[tuple[Session, Turn]]:
        """Every turn in order, with its session."""
        for session in self.sessions:
            for turn in session.turns:
                yield session, turn

    @property
    def turn_count(self) -> int:
        return sum(len(s.turns) for s in self.sessions)


def parse_session_date(text: str) -> datetime:
    """Parse LoCoMo's ``"1:56 pm on 8 May, 2023"`` into a UTC datetime."""
    try:
        return datetime.strptime(text.strip(), _DATE_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError as exc:
        raise ValueError(f"unrecognised LoCoMo session date {text!r}") from exc


def normalize_evidence(raw: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Split each entry on ``;`` and whitespace and strip leading zeros; keep order, drop duplicates.

    Entries that do not look like ``D<n>:<k>`` (``D``, ``D:11:26``) are kept as they are.
    """
    out: list[str] = []
    for entry in raw:
        for token in re.split(r"[;\s]+", entry):
            if not token:
                continue
            m = _EVIDENCE_ID.fullmatch(token)
            norm = f"D{int(m.group(1))}:{int(m.group(2))}" if m else token
            if norm not in out:
                out.append(norm)
    return tuple(out)


def _parse_turn(raw: dict[str, Any], session: int) -> Turn:
    caption = raw.get("blip_caption") if raw.get("img_url") else None
    return Turn(
        dia_id=str(raw["dia_id"]),
        session=session,
        speaker=str(raw["speaker"]),
        text=str(raw["text"]),
        image_caption=str(caption) if caption else None,
    )


def _parse_qa(raw: dict[str, Any], turn_ids: set[str]) -> QAItem:
    ids = normalize_evidence(raw.get("evidence") or [])
    answer = raw.get("answer")
    adversarial = raw.get("adversarial_answer")
    return QAItem(
        question=str(raw["question"]),
        answer=None if answer is None else str(answer),
        category=int(raw["category"]),
        evidence=tuple(i for i in ids if i in turn_ids),
        unresolved_evidence=tuple(i for i in ids if i not in turn_ids),
        adversarial_answer=None if adversarial is None else str(adversarial),
    )


def _parse_conversation(raw: dict[str, Any]) -> Conversation:
    conv = raw["conversation"]
    numbers = sorted(int(m.group(1)) for k in conv if (m := _SESSION_KEY.fullmatch(k)))
    sessions = tuple(
        Session(
            index=n,
            date_text=str(conv[f"session_{n}_date_time"]),
            date=parse_session_date(str(conv[f"session_{n}_date_time"])),
            turns=tuple(_parse_turn(t, n) for t in conv[f"session_{n}"]),
        )
        for n in numbers
    )
    turn_ids = {t.dia_id for s in sessions for t in s.turns}
    return Conversation(
        sample_id=str(raw["sample_id"]),
        speaker_a=str(conv["speaker_a"]),
        speaker_b=str(conv["speaker_b"]),
        sessions=sessions,
        qa=tuple(_parse_qa(q, turn_ids) for q in raw["qa"]),
    )


def load_locomo(data_dir: str | os.PathLike[str] | None = None) -> list[Conversation]:
    """Every conversation of ``locomo/locomo_dev.json``, in file order."""
    raw = _read_json(resolve_data_dir(data_dir) / "locomo" / "locomo_dev.json")
    return [_parse_conversation(c) for c in raw]


# -------------------------------------------------------------------------------------------- PrefEval


@dataclass(frozen=True)
class PreferenceItem:
    """One explicit PrefEval preference: the user states ``preference``, later asks ``question``."""

    topic: str
    index: int
    preference: str
    question: str
    explanation: str

    @property
    def id(self) -> str:
        return f"{self.topic}/{self.index}"


@dataclass(frozen=True)
class Message:
    """One chat message: ``role`` is ``user`` or ``assistant``."""

    role: str
    content: str


@dataclass(frozen=True)
class ChoiceItem:
    """One implicit, choice-based PrefEval preference: revealed by picking among options in a short dialog."""

    topic: str
    index: int
    preference: str
    question: str
    explanation: str
    implicit_query: str
    options: tuple[str, ...]
    dialog: tuple[Message, ...]
    """The four-message exchange that reveals the preference: query, options, selection, acknowledgment."""
    aligned_option: str

    @property
    def id(self) -> str:
        return f"{self.topic}/{self.index}"


@dataclass(frozen=True)
class FillerConversation:
    """One unrelated conversation that PrefEval inserts between a preference and its question."""

    conversation_id: str
    messages: tuple[Message, ...]

    @property
    def user_messages(self) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.role == "user")


def prefeval_topics(data_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """The topics present under ``prefeval/explicit_preference``, sorted."""
    folder = resolve_data_dir(data_dir) / "prefeval" / "explicit_preference"
    if not folder.is_dir():
        raise DatasetNotFoundError(
            f"PrefEval folder {str(folder)!r} is missing; set {DATA_DIR_ENV} to the benchmark data directory"
        )
    return sorted(p.stem for p in folder.glob("*.json"))


def load_prefeval_explicit(
    data_dir: str | os.PathLike[str] | None = None, topics: list[str] | None = None
) -> list[PreferenceItem]:
    """Explicit preferences of every topic (or of ``topics``), topic by topic, in file order."""
    root = resolve_data_dir(data_dir) / "prefeval" / "explicit_preference"
    items: list[PreferenceItem] = []
    for topic in topics if topics is not None else prefeval_topics(data_dir):
        for i, raw in enumerate(_read_json(root / f"{topic}.json")):
            items.append(
                PreferenceItem(
                    topic=topic,
                    index=i,
                    preference=str(raw["preference"]),
                    question=str(raw["question"]),
                    explanation=str(raw.get("explanation", "")),
                )
            )
    return items


def load_prefeval_choices(
    data_dir: str | os.PathLike[str] | None = None, topics: list[str] | None = None
) -> list[ChoiceItem]:
    """Implicit choice-based preferences of every topic (or of ``topics``)."""
    root = resolve_data_dir(data_dir) / "prefeval" / "implicit_choice_based"
    items: list[ChoiceItem] = []
    for topic in topics if topics is not None else prefeval_topics(data_dir):
        for i, raw in enumerate(_read_json(root / f"{topic}.json")):
            conv = raw["conversation"]
            items.append(
                ChoiceItem(
                    topic=topic,
                    index=i,
                    preference=str(raw["preference"]),
                    question=str(raw["question"]),
                    explanation=str(raw.get("explanation", "")),
                    implicit_query=str(raw["implicit_query"]),
                    options=tuple(str(o) for o in raw["options"]),
                    dialog=(
                        Message("user", str(conv["query"])),
                        Message("assistant", str(conv["assistant_options"])),
                        Message("user", str(conv["user_selection"])),
                        Message("assistant", str(conv["assistant_acknowledgment"])),
                    ),
                    aligned_option=str(raw["aligned_op"]),
                )
            )
    return items


def load_prefeval_filler(data_dir: str | os.PathLike[str] | None = None) -> list[FillerConversation]:
    """The unrelated filler conversations (``filtered_inter_turns.json``): 316 user/assistant pairs in all."""
    raw = _read_json(resolve_data_dir(data_dir) / "prefeval" / "filtered_inter_turns.json")
    return [
        FillerConversation(
            conversation_id=str(c.get("conversation_id", i)),
            messages=tuple(Message(str(m["role"]), str(m["content"])) for m in c["conversation"]),
        )
        for i, c in enumerate(raw)
    ]
