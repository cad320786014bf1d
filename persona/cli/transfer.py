"""Commands that move a user's memories in and out of the store: export, import."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from persona.errors import InvalidInputError

from ._app import open_store
from ._output import JsonFlag, console, emit_json

__all__ = ["register"]

PANEL = "Import and export"


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, "utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise OSError(f"cannot write {path}: {exc.strerror or exc}; choose another file with -o.") from exc


def export(
    ctx: typer.Context,
    user: Annotated[
        str, typer.Argument(metavar="USER", help="The user to export. Example: alice", show_default=False)
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            dir_okay=False,
            show_default=False,
            help="Write to FILE instead of stdout. Example: -o alice.json",
        ),
    ] = None,
) -> None:
    """Export everything about a user (memories and history) as JSON; persona import reads it back.

    The output is always JSON: {"format": "persona.export", "schema_version": 1, "user_id": ..., "memories":
    [memory objects, oldest first], "history": [history entries]}. A user with no memories exports an empty list.

    Example: persona export alice -o alice.json
    """
    with open_store(ctx) as p:
        data = p.export_user(user)
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if output is None:
        typer.echo(text)
        return
    _write_atomically(output, text + "\n")
    console(stderr=True).print(
        f"exported {len(data['memories'])} memories of {user!r} to {output}", markup=False
    )


def _read_export(file: Path) -> Any:
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text("utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError(
            f"{file} is not a text file; pass a file written by: persona export USER -o FILE"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"{file} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); nothing was imported. "
            "Pass a file written by: persona export USER -o FILE"
        ) from None
    except (ValueError, RecursionError) as exc:  # a number too long to read, arrays nested too deep
        raise InvalidInputError(
            f"{file} cannot be read as a persona export ({type(exc).__name__}: {str(exc)[:200]}); nothing was "
            "imported. Pass a file written by: persona export USER -o FILE"
        ) from None


def import_(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            dir_okay=False,
            show_default=False,
            help="A file written by persona export, or - for stdin. Example: alice.json",
        ),
    ],
    json_: JsonFlag = False,
) -> None:
    """Import what persona export wrote: all of it, or nothing when anything is wrong.

    The memory ids in the file must not exist in this store yet (import into a fresh store, or forget the
    user first). JSON: {"user_id": ..., "imported": number of memories}.

    Example: persona --store ./new-store import alice.json
    """
    data = _read_export(file)
    with open_store(ctx, embed=True) as p:
        memories = p.import_user(data, progress=sys.stderr.isatty())
    user = data.get("user_id") if isinstance(data, dict) else None
    if json_:
        emit_json({"user_id": user, "imported": len(memories)})
    else:
        console().print(f"imported {len(memories)} memories of {user!r}", markup=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("export", rich_help_panel=PANEL)(export)
    app.command("import", rich_help_panel=PANEL)(import_)
