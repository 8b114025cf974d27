"""Run directories are never overwritten by accident: refuse, --overwrite, --resume, --resume auto."""

from __future__ import annotations

import json
from pathlib import Path

from ganforge.checkpoint import load_checkpoint

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


def test_a_run_without_a_checkpoint_is_not_offered_resume(tiny_spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    out.mkdir()
    (out / "status.json").write_text(json.dumps({"status": "running", "step": 1, "total_steps": 2}))
    result = run(tiny_spec, out)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: {out} holds a running run (step 1 of 2), no checkpoint; start again with --overwrite, or choose another --out"


def test_overwrite_starts_again_and_removes_the_old_outputs(tiny_spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert run(tiny_spec, out, "--set", "train.steps=4", "--set", "train.log_every=1").exit_code == 0
    mine = [out / "notes.txt", out / "samples/favourite.png", out / "checkpoints/step1000_backup.pt", out / "plots/my_figure.png"]
    for path in mine:
        path.parent.mkdir(exist_ok=True)
        path.write_text("mine")
    (out / "provenance.json").write_text("{}")  # the old run's metrics provenance goes with its log
    result = run(tiny_spec, out, "--overwrite")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()] == [2]
    assert load_checkpoint(out / "checkpoints/last.pt")["step"] == 2
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["favourite.png", "step_0000002.png"]
    assert all(path.read_text() == "mine" for path in mine)  # only the run's own outputs are removed
    assert not (out / "provenance.json").exists()


def test_clear_removes_exactly_the_run_outputs_and_the_folders_it_empties(tmp_path: Path) -> None:
    from ganforge.training.rundir import RunDir

    run_dir = RunDir(tmp_path / "run")
    written = ["spec.yaml", "metrics.jsonl", "status.json", "provenance.json", "samples/epoch_0001.png", "samples/step_0000002.png",
               "checkpoints/last.pt", "checkpoints/best.pt", "checkpoints/.last.pt.x1.tmp", "plots/losses.png", "plots/metric_fid.png",
               "tensorboard/events.out.tfevents.1.host"]  # fmt: skip
    kept = ["README.md", "samples/picked_0001.png", "checkpoints/last.pt.bak", "tensorboard/notes.txt"]
    for name in [*written, *kept]:
        (run_dir.root / name).parent.mkdir(parents=True, exist_ok=True)
        (run_dir.root / name).write_text(name)
    run_dir.clear()
    assert sorted(p.relative_to(run_dir.root).as_posix() for p in run_dir.root.rglob("*") if p.is_file()) == sorted(kept)
    assert sorted(p.name for p in run_dir.root.iterdir() if p.is_dir()) == ["checkpoints", "samples", "tensorboard"]  # plots/ emptied


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


def test_an_out_folder_that_cannot_be_made_is_one_line(tiny_spec: Path, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("mine")
    result = run(tiny_spec, tmp_path / "afile" / "sub")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == f"Error: cannot make the folder {tmp_path / 'afile/sub/samples'}: {tmp_path / 'afile'} is a file"
    assert (tmp_path / "afile").read_text() == "mine"
