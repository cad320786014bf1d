"""The shape of the code: no import cycles, small modules, a light `import persona` (docs/architecture.md).

The layer order itself is an import-linter contract in pyproject.toml, run by scripts/test.sh (`lint-imports`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 500
HEAVY = ("torch", "faiss", "sentence_transformers", "onnxruntime", "litellm", "llama_cpp", "transformers")


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (or a module importing itself)."""
    modules = sorted(m for m in graph.modules if m == "persona" or m.startswith("persona."))
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & set(modules)) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:  # iterative Tarjan
        nonlocal counter
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            if i < len(edges[node]):
                work.append((node, i + 1))
                nxt = edges[node][i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges[node]:
                    found.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])

    for module in modules:
        if module not in index:
            visit(module)
    return found


def test_there_is_no_import_cycle_in_persona() -> None:
    # Imports inside functions count; only `if TYPE_CHECKING:` blocks are exempt. A package's __init__ is a
    # module of its own, so a submodule importing from the __init__ that re-exports it is a cycle too.
    graph = grimp.build_graph("persona", exclude_type_checking_imports=True)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_cycles() -> None:
    graph = grimp.ImportGraph()
    for name in ("persona", "persona.a", "persona.b", "persona.c"):
        graph.add_module(name)
    graph.add_import(importer="persona.a", imported="persona.b")
    graph.add_import(importer="persona.b", imported="persona.a")
    graph.add_import(importer="persona.c", imported="persona.a")
    assert _cycles(graph) == [["persona.a", "persona.b"]]


@pytest.mark.parametrize("path", sorted((ROOT / "persona").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)} has {lines} lines; split it by what it holds"


def test_import_persona_loads_nothing_heavy_and_exposes_real_types() -> None:
    code = (
        "import sys, persona, typing\n"
        "assert isinstance(persona.Reply, type) and isinstance(persona.RenderedPrompt, type)\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
