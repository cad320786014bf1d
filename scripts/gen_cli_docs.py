"""Write docs/cli.md from the CLI's --help; with --check, exit 1 when the file is stale instead.

Usage: python scripts/gen_cli_docs.py [--check]
"""

from __future__ import annotations

import sys

from persona.cli import app
from persona.cli._docs import reference, reference_path


def main(argv: list[str]) -> int:
    path = reference_path()
    text = reference(app)
    if "--check" in argv:
        if not path.exists() or path.read_text("utf-8") != text:
            print(f"{path} is stale; regenerate it with: python scripts/gen_cli_docs.py", file=sys.stderr)
            return 1
        return 0
    path.write_text(text, "utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
