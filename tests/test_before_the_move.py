"""What ganforge wrote before the built-ins were grouped by family and the core became a one-way
stack still works: a run directory made by commit 12c69f4 (the last before the move; the spec it
trained is tests/data/before-the-move/written.yaml) samples, validates and resumes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ganforge.checkpoint import load_checkpoint

from .conftest import invoke

BEFORE = Path(__file__).parent / "data" / "before-the-move"


def copy_of_the_run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(BEFORE, run)
    return run


def test_its_checkpoint_loads_and_its_spec_validates() -> None:
    state = load_checkpoint(BEFORE / "checkpoints" / "last.pt")
    assert state["step"] == 4 and "generator" in state
    assert invoke("validate", str(BEFORE / "spec.yaml")).exit_code == 0
    assert invoke("validate", str(BEFORE / "written.yaml")).exit_code == 0


def test_it_samples(tmp_path: Path) -> None:
    result = invoke("sample", str(copy_of_the_run(tmp_path)), "--n", "4", "--out", str(tmp_path / "grid.png"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_it_resumes(tmp_path: Path) -> None:
    run = copy_of_the_run(tmp_path)
    result = invoke("run", str(run / "spec.yaml"), "--out", str(run), "--resume", "--set", "train.steps=6", "--quiet")
    assert result.exit_code == 0, result.output
    assert json.loads((run / "status.json").read_text())["step"] == 6
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines() if "loss/g" in line]
    assert steps == [2, 4, 6]
