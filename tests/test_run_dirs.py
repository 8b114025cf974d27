"""Run directories are never overwritten by accident: refuse, --overwrite, --resume, --resume auto."""

from __future__ import annotations

import json
from pathlib import Path

from ganforge.training.checkpoint import load_checkpoint

from .conftest import invoke


def run(spec: Path, out: Path, *extra: str):  # type: ignore[no-untyped-def]
    return invoke("run", str(spec), "--out", str(out), "--quiet", "--set", "train.steps=2", *extra)


def test_a_run_directory_holding_a_run_is_refused_in_one_line(tiny_spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert run(tiny_spec, out).exit_code == 0
    before = (out / "metrics.jsonl").read_text(), (out / "checkpoints/last.pt").read_bytes()
    result = run(tiny_spec, out)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"Error: {out} holds a finished run (step 2 of 2), with a checkpoint; continue it with --resume, "
        "start again with --overwrite, or choose another --out"
    )
    assert ((out / "metrics.jsonl").read_text(), (out / "checkpoints/last.pt").read_bytes()) == before


def test_overwrite_starts_again_and_removes_the_old_outputs(tiny_spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert run(tiny_spec, out, "--set", "train.steps=4", "--set", "train.log_every=1").exit_code == 0
    (out / "notes.txt").write_text("mine")
    result = run(tiny_spec, out, "--overwrite")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()] == [2]
    assert load_checkpoint(out / "checkpoints/last.pt")["step"] == 2
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_0000002.png"]
    assert (out / "notes.txt").read_text() == "mine"  # only the run's own outputs are removed


def test_resume_auto_resumes_when_there_is_a_checkpoint(tiny_spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert run(tiny_spec, out).exit_code == 0
    result = run(tiny_spec, out, "--set", "train.steps=3", "--resume", "auto")
    assert result.exit_code == 0, result.output
    assert load_checkpoint(out / "checkpoints/last.pt")["step"] == 3
    assert "finished 1 steps" in result.stderr


def test_resume_auto_starts_when_there_is_nothing_to_resume(tiny_spec: Path, tmp_path: Path) -> None:
    fresh = run(tiny_spec, tmp_path / "fresh", "--resume", "auto")
    assert fresh.exit_code == 0, fresh.output
    # killed before its first checkpoint: a status and a metrics line, no checkpoint
    out = tmp_path / "killed"
    out.mkdir()
    (out / "status.json").write_text(json.dumps({"status": "running", "step": 1, "total_steps": 2}))
    (out / "metrics.jsonl").write_text('{"step": 1, "loss/d": 1.0}\n{"step": 2, "lo')
    result = run(tiny_spec, out, "--resume", "auto")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()] == [2]
    assert json.loads((out / "status.json").read_text())["status"] == "finished"


def test_resume_without_a_checkpoint_names_resume_auto(tiny_spec: Path, tmp_path: Path) -> None:
    result = run(tiny_spec, tmp_path / "nothing", "--resume")
    assert result.exit_code == 2
    assert "no checkpoint at" in result.stderr and "--resume auto" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_resume_and_overwrite_together_and_bad_resume_values_are_refused(tiny_spec: Path, tmp_path: Path) -> None:
    both = run(tiny_spec, tmp_path / "r", "--resume", "--overwrite")
    assert both.exit_code == 2 and "contradict" in both.stderr
    bad = run(tiny_spec, tmp_path / "r", "--resume", "sometimes")
    assert bad.exit_code == 2 and "takes no value or 'auto'" in bad.stderr
