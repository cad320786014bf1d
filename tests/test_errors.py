"""One error tree: every class in persona.errors is a PersonaError, exported from persona and drawn in the tree."""

from __future__ import annotations

import re
from pathlib import Path

import persona
import persona.errors

ROOT = Path(__file__).resolve().parents[1] / "persona"


def test_every_error_is_in_the_tree_and_exported() -> None:
    tree = persona.errors.__doc__ or ""
    for name in persona.errors.__all__:
        cls = getattr(persona.errors, name)
        assert issubclass(cls, persona.PersonaError), name
        assert getattr(persona, name) is cls and name in persona.__all__, name
        assert re.search(rf"\b{name}\b", tree), f"{name} is not drawn in persona.errors' docstring"
    defined = {n for n, v in vars(persona.errors).items() if isinstance(v, type) and issubclass(v, Exception)}
    assert defined == set(persona.errors.__all__)


def test_no_error_class_is_defined_outside_errors_py_and_no_bare_root_is_raised() -> None:
    for path in [*ROOT.rglob("*.py"), *(ROOT.parent / "eval").glob("*.py")]:
        source = path.read_text(encoding="utf-8")
        assert "raise PersonaError(" not in source, path
        if path.name != "errors.py" and path.parent.name != "eval":
            found = re.findall(r"^class (\w+)\((?:[\w.]*Error|PersonaError|Exception)\b", source, re.M)
            assert not found, f"{path}: define {found} in persona/errors.py"
