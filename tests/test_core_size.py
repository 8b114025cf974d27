"""bench/core_size.py: code lines counted without comments, blanks and docstrings, and the
trainer kept under issue #10's bar of 300."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("bench_core_size", ROOT / "bench" / "core_size.py")
assert _spec is not None and _spec.loader is not None
core_size = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(core_size)


def test_only_code_counts() -> None:
    source = '''"""A module docstring
over two lines."""
# a comment

import os  # a trailing comment


def f(x: int) -> int:
    """The docstring."""
    return (x +
            1)


class C:
    """Another."""

    value = "not a docstring"
'''
    assert core_size.code_lines(source) == 6  # import, def, return's two lines, class, value


def test_the_core_proper_leaves_out_the_cli_serving_scaffold_and_kit() -> None:
    sizes = core_size.core_sizes()
    assert "training/trainer.py" in sizes and "spec/resolve.py" in sizes
    assert not [name for name in sizes if name.split("/")[0] in ("cli", "serving", "scaffold", "testing")]


def test_the_trainer_stays_under_its_bar() -> None:
    assert core_size.core_sizes()["training/trainer.py"] < core_size.BARS["training/trainer.py"]
