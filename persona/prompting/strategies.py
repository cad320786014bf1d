"""Finding and parsing strategy templates.

A strategy is a Jinja2 template file ``<name>.j2``. The built-ins live in ``persona/prompting/templates/``
(shipped in the wheel); a strategy is looked up, first match wins, in the directories passed as
``template_dirs``, ``$PERSONA_TEMPLATES`` (``os.pathsep``-separated), the store's ``templates/`` directory
and the built-ins, or given as the path of a ``.j2`` file. See `persona.prompting.builder` for the header
that declares a strategy's sections and budget shares.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InvalidInputError, TemplateError

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "HEADER",
    "MEMORY_SECTIONS",
    "SECTIONS",
    "Strategy",
    "list_strategies",
    "load_strategy",
    "template_dirs",
]

SECTIONS = ("profile", "retrieved", "recent", "history", "conversation")
MEMORY_SECTIONS = SECTIONS[:4]
HEADER = re.compile(r"\A\s*\{#-?\s*persona\b(?P<body>.*?)-?#\}", re.S)


@dataclass(frozen=True)
class Strategy:
    """A parsed strategy template."""

    name: str
    path: Path
    description: str
    sections: tuple[tuple[str, float], ...]
    options: Mapping[str, str] = field(default_factory=dict)

    def option(self, key: str, default: int) -> int:
        try:
            return max(1, int(self.options.get(key, default)))
        except ValueError:
            return default


# -- finding and parsing templates -----------------------------------------------------------------------------


def _packaged_dir() -> Path:
    return Path(__file__).resolve().parent / "templates"


def template_dirs(extra: Sequence[str | os.PathLike[str]] | None = None) -> tuple[Path, ...]:
    """Where strategies are looked up, first match wins: ``extra``, ``$PERSONA_TEMPLATES``, the built-ins."""
    dirs = [Path(d).expanduser() for d in extra or ()]
    dirs += [Path(d).expanduser() for d in os.environ.get("PERSONA_TEMPLATES", "").split(os.pathsep) if d]
    dirs.append(_packaged_dir())
    return tuple(dict.fromkeys(dirs))


@lru_cache(maxsize=16)
def _environment(search: tuple[Path, ...]) -> jinja2.Environment:
    import jinja2

    from .sandbox import GuardedEnvironment

    return GuardedEnvironment(
        loader=jinja2.FileSystemLoader([str(d) for d in search]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=True,
    )


@lru_cache(maxsize=64)
def _parse_header(name: str, path: Path, source: str) -> Strategy:
    import jinja2
    import jinja2.meta

    match = HEADER.match(source)
    options: dict[str, str] = {}
    for line in (match.group("body") if match else "").splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            options[key.strip()] = value.strip()
    sections: list[tuple[str, float]] = []
    for part in options.pop("sections", "").replace(",", " ").split():
        sec, _, share = part.partition("=")
        try:
            if sec not in SECTIONS:
                raise ValueError(sec)
            sections.append((sec, float(share or 1)))
        except ValueError:
            names = ", ".join(SECTIONS)
            raise InvalidInputError(
                f"strategy {name!r} ({path}): bad section {part!r}; use name=share, names: {names}."
            ) from None
    if not match or not sections:
        from .sandbox import GuardedEnvironment  # its operators are not folded while compiling: 10**10**10

        used = jinja2.meta.find_undeclared_variables(GuardedEnvironment().parse(source))
        sections = [("conversation", 0.25)] + [(s, 1.0) for s in MEMORY_SECTIONS if s in used]
    return Strategy(name, path, options.pop("description", ""), tuple(sections), options)


def _find(strategy: str | os.PathLike[str], dirs: tuple[Path, ...]) -> tuple[str, Path, tuple[Path, ...]]:
    """A name is looked up in ``dirs``; only a path that ends in ``.j2`` is read as a file."""
    if not isinstance(strategy, (str, os.PathLike)):
        raise InvalidInputError(
            f"strategy must be a name like 'hybrid' or the path of a .j2 file, got {type(strategy).__name__}."
        )
    raw = os.fspath(strategy)
    if not isinstance(raw, str) or "\x00" in raw or len(raw) > 4096:
        raise InvalidInputError(f"invalid strategy {raw!r}; use a name like 'hybrid' or a path to a .j2 file.")
    as_path = Path(raw).expanduser()
    if isinstance(strategy, os.PathLike) or raw.endswith(".j2") or os.sep in raw or (os.altsep and os.altsep in raw):
        if as_path.suffix != ".j2":
            raise InvalidInputError(
                f"strategy {raw!r} is neither a strategy name nor a .j2 template file; use a name like "
                f"'hybrid' ({', '.join(sorted(list_strategies(dirs)))}) or the path of a .j2 file."
            )
        try:
            found = as_path.is_file()
        except (OSError, ValueError):
            found = False
        if not found:
            raise InvalidInputError(f"strategy template {raw!r} does not exist; pass a path to a .j2 file.")
        return as_path.stem, as_path.resolve(), (as_path.resolve().parent, *dirs)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", raw):
        raise InvalidInputError(
            f"invalid strategy {raw!r}; use a name like 'hybrid' or a path to a .j2 file."
        )
    for folder in dirs:
        candidate = folder / f"{raw}.j2"
        if candidate.is_file():
            return raw, candidate, dirs
    available = ", ".join(sorted(list_strategies(dirs)))
    raise InvalidInputError(f"unknown strategy {raw!r}; available: {available}. Add one as <dir>/{raw}.j2.")


def load_strategy(
    strategy: str | os.PathLike[str], dirs: Sequence[str | os.PathLike[str]] | None = None
) -> tuple[Strategy, jinja2.Template]:
    """The strategy called ``strategy`` (or the template file at that path) and its compiled template."""
    import jinja2

    search = template_dirs(dirs)
    name, path, search = _find(strategy, search)
    env = _environment(search)
    try:
        template = env.get_template(path.name)  # the first match on the search path: the file found above
        info = _parse_header(name, path, path.read_text(encoding="utf-8"))
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"strategy {name!r} ({path}), line {exc.lineno}: {exc.message}") from exc
    except InvalidInputError:
        raise
    except (jinja2.TemplateError, UnicodeDecodeError, OSError, RecursionError, ValueError, MemoryError) as exc:
        raise TemplateError(f"strategy {name!r} ({path}) cannot be read: {exc}") from exc
    return info, template


def list_strategies(dirs: Sequence[str | os.PathLike[str]] | None = None) -> dict[str, str]:
    """Every strategy that can be named, with its description (a user's template hides a built-in one)."""
    found: dict[str, str] = {}
    for folder in reversed(template_dirs(dirs)):
        for file in sorted(folder.glob("*.j2")) if folder.is_dir() else ():
            if file.stem.startswith("_"):
                continue
            match = HEADER.match(file.read_text(encoding="utf-8"))
            desc = re.search(r"^\s*description:\s*(.+)$", match.group("body"), re.M) if match else None
            found[file.stem] = desc.group(1).strip() if desc else ""
    return dict(sorted(found.items()))
