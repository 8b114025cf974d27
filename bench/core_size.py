"""The size of ganforge's core proper, in code lines, against issue #10's bars.

    python bench/core_size.py [--top N]

The core proper is the ``ganforge`` package without the CLI, serving, scaffold and
conformance kit (``cli/``, ``serving/``, ``scaffold/``, ``testing/``). A code line is a line
holding a token that is not a comment, a blank or part of a docstring (module, class or
function); a statement split over several lines counts every line it spans.
"""

from __future__ import annotations

import argparse
import ast
import io
import tokenize
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "ganforge"
NOT_CORE = ("cli", "serving", "scaffold", "testing")
#: issue #10: the core proper under 3,000 lines, trainer.py under 300.
BARS = {"core": 3000, "training/trainer.py": 300}
_LAYOUT = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)


def code_lines(source: str) -> int:
    """The number of code lines in ``source`` (see the module docstring)."""
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                docstrings.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in _LAYOUT:
            lines.update(n for n in range(token.start[0], token.end[0] + 1) if n not in docstrings)
    return len(lines)


def core_sizes(root: Path = CORE) -> dict[str, int]:
    """Code lines per module of the core proper, keyed by its path below ``root``."""
    return {
        path.relative_to(root).as_posix(): code_lines(path.read_text())
        for path in sorted(root.rglob("*.py"))
        if path.relative_to(root).parts[0] not in NOT_CORE
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=15, help="how many of the largest modules to list")
    args = parser.parse_args()
    sizes = core_sizes()
    for name, count in sorted(sizes.items(), key=lambda item: -item[1])[: args.top]:
        print(f"{count:6d}  {name}")
    total = sum(sizes.values())
    print(f"{total:6d}  core proper, {len(sizes)} modules (bar: under {BARS['core']})")
    print(f"{sizes['training/trainer.py']:6d}  training/trainer.py (bar: under {BARS['training/trainer.py']})")


if __name__ == "__main__":
    main()
