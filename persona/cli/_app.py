"""The `persona` Typer app: global options, opening the store, and the error boundary.

Commands live in the sibling modules; each has a ``register(app)`` that adds its commands (see
``persona/cli/__init__.py``). A command opens the store with `open_store`, calls one `Persona` method and
prints the result. Every exception a command raises is turned into one line on stderr and exit code 1 here,
in `PersonaGroup.invoke`, unless ``--debug`` asks for the traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from persona import Persona, __version__
from persona.backends.base import Embedder

if TYPE_CHECKING:
    from typer import _click  # Typer's bundled Click, for the type of invoke's context

__all__ = [
    "EMBEDDER_ENV",
    "FAKE_EMBEDDER",
    "PersonaGroup",
    "State",
    "app",
    "embedder_spec",
    "one_line",
    "open_store",
    "state_of",
]

EMBEDDER_ENV = "PERSONA_EMBEDDER"
FAKE_EMBEDDER = "fake"
"""``--embedder fake`` (or ``PERSONA_EMBEDDER=fake``): the deterministic `persona.testing.FakeEmbedder`, for tests."""


@dataclass
class State:
    """What the global options chose; commands read it through `state_of`."""

    store: str | None = None
    embedder: str | None = None
    debug: bool = False


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line; unexpected exceptions also name their type."""
    from persona import PersonaError

    from ._output import escape_controls

    message = escape_controls(" ".join(str(exc).split())) or type(exc).__name__
    if isinstance(exc, (PersonaError, OSError)):
        return message
    return f"{type(exc).__name__}: {message} (run with --debug for the traceback)"


class PersonaGroup(TyperGroup):
    """The command group; its ``invoke`` is the CLI's only error boundary."""

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        """Refuse arguments that are not valid UTF-8 (Python passes their bytes as lone surrogates)."""
        argv = sys.argv[1:] if args is None else list(args)
        for i, arg in enumerate(argv, 1):
            if isinstance(arg, str):
                try:
                    arg.encode("utf-8")
                except UnicodeEncodeError:
                    shown = arg.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
                    typer.echo(
                        f"Error: argument {i} ({shown}) is not valid UTF-8 text; pass UTF-8 (check the "
                        "terminal's encoding or LANG, e.g. LANG=C.UTF-8).",
                        err=True,
                    )
                    sys.exit(2)
        return super().main(args, *rest, **kwargs)

    def invoke(self, ctx: _click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # usage errors, --help, confirmations: Typer already prints these well
        except BrokenPipeError:
            _silence_stdout()  # the reader went away (persona list alice --json | head): not an error
            raise typer.Exit(1) from None
        except Exception as exc:
            state = ctx.obj if isinstance(ctx.obj, State) else None
            if state is not None and state.debug:
                raise
            typer.echo(f"Error: {one_line(exc)}", err=True)
            raise typer.Exit(1) from None


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that Python's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


app = typer.Typer(
    name="persona",
    cls=PersonaGroup,
    rich_markup_mode="markdown",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"persona {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            metavar="STORE",
            show_default=False,
            help="The store: a directory, or a PostgreSQL DSN (postgresql://user:password@host/db). Default: "
            "$PERSONA_HOME, else the platform's user data directory (e.g. ~/.local/share/persona). "
            "Example: --store ./memories",
        ),
    ] = None,
    embedder: Annotated[
        str | None,
        typer.Option(
            "--embedder",
            metavar="NAME",
            envvar=EMBEDDER_ENV,
            show_default=False,
            help="Embedder for commands that embed text (add, edit, search, import, prompt, chat, doctor, "
            "reindex): a sentence-transformers model name or path. Default: the one the store was built "
            f"with, else all-MiniLM-L6-v2. '{FAKE_EMBEDDER}' selects a deterministic fake, for tests. "
            "Example: --embedder sentence-transformers/all-mpnet-base-v2",
        ),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback when a command fails. Example: --debug")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Print the version and exit. Example: --version",
        ),
    ] = False,
) -> None:
    """Personalize LLMs in context from a per-user memory store.

    Every command works on one store (see --store). Commands that print data take --json for scripts.

    Example: persona add alice "I am allergic to peanuts" --kind fact
    """
    ctx.obj = State(store=store, embedder=embedder, debug=debug)


def state_of(ctx: typer.Context) -> State:
    """The global options of this invocation."""
    return ctx.find_object(State) or State()


def embedder_spec(name: str | None) -> Embedder | str | None:
    """What to pass as ``Persona(embedder=...)`` for ``--embedder NAME``: None keeps the store's own."""
    if name is None or not name.strip():
        return None
    if name.strip() == FAKE_EMBEDDER:
        from persona.testing import FakeEmbedder

        return FakeEmbedder()
    return os.path.expanduser(name.strip()) if name.strip().startswith("~") else name.strip()


@contextmanager
def open_store(
    ctx: typer.Context, *, embed: bool = False, embedder: Embedder | None = None, reembed: bool = False
) -> Iterator[Persona]:
    """Open the store chosen by the global options.

    ``embed=True`` applies ``--embedder`` (commands that embed text); ``embedder`` overrides it.
    """
    state = state_of(ctx)
    spec = embedder if embedder is not None else embedder_spec(state.embedder) if embed else None
    with Persona(state.store, embedder=spec, reembed=reembed) as persona:
        yield persona
