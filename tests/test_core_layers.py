"""The core is a one-way stack (import-linter's contract in pyproject.toml), and no import of a
ganforge module hides inside a function to dodge a cycle."""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: the only function-local imports of ganforge modules left in the core, each for a reason given
#: in a comment on its line: module -> imported modules.
ALLOWED_LOCAL = {
    "ganforge": {"ganforge.interfaces"},  # the interfaces (and torch) load on first use of one
    "ganforge.cli.run": {"ganforge.cli.plot_observer"},  # matplotlib loads only when used (the tensorboard logger is a plugin)
}


def local_imports(package: Path = ROOT / "ganforge") -> dict[str, set[str]]:
    """Module -> the ganforge modules it imports inside a function."""
    found: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(path.read_text())
        for function in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            for node in ast.walk(function):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                for name in names:
                    if name.startswith("ganforge"):
                        found.setdefault(module, set()).add(name)
    return found


def test_no_function_local_imports_of_ganforge_beyond_the_named_ones() -> None:
    assert local_imports() == ALLOWED_LOCAL


def test_the_scan_finds_a_function_local_import(tmp_path: Path) -> None:
    package = tmp_path / "ganforge"
    package.mkdir()
    (package / "sneaky.py").write_text("def f():\n    from ganforge.training import trainer\n    return trainer\n")
    assert local_imports(package) == {"ganforge.sneaky": {"ganforge.training"}}

@pytest.mark.skipif(shutil.which("lint-imports") is None, reason="import-linter is not installed (pip install -e '.[test]')")
def test_the_stack_is_one_way() -> None:
    result = subprocess.run(["lint-imports"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "one-way stack KEPT" in result.stdout


def test_layers_cover_every_core_module() -> None:
    """A new core module must be given its layer, or the contract would not check it."""
    text = (ROOT / "pyproject.toml").read_text()
    layers = text[text.index('name = "one-way stack"'):]
    named = {m.strip().strip('",') for line in layers.splitlines() if line.strip().startswith('"ganforge') for m in line.split(":")}
    modules = {p.name.removesuffix(".py") for p in (ROOT / "ganforge").iterdir() if (p.suffix == ".py" and p.name != "__init__.py") or (p.is_dir() and (p / "__init__.py").exists())}
    assert modules - {m.removeprefix("ganforge.") for m in named} == set(), "give each core module a layer in pyproject.toml's one-way stack"
