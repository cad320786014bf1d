"""Commands for privacy: what the store keeps (retention), what a user agreed to (consent), and who saw what
about them (disclosures)."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.table import Table

from persona import Persona, RetentionPolicy

from ._app import open_store, state_of
from ._output import JsonFlag, console, emit_json, parse_when, safe_text, short_time

__all__ = ["RETENTION_ENV", "register"]

PANEL = "Privacy"
RETENTION_ENV = "PERSONA_RETENTION"
"""The store's retention policy for ``persona retention`` and ``persona serve``: ``episode=365d,reply=30d``."""

User = Annotated[str, typer.Argument(metavar="USER", help="The user. Example: alice", show_default=False)]


def policy_from(keep: list[str] | None) -> RetentionPolicy:
    """``--keep KIND=DURATION`` options, else ``$PERSONA_RETENTION``, else no policy."""
    if keep:
        return RetentionPolicy.of(",".join(keep))
    return RetentionPolicy.of(os.environ.get(RETENTION_ENV) or None)


def retention(
    ctx: typer.Context,
    keep: Annotated[
        list[str] | None,
        typer.Option(
            "--keep",
            metavar="KIND=DURATION",
            show_default=False,
            help="A time to live: KIND is fact, preference, episode, profile, reply (replies and their feedback) "
            f"or disclosure; DURATION like 365d, 12h, 2w. Repeatable. Default: ${RETENTION_ENV} "
            "(episode=365d,reply=30d). Example: --keep episode=365d --keep reply=30d",
        ),
    ] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="Erase what expired (default: only show it). Example: --apply")
    ] = False,
    json: JsonFlag = False,
) -> None:
    """Show the retention policy and what a sweep would erase; with --apply, erase it.

    Users' own times to live (persona consent) apply over the policy. Erasing leaves no text behind, as
    persona rm does.

    JSON: {"policy": {kind: duration}, "sweep": {"at", "dry_run", "total", "by_kind": {kind: n},
    "erased": {user: {kind: n}}, "seconds"}}.

    Example: persona retention --keep episode=365d --keep reply=30d --apply
    """
    policy = policy_from(keep)
    state = state_of(ctx)
    with Persona(state.store, retention=policy, sweep_on_open=False) as p:
        result = p.sweep(dry_run=not apply)
    if json:
        emit_json({"policy": policy.to_dict(), "sweep": result.to_dict()})
        return
    out = console()
    if policy:
        out.print("policy: " + ", ".join(f"{k} {v}" for k, v in policy.to_dict().items()), markup=False)
    else:
        out.print(f"no store policy (pass --keep KIND=DURATION or set ${RETENTION_ENV}); users' own apply", markup=False)
    verb = "would erase" if result.dry_run else "erased"
    if not result.total:
        out.print(f"nothing expired ({result.seconds * 1000:.1f} ms)", markup=False)
        return
    table = Table("user", "kind", verb)
    for user, kinds in sorted(result.erased.items()):
        for kind, count in sorted(kinds.items()):
            table.add_row(safe_text(user), kind, str(count))
    out.print(table)
    if result.dry_run:
        out.print("run again with --apply to erase them", style="dim")


def _switch(value: str | None, what: str) -> bool | None:
    if value is None:
        return None
    if value.lower() in ("on", "yes", "true"):
        return True
    if value.lower() in ("off", "no", "false"):
        return False
    raise typer.BadParameter(f"{what} must be on or off, got {value!r}.")



def consent(
    ctx: typer.Context,
    user: User,
    learning: Annotated[
        str | None,
        typer.Option(
            metavar="on|off",
            show_default=False,
            help="Learn from the user's chat turns (off: chat stores nothing). Example: --learning off",
        ),
    ] = None,
    personalization: Annotated[
        str | None,
        typer.Option(
            metavar="on|off",
            show_default=False,
            help="Put the user's memories in their prompts (off: none, whatever the strategy). "
            "Example: --personalization off",
        ),
    ] = None,
    keep: Annotated[
        list[str] | None,
        typer.Option(
            "--keep",
            metavar="KIND=DURATION",
            show_default=False,
            help="The user's own time to live for a kind (DURATION like 30d, or forever), over the store's "
            "policy. Repeatable; replaces the user's earlier ones. Example: --keep episode=30d",
        ),
    ] = None,
    json: JsonFlag = False,
) -> None:
    """Show a user's consent, or change it with --learning, --personalization or --keep.

    JSON: {"user_id", "learning": bool, "personalization": bool, "retention": {kind: duration},
    "updated_at": ISO time or null (never set)}.

    Example: persona consent alice --learning off --personalization on
    """
    flags = (_switch(learning, "--learning"), _switch(personalization, "--personalization"))
    own: dict[str, str] | None = None
    if keep:
        own = {}
        for item in keep:
            kind, sep, duration = item.partition("=")
            if not sep:
                raise typer.BadParameter(f"--keep must look like KIND=DURATION, got {item!r}.")
            own[kind.strip()] = duration.strip()
    with open_store(ctx) as p:
        if flags == (None, None) and own is None:
            found = p.consent(user)
        else:
            found = p.set_consent(user, learning=flags[0], personalization=flags[1], retention=own)
    if json:
        emit_json(found.to_dict())
        return
    data = found.to_dict()
    table = Table("user", "learning", "personalization", "retention", "updated")
    table.add_row(
        safe_text(found.user_id),
        "on" if found.learning else "off",
        "on" if found.personalization else "off",
        ", ".join(f"{k} {v}" for k, v in data["retention"].items()) or "store policy",
        short_time(found.updated_at) or "never set",
    )
    console().print(table)


def disclosures(
    ctx: typer.Context,
    user: User,
    since: Annotated[
        str | None,
        typer.Option(metavar="WHEN", show_default=False, help="Only from this time (ISO 8601, or 7d ago). Example: --since 30d"),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(metavar="WHEN", show_default=False, help="Only before this time. Example: --until 2024-06-01"),
    ] = None,
    limit: Annotated[int | None, typer.Option(show_default=False, help="At most this many. Example: --limit 20")] = None,
    json: JsonFlag = False,
) -> None:
    """List which of a user's memories went to which model and provider, when, for which reply; newest first.

    Every prompt that carried memories is recorded (persona prompt, chat, the service's proxy).

    JSON: an array of {"user_id", "at", "model", "provider", "memory_ids": [ids], "reply_id": id or null}.

    Example: persona disclosures alice --since 30d --json
    """
    with open_store(ctx) as p:
        found = p.disclosures(
            user,
            since=None if since is None else parse_when(since),
            until=None if until is None else parse_when(until),
            limit=limit,
        )
    if json:
        emit_json([d.to_dict() for d in found])
        return
    out = console()
    if not found:
        out.print(f"no disclosures for {user!r}", markup=False, style="dim")
        return
    table = Table("at", "model", "provider", "memories", "reply")
    for d in found:
        table.add_row(
            short_time(d.at), safe_text(d.model), safe_text(d.provider), safe_text(" ".join(d.memory_ids)), d.reply_id or ""
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    for name, command in (("retention", retention), ("consent", consent), ("disclosures", disclosures)):
        app.command(name, rich_help_panel=PANEL)(command)
