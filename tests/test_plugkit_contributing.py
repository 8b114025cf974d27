"""CONTRIBUTING.md works as written: its files are written out, the plugin walk-through's
commands run in a fresh virtual environment, the brief plugins pass their own tests, and the
commands for working on ganforge are checked against what CI runs."""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ganforge.plugins import Plugins

from .plugkit_install import ROOT, child_venv

GUIDE = ROOT / "CONTRIBUTING.md"
PART_2 = "## Part 2: working on ganforge itself"
_FENCE = re.compile(r"^```(?P<lang>[\w-]*)(?P<attrs>[^\n]*)\n(?P<body>.*?)^```\s*$", re.M | re.S)


@dataclass
class Block:
    lang: str
    file: str | None
    body: str
    part: int


def blocks() -> list[Block]:
    text = GUIDE.read_text()
    split = text.index(PART_2)
    found = []
    for match in _FENCE.finditer(text):
        attrs = dict(a.split("=", 1) for a in match["attrs"].split() if "=" in a)
        found.append(Block(match["lang"], attrs.get("file"), match["body"], 1 if match.start() < split else 2))
    return found


def commands(part: int) -> list[str]:
    return [line for b in blocks() if b.lang == "bash" and b.part == part for line in b.body.splitlines() if line.strip()]


def write_files(folder: Path) -> set[Path]:
    """Every ``file=`` block written under ``folder``; returns the package folders."""
    packages = set()
    for block in blocks():
        if block.file:
            path = folder / block.file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.body)
            packages.add(folder / Path(block.file).parts[0])
    return packages


def test_every_block_is_exercised() -> None:
    """Code blocks are files (written and tested below), bash commands (run or checked
    below), or plain text (a layout, a sample message) with no language."""
    for block in blocks():
        assert block.file or block.lang in ("bash", ""), f"block neither a file nor a command:\n{block.body}"
    assert len([b for b in blocks() if b.file]) >= 12
    assert commands(1) and commands(2)


def test_plugin_walkthrough_runs_as_written(tmp_path: Path) -> None:
    write_files(tmp_path)
    env = child_venv(tmp_path / "venv")
    script = "set -euo pipefail\n" + "\n".join(b.body for b in blocks() if b.lang == "bash" and b.part == 1)
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert (tmp_path / "ganforge-focal-bce" / "src" / "ganforge_focal_bce" / "plugin.py").is_file()  # `ganforge new-plugin`
    assert re.search(r"3 passed", output), output  # the walk-through's tests, the installed-plugin one included
    assert re.search(r"loss\s+rahinge\s+rahinge\s+Relativistic average hinge loss", output), output  # ganforge list
    assert "margin: float = 1.0" in output
    assert re.search(r"rahinge\s+ganforge-rahinge\s+0\.1\.0\s+loaded\s+loss rahinge", output), output  # ganforge plugins
    assert "finished 3 steps" in output
    assert (tmp_path / "ganforge-rahinge" / "runs" / "smoke" / "metrics.jsonl").is_file()


def test_brief_plugins_pass_their_tests(tmp_path: Path, plugins: Plugins, monkeypatch: pytest.MonkeyPatch) -> None:
    """The generator, wrapper, dataset, metric, extractor, augment and logger sections: each module
    registers its component and its tests (the conformance kit) pass."""
    packages = [p for p in write_files(tmp_path / "guide") if not (p / "pyproject.toml").exists()]
    assert len(packages) == 7
    registered = []
    for package in sorted(packages):
        monkeypatch.syspath_prepend(str(package / "src"))
        monkeypatch.syspath_prepend(str(package / "tests"))
        name = next((package / "src").iterdir()).name
        plugins.register(importlib.import_module(f"{name}.plugin"), name)
        registered += [f"{i.kind} {i.name}" for i in plugins.registry.list() if i.plugin == name]
        for test_file in (package / "tests").glob("test_*.py"):
            module = importlib.import_module(test_file.stem)
            for test_name, test in inspect.getmembers(module, inspect.isfunction):
                if test_name.startswith("test_"):
                    scratch = tmp_path / package.name / test_name
                    scratch.mkdir(parents=True)
                    test(**({"tmp_path": scratch} if "tmp_path" in inspect.signature(test).parameters else {}))
    for module in [m for m in sys.modules if m.split(".")[0] in {"ganforge_upsample", "ganforge_spectral", "ganforge_npz", "ganforge_mmd", "ganforge_randconv", "ganforge_noise",
                                                              "ganforge_events", "test_upsample", "test_spectral", "test_npz", "test_mmd", "test_randconv",
                                                              "test_noise", "test_events"}]:
        del sys.modules[module]
    assert sorted(registered) == [
        "augment instance-noise", "dataset npy-folder", "dataset npz-images", "discriminator spectral-norm", "extractor random-conv",
        "generator upsample", "logger events", "metric pixel-mmd",
    ]  # fmt: skip
    assert not plugins.failures


def test_working_on_ganforge_commands() -> None:
    """Part 2's commands: the install and test commands are the ones CI runs; a marker selection
    names a declared marker that tests use; benchmarks run here with --help and take the options shown."""
    ci = (ROOT / ".ci" / "run").read_text()
    for command in commands(2):
        words = command.split()
        if words[:4] == ["python", "-m", "pip", "install"]:
            assert f'python3 -m pip install --quiet {" ".join(words[4:])}' in ci, command
        elif command in ("python -m ruff check .", "python -m mypy", "python -m mkdocs build --strict"):
            assert f"\npython3 {command[len('python '):]}" in ci, command
        elif command == "lint-imports":
            assert "\nlint-imports" in ci, command
        elif command == "python -m pytest":
            assert "\npython3 -m pytest\n" in ci, command
        elif words[:3] == ["python", "-m", "pytest"] and words[3:5] == ["-m", words[4]]:
            # Collecting the whole suite again from inside it costs half a minute: check the marker instead.
            assert f'"{words[4]}:' in (ROOT / "pyproject.toml").read_text(), f"marker {words[4]} is not declared"
            marked = [p for p in (ROOT / "tests").glob("test_*.py") if f"pytest.mark.{words[4]}" in p.read_text()]
            assert marked, f"no test is marked {words[4]}"
        elif words[0] == "python" and words[1].startswith("bench/"):
            result = subprocess.run([sys.executable, words[1], "--help"], cwd=ROOT, capture_output=True, text=True)
            assert result.returncode == 0, result.stderr
            for option in [w for w in words[2:] if w.startswith("--")]:
                assert option in result.stdout, f"{words[1]} has no {option}"
        else:
            raise AssertionError(f"no check for the command `{command}`; add one here")
