"""Commands that read and write memories: users, list, show, search, add, edit, rm, forget."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.text import Text

from persona.errors import NotFoundError
from persona.types import Kind

from ._app import open_store
from ._output import (
    JsonFlag,
    console,
    emit_json,
    history_table,
    hits_table,
    memories_table,
    memory_table,
    parse_pairs,
    parse_when,
    safe_text,
)

__all__ = ["register"]

PANEL = "Memories"

User = Annotated[
    str,
    typer.Argument(
        metavar="USER", help="The user id, any non-empty string. Example: alice", show_default=False
    ),
]
MemoryId = Annotated[
    str,
    typer.Argument(
        metavar="MEMORY_ID",
        help="A memory id, as printed by list, search or add. Example: 3f2a9c...",
        show_default=False,
    ),
]
_WHEN = "an ISO 8601 date or time (UTC unless it has an offset) or a duration ago (30m, 12h, 7d, 2w)."
Since = Annotated[
    datetime | None,
    typer.Option(
        parser=parse_when,
        metavar="WHEN",
        show_default=False,
        help=f"Only memories created at or after WHEN: {_WHEN} Example: --since 7d",
    ),
]
Until = Annotated[
    datetime | None,
    typer.Option(
        parser=parse_when,
        metavar="WHEN",
        show_default=False,
        help=f"Only memories created before WHEN: {_WHEN} Example: --until 2024-05-01",
    ),
]
EventSince = Annotated[
    datetime | None,
    typer.Option(
        "--event-since",
        parser=parse_when,
        metavar="WHEN",
        show_default=False,
        help="Only memories about events at or after WHEN (their event times, read from the text at write time, "
        f"or else created_at): {_WHEN} Example: --event-since 2023-05-01",
    ),
]
EventUntil = Annotated[
    datetime | None,
    typer.Option(
        "--event-until",
        parser=parse_when,
        metavar="WHEN",
        show_default=False,
        help=f"Only memories about events before WHEN (as --event-since): {_WHEN} Example: --event-until 2023-06-01",
    ),
]
KindFilter = Annotated[
    Kind | None,
    typer.Option("--kind", show_default=False, help="Only memories of this kind. Example: --kind preference"),
]
Meta = Annotated[
    list[str] | None,
    typer.Option(
        "--meta",
        metavar="KEY=VALUE",
        show_default=False,
        help="Metadata, repeatable; values are strings. Example: --meta source=onboarding --meta lang=en",
    ),
]
Sensitivity = Annotated[
    str | None,
    typer.Option(
        "--sensitivity",
        metavar="LABEL",
        show_default=False,
        help="Sensitivity label: normal (default), personal, health, financial, secret; health, financial and "
        "secret memories reach only local or trusted models. Example: --sensitivity health",
    ),
]
SensitivityFilter = Annotated[
    list[str] | None,
    typer.Option(
        "--sensitivity",
        metavar="LABEL",
        show_default=False,
        help="Only memories with this sensitivity label, repeatable. Example: --sensitivity health",
    ),
]
Importance = Annotated[
    float | None,
    typer.Option(
        "--importance",
        min=0.0,
        max=1.0,
        show_default=False,
        help="How much it matters, 0 to 1 (default 0.5). Example: --importance 0.9",
    ),
]


def users(ctx: typer.Context, json: JsonFlag = False) -> None:
    """List every user with at least one memory.

    JSON: an array of objects, one per user: {"user_id": ...}.

    Example: persona users --json
    """
    with open_store(ctx) as p:
        names = p.users()
    if json:
        emit_json([{"user_id": name} for name in names])
        return
    out = console()
    for name in names:
        out.print(safe_text(name))
    if not names:
        out.print("no users yet; add a memory with: persona add USER TEXT", style="dim")


def list_(
    ctx: typer.Context,
    user: User,
    kind: KindFilter = None,
    since: Since = None,
    until: Until = None,
    event_since: EventSince = None,
    event_until: EventUntil = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", "-n", min=1, show_default=False, help="At most N memories. Example: -n 20"),
    ] = None,
    superseded: Annotated[
        bool,
        typer.Option(
            "--superseded",
            help="Also list memories a newer one replaced (they carry valid_to and superseded_by). "
            "Example: persona list alice --superseded",
        ),
    ] = False,
    sensitivity: SensitivityFilter = None,
    json: JsonFlag = False,
) -> None:
    """List a user's current memories, newest first.

    JSON: an array of memory objects (id, user_id, text, kind, metadata, created_at, updated_at, importance,
    source, valid_to, superseded_by, sensitivity, event_times).

    Example: persona list alice --kind preference --since 7d
    """
    with open_store(ctx) as p:
        memories = p.list(
            user,
            kind=kind,
            since=since,
            until=until,
            limit=limit,
            include_superseded=superseded,
            sensitivity=sensitivity or None,
            event_since=event_since,
            event_until=event_until,
        )
    if json:
        emit_json([m.to_dict() for m in memories])
    elif memories:
        console().print(memories_table(memories))
    else:
        console().print(f"no memories for {user!r}", style="dim", markup=False)


def show(ctx: typer.Context, memory_id: MemoryId, json: JsonFlag = False) -> None:
    """Show one memory and its history (every add, update and delete).

    JSON: {"memory": memory object, "history": [{"memory_id", "event", "at", "text", "kind", "metadata",
    "importance"}, ...]}.

    Example: persona show 3f2a9c0d8e7b4a1f9c2d3e4f5a6b7c8d
    """
    with open_store(ctx) as p:
        memory = p.get(memory_id)
        history = p.history(memory_id)
    if json:
        emit_json({"memory": memory.to_dict(), "history": [h.to_dict() for h in history]})
        return
    out = console()
    out.print(memory_table(memory))
    out.print(history_table(history))


def search(
    ctx: typer.Context,
    user: User,
    query: Annotated[
        str,
        typer.Argument(
            metavar="QUERY", help="What to look for. Example: 'what food to avoid'", show_default=False
        ),
    ],
    k: Annotated[int, typer.Option("-k", metavar="N", min=1, help="How many results. Example: -k 5")] = 10,
    kind: KindFilter = None,
    since: Since = None,
    until: Until = None,
    event_since: EventSince = None,
    event_until: EventUntil = None,
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            metavar="KEY=VALUE",
            show_default=False,
            help="Only memories whose metadata has KEY equal to VALUE (a string); repeatable. "
            "Example: --where lang=en",
        ),
    ] = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Show the parts each score is made of: dense, dense_context, lexical, lexical_context, "
            "mentioned, preference, dated, span, conversation, question (rerank and fused with a reranker), "
            "and the memory's event times; docs/retrieval.md explains each. Example: --explain",
        ),
    ] = False,
    sensitivity: SensitivityFilter = None,
    json: JsonFlag = False,
) -> None:
    """Search a user's memories, best first (hybrid: dense and BM25 evidence fused into one score).

    JSON: an array of hits: the memory object plus "score" and "parts" (the score's parts by name).

    Example: persona search alice "what should I cook tonight" -k 5 --explain
    """
    filters = parse_pairs(where or [], what="--where") or None
    with open_store(ctx, embed=True) as p:
        hits = p.search(
            user,
            query,
            k=k,
            kind=kind,
            filters=filters,
            since=since,
            until=until,
            sensitivity=sensitivity or None,
            event_since=event_since,
            event_until=event_until,
        )
    if json:
        emit_json([h.to_dict() for h in hits])
    elif hits:
        console().print(hits_table(hits, explain=explain))
    else:
        console().print(f"no memories for {user!r} match", style="dim", markup=False)


def add(
    ctx: typer.Context,
    user: User,
    text: Annotated[
        str,
        typer.Argument(
            metavar="TEXT", help="What to remember. Example: 'I am vegetarian'", show_default=False
        ),
    ],
    kind: Annotated[
        Kind, typer.Option("--kind", help="fact, preference, profile (stable) or episode (an event).")
    ] = "fact",
    meta: Meta = None,
    importance: Importance = None,
    sensitivity: Sensitivity = None,
    json: JsonFlag = False,
) -> None:
    """Remember one thing about a user (an exact duplicate returns the existing memory).

    JSON: the stored memory object.

    Example: persona add alice "I am vegetarian" --kind preference --meta source=onboarding
    """
    metadata = parse_pairs(meta or [], what="--meta") or None
    with open_store(ctx, embed=True) as p:
        memory = p.add(
            user, text, kind=kind, metadata=metadata, importance=importance, source="cli", sensitivity=sensitivity
        )
    if json:
        emit_json(memory.to_dict())
    else:
        label = "" if memory.sensitivity == "normal" else f", {memory.sensitivity}"
        console().print(Text.assemble("remembered ", (memory.id, "cyan"), f" ({memory.kind}{label})"))


def edit(
    ctx: typer.Context,
    memory_id: MemoryId,
    text: Annotated[
        str | None, typer.Option("--text", show_default=False, help="New text. Example: --text 'I am vegan'")
    ] = None,
    kind: Annotated[
        Kind | None, typer.Option("--kind", show_default=False, help="New kind. Example: --kind preference")
    ] = None,
    meta: Annotated[
        list[str] | None,
        typer.Option(
            "--meta",
            metavar="KEY=VALUE",
            show_default=False,
            help="New metadata, repeatable; replaces all of it (give every key to keep). Example: --meta lang=en",
        ),
    ] = None,
    importance: Importance = None,
    sensitivity: Sensitivity = None,
    json: JsonFlag = False,
) -> None:
    """Change a memory; its history keeps the earlier version.

    JSON: the updated memory object.

    Example: persona edit 3f2a9c0d8e7b4a1f9c2d3e4f5a6b7c8d --text "I am vegan" --kind preference
    """
    metadata = parse_pairs(meta, what="--meta") if meta else None
    with open_store(ctx, embed=text is not None) as p:
        memory = p.update(
            memory_id, text=text, kind=kind, metadata=metadata, importance=importance, sensitivity=sensitivity
        )
    if json:
        emit_json(memory.to_dict())
    else:
        console().print(Text.assemble("updated ", (memory.id, "cyan")))


def rm(ctx: typer.Context, memory_id: MemoryId, json: JsonFlag = False) -> None:
    """Delete a memory and purge its text everywhere, history included.

    JSON: {"id": ..., "deleted": true}.

    Example: persona rm 3f2a9c0d8e7b4a1f9c2d3e4f5a6b7c8d
    """
    with open_store(ctx) as p:
        p.delete(memory_id)
    if json:
        emit_json({"id": memory_id, "deleted": True})
    else:
        console().print(Text.assemble("deleted ", (memory_id, "cyan")))


def forget(
    ctx: typer.Context,
    user: User,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask for confirmation. Example: --yes")
    ] = False,
    json: JsonFlag = False,
) -> None:
    """Erase everything about a user: memories, history, vectors, index files. Asks first unless --yes.

    JSON: {"user_id": ..., "forgotten": number of memories erased}.

    Example: persona forget alice --yes
    """
    with open_store(ctx) as p:
        if user not in p.users():
            p.forget_user(user)  # no memories, but replies, feedback or history of deleted ones may remain
            raise NotFoundError(f"there is no user {user!r} in this store; nothing to forget (persona users lists them).")
        if not yes:
            typer.confirm(f"Erase every memory of {user!r} for good?", abort=True, err=True)
        count = p.forget_user(user)
    if json:
        emit_json({"user_id": user, "forgotten": count})
    else:
        console().print(f"forgot {user!r}: {count} memories erased", markup=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    for name, command in (
        ("users", users),
        ("list", list_),
        ("show", show),
        ("search", search),
        ("add", add),
        ("edit", edit),
        ("rm", rm),
        ("forget", forget),
    ):
        app.command(name, rich_help_panel=PANEL)(command)
