"""Printing for the CLI: JSON for scripts, rich tables for people, and the parsers for option values.

Memory text is data from anywhere, and may hold terminal control sequences (ESC, OSC 52 clipboard writes,
screen clears) or bidirectional overrides. Everything printed for people goes through `console`, whose
consoles escape them (`escape_controls`: ESC is printed as the four characters ``\\x1b``); the tables
escape their cells before laying them out. ``--json`` output is exact JSON (which escapes C0 controls itself).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from persona.types import EventTime, HistoryEntry, Hit, Memory

__all__ = [
    "JsonFlag",
    "console",
    "emit_json",
    "escape_controls",
    "history_table",
    "hits_table",
    "human_size",
    "memories_table",
    "memory_table",
    "parse_json_value",
    "parse_pairs",
    "parse_when",
    "safe_text",
    "short_time",
]

JsonFlag = Annotated[
    bool,
    typer.Option(
        "--json", help="Print JSON instead of a table, for scripts (shapes: docs/cli.md). Example: --json"
    ),
]


_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` with terminal control characters (all but newline and tab), bidi controls and lone surrogates
    shown escaped."""
    return _CONTROLS.sub(_escaped, text)


def safe_text(value: object, style: str = "") -> Text:
    """A rich Text of ``value`` (any data) with its control characters escaped."""
    return Text(escape_controls(str(value)), style=style)


class _SafeConsole(Console):
    """A Console that escapes control characters in everything it renders (rich's own codes are kept)."""

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control is None and _CONTROLS.search(segment.text):
                yield Segment(escape_controls(segment.text), segment.style)
            else:
                yield segment


def console(*, stderr: bool = False) -> Console:
    """A rich console on the current stdout (or stderr) that escapes control characters in data; no syntax
    highlighting of data."""
    return _SafeConsole(stderr=stderr, highlight=False)


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON (UTF-8 kept as is) on stdout; datetimes and such as strings."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


# -- option values -------------------------------------------------------------------------------------------

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(value: str) -> datetime:
    """An ISO 8601 date or time (naive = UTC), or a duration ago: ``30m``, ``12h``, ``7d``, ``2w``."""
    text = value.strip()
    match = _DURATION.match(text)
    if match:
        try:
            return datetime.now(timezone.utc) - timedelta(**{_UNITS[match[2]]: float(match[1])})
        except OverflowError:
            raise typer.BadParameter(
                f"{value!r} reaches back before the year 1; use a shorter duration or an ISO 8601 date."
            ) from None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is neither an ISO 8601 date/time (2024-05-01, 2024-05-01T14:30) nor a duration ago "
            "(30m, 12h, 7d, 2w)."
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def parse_json_value(text: str) -> Any:
    """``text`` parsed as JSON when it is valid JSON (0.2, true, [1,2]), else the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_pairs(values: Iterable[str], *, what: str, typed: bool = False) -> dict[str, Any]:
    """``["k=v", ...]`` as a dict; values stay strings unless ``typed`` (then JSON values are parsed)."""
    out: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{what} must look like key=value, got {item!r}.")
        out[key.strip()] = parse_json_value(raw) if typed else raw
    return out


# -- formatting ----------------------------------------------------------------------------------------------


def short_time(value: datetime | None) -> str:
    """A datetime as ``YYYY-MM-DD HH:MM`` in UTC (empty for None)."""
    if value is None:
        return ""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"  # pragma: no cover


def _meta(metadata: Mapping[str, Any] | None) -> Text:
    if not metadata:
        return Text("")
    return safe_text(", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in metadata.items()))


def _memory_text(memory: Memory, extra: str = "") -> Text:
    """The text cell: the memory's text, then its metadata (and ``extra``) dimmed on the next line."""
    text = safe_text(memory.text, style="" if memory.current else "dim")
    label = "" if memory.sensitivity == "normal" else f"sensitivity={memory.sensitivity}"
    notes = [n for n in (_meta(memory.metadata).plain, label, "" if memory.current else "superseded", extra) if n]
    if notes:
        text.append("\n" + "  ".join(notes), style="dim")
    return text


def _event_time(event: EventTime) -> str:
    """'"last week" 2023-05-01..2023-05-07' (the end day included)."""
    last = event.end - timedelta(seconds=1)
    days = event.start.strftime("%Y-%m-%d")
    if last.date() != event.start.date():
        days += ".." + last.strftime("%Y-%m-%d")
    return f"{safe_text(event.text).plain!r} {days}"


def memories_table(memories: Sequence[Memory]) -> Table:
    """One row per memory: id, kind, created date, text (metadata on a second, dim line)."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("id", no_wrap=True, style="cyan")
    table.add_column("kind", no_wrap=True)
    table.add_column("created", no_wrap=True)
    table.add_column("text", overflow="fold", ratio=1, min_width=20)
    for m in memories:
        created = m.created_at.astimezone(timezone.utc).strftime("%Y-%m-%d")
        table.add_row(m.id, m.kind, created, _memory_text(m))
    return table


def hits_table(hits: Sequence[Hit], *, explain: bool = False) -> Table:
    """One row per hit, best first; ``explain`` adds each part of the score under the text."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("id", no_wrap=True, style="cyan")
    table.add_column("kind", no_wrap=True)
    table.add_column("text", overflow="fold", ratio=1, min_width=20)
    for hit in hits:
        parts = "  ".join(f"{name}={value:.3g}" for name, value in hit.parts.items()) if explain else ""
        if explain and hit.memory.event_times:
            parts += "\nevent times: " + "; ".join(_event_time(e) for e in hit.memory.event_times)
        table.add_row(f"{hit.score:.3f}", hit.memory.id, hit.memory.kind, _memory_text(hit.memory, parts))
    return table


def memory_table(memory: Memory) -> Table:
    """One memory as a two-column field/value table."""
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    rows: list[tuple[str, str | Text]] = [
        ("id", memory.id),
        ("user", safe_text(memory.user_id)),
        ("kind", memory.kind),
        ("sensitivity", memory.sensitivity),
        ("text", safe_text(memory.text)),
        ("metadata", _meta(memory.metadata)),
        ("importance", f"{memory.importance:.2f}"),
        ("source", safe_text(memory.source)),
        ("created", short_time(memory.created_at)),
        ("updated", short_time(memory.updated_at)),
    ]
    if not memory.current:
        rows.append(("superseded by", f"{memory.superseded_by} (valid to {short_time(memory.valid_to)})"))
    for name, value in rows:
        table.add_row(name, value)
    return table


def history_table(entries: Sequence[HistoryEntry]) -> Table:
    """A memory's history, oldest first."""
    table = Table(title="history", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("at (UTC)", no_wrap=True)
    table.add_column("event")
    table.add_column("kind")
    table.add_column("text", overflow="fold", ratio=1)
    table.add_column("metadata", overflow="fold")
    for entry in entries:
        table.add_row(
            short_time(entry.at),
            entry.event,
            entry.kind or "",
            safe_text(entry.text if entry.text is not None else "(purged)"),
            _meta(entry.metadata),
        )
    return table
