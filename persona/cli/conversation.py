"""Commands that talk to a model with a user's memories: prompt (render only) and chat (interactive)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

import typer
from rich import box
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from persona.backends.llm import check_model
from persona.errors import PersonaError
from persona.prompting.builder import resolve_model
from persona.validation import check_user_id

from ._app import one_line, open_store
from ._output import JsonFlag, console, emit_json, escape_controls, parse_pairs, safe_text

__all__ = ["register"]

PANEL = "Prompting"

User = Annotated[
    str,
    typer.Argument(metavar="USER", help="The user whose memories to use. Example: alice", show_default=False),
]
STRATEGIES = ("full", "hybrid", "none", "profile", "recent", "retrieved")
"""The built-in strategies, named in the help (a test keeps this in step with persona.prompting)."""

Strategy = Annotated[
    str,
    typer.Option(
        "--strategy",
        "-s",
        help=f"How memories go into the prompt: {', '.join(STRATEGIES)}, auto (the bandit "
        "chooses; see persona policy), or the path of a template file. "
        "Example: --strategy profile",
    ),
]
Model = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        show_default=False,
        help="The model: any litellm model name, or local/smollm2 (bundled, offline). Default: $PERSONA_MODEL, "
        "else local/smollm2. "
        "Example: -m gpt-4o-mini",
    ),
]


def _print_prompt(data: Mapping[str, Any]) -> None:
    out = console()
    for message in data.get("messages", []):
        out.print(
            Panel(
                safe_text(message.get("content", "")), title=str(message.get("role", "")), title_align="left"
            )
        )
    table = Table(title="tokens", box=box.SIMPLE_HEAD)
    table.add_column("section")
    table.add_column("tokens", justify="right")
    for name, value in (data.get("section_tokens") or {}).items():
        table.add_row(str(name), str(value))
    budget = f" of {data['budget']}" if data.get("budget") else ""
    table.add_row(Text("total", style="bold"), f"{data.get('tokens', '')}{budget}")
    out.print(table)
    used = data.get("memory_ids") or []
    out.print(Text(f"memories in the prompt ({len(used)}): " + (", ".join(map(str, used)) or "none")))
    left = data.get("left_out") or {}
    for section, ids in left.items() if isinstance(left, Mapping) else [("", left)]:
        if ids:
            where = f" from {section}" if section else ""
            out.print(
                Text(
                    f"left out{where} to fit the budget ({len(ids)}): " + ", ".join(map(str, ids)),
                    style="dim",
                )
            )


def prompt(
    ctx: typer.Context,
    user: User,
    message: Annotated[
        str,
        typer.Argument(
            metavar="MESSAGE", help="The user's message. Example: 'plan my dinner'", show_default=False
        ),
    ],
    strategy: Strategy = "hybrid",
    model: Model = None,
    budget: Annotated[
        int | None,
        typer.Option(
            "--budget",
            min=1,
            show_default=False,
            help="Most tokens the prompt may use. Example: --budget 2000",
        ),
    ] = None,
    json: JsonFlag = False,
) -> None:
    """Show the prompt persona would send: the messages, tokens per section and which memories went in.

    Nothing is sent to a model. JSON: {"strategy", "model", "tokenizer", "tokens", "budget", "section_tokens":
    {section: tokens}, "memory_ids": [ids in the prompt], "left_out": {section: [ids that did not fit]},
    "left_out_messages", "messages": [{"role", "content"}]}.

    Example: persona prompt alice "what should I cook tonight?" --strategy hybrid --budget 2000
    """
    with open_store(ctx, embed=True) as p:
        rendered = p.prompt(user, message, strategy=strategy, model=model, max_prompt_tokens=budget)
    data: dict[str, Any] = rendered.to_dict()
    if json:
        emit_json(data)
    else:
        _print_prompt(data)


def _print_turn_note(reply: Any) -> None:
    """A dim line after each reply: how many memories it used, and whether the turn is being learned."""
    if reply is None:
        return
    used = len(getattr(reply, "memory_ids", []) or [])
    learning = "; learning from this turn" if getattr(reply, "learned", False) else ""
    console().print(Text(f"({used} memories used{learning})", style="dim"))


def chat(
    ctx: typer.Context,
    user: User,
    model: Model = None,
    strategy: Strategy = "hybrid",
    learn: Annotated[
        bool,
        typer.Option(
            "--learn/--no-learn", help="Remember new facts from the conversation. Example: --no-learn"
        ),
    ] = True,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            "-o",
            metavar="KEY=VALUE",
            show_default=False,
            help="An option for the model call, repeatable; JSON values are parsed. Example: -o temperature=0.2",
        ),
    ] = None,
) -> None:
    """Chat with a model that knows the user's memories; replies stream as they are written.

    Each turn puts the relevant memories and the conversation so far into the prompt and, unless --no-learn,
    learns from the turn in the background (what the user says about themselves becomes memories). Type /exit
    (or press Ctrl-D) to leave; Ctrl-C stops a reply. The exit status is 1 when a turn failed.

    Example: persona chat alice -m local/smollm2
    """
    options = parse_pairs(option or [], what="--option", typed=True)
    out = console()
    history: list[dict[str, str]] = []
    failed = False
    with open_store(ctx, embed=True) as p:
        check_user_id(user)  # fail before the session starts, not on every turn
        check_model(resolve_model(model, p.model))
        send = p.chat
        out.print(Text(f"chatting as {user!r}; /exit or Ctrl-D to leave, Ctrl-C stops a reply", style="dim"))
        while True:
            try:
                message = out.input("[bold green]you>[/] ").strip()
            except (EOFError, KeyboardInterrupt):
                out.print()
                break
            if message in ("/exit", "/quit"):
                break
            if message:
                reply, ok = _turn(
                    send, user, message, history, model=model, strategy=strategy, learn=learn, **options
                )
                failed = failed or not ok
                if reply is not None:
                    history += [{"role": "user", "content": message}, {"role": "assistant", "content": reply}]
    if failed:
        raise typer.Exit(1)


def _turn(
    send: Callable[..., Any], user: str, message: str, history: list[dict[str, str]], **kwargs: Any
) -> tuple[str | None, bool]:
    """One streamed reply: its text (None when it failed or was interrupted; the session goes on), and
    False when it failed."""
    console().print("[bold blue]persona>[/] ", end="")
    stream = None
    try:
        stream = send(user, message, stream=True, history=list(history), **kwargs)
        for chunk in stream:
            typer.echo(escape_controls(chunk), nl=False)
    except KeyboardInterrupt:
        typer.echo("\n(interrupted)")
        close = getattr(stream, "close", None)
        if callable(close):
            close()
        return None, True
    except PersonaError as exc:
        typer.echo()
        typer.echo(f"Error: {one_line(exc)}", err=True)
        return None, False
    typer.echo()
    reply = getattr(stream, "reply", None)
    _print_turn_note(reply)
    return (str(getattr(reply, "text", "")) if reply is not None else None), True


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("prompt", rich_help_panel=PANEL)(prompt)
    app.command("chat", rich_help_panel=PANEL)(chat)
