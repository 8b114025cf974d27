"""``ganforge sweep``: the plan (grid x seeds, a spec's sweep: section), errors before any member
starts, the report's statistics against values computed by hand, and (slow) a sweep killed
mid-way and rerun that ends with exactly its members finished, each as its run alone."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from ganforge.plugins import get_plugins
from ganforge.sweep.folder import SweepFolder
from ganforge.sweep.plan import make_plan
from ganforge.sweep.report import build_report, write_report

from .conftest import invoke

#: a tiny mode-collapse benchmark: two MLPs on a ring of 8 Gaussians, R1 on the discriminator.
RING = """\
seed: 0
device: cpu
generator: {name: mlp, latent_dim: 4, hidden: [16]}
discriminator: {name: mlp, hidden: [16], dropout: 0.0}
loss: {name: lsgan}
penalties: [{name: r1, gamma: 1.0}]
data: {name: ring, batch_size: 32, size: 256}
train: {steps: 12, log_every: 4, samples: 64}
logging: {plots: false}
metrics: [{name: mode-coverage, every: 6, num_samples: 200}]
"""
GRID = ("--grid", "loss.name=[lsgan, hinge]", "--grid", "penalties.0.gamma=[1, 10]")


def spec_file(tmp_path: Path, text: str = RING) -> Path:
    path = tmp_path / "ring.yaml"
    path.write_text(text)
    return path


def test_the_plan_is_every_setting_times_every_seed(tmp_path: Path) -> None:
    plan = make_plan(spec_file(tmp_path), ("train.steps=3",), (GRID[1], GRID[3]), "0,1")
    assert [m.overrides for m in plan.members[:3]] == [
        ["loss.name=lsgan", "penalties.0.gamma=1", "seed=0"],
        ["loss.name=lsgan", "penalties.0.gamma=1", "seed=1"],
        ["loss.name=lsgan", "penalties.0.gamma=10", "seed=0"],
    ]
    assert len(plan.members) == 8 and len({m.folder for m in plan.members}) == 8
    assert plan.members[0].folder == "runs/loss.name=lsgan,penalties.0.gamma=1/seed-0"


def test_a_sweep_section_in_the_spec_is_its_grid_and_seeds_and_runs_ignore_it(tmp_path: Path) -> None:
    spec = spec_file(tmp_path, RING + "sweep:\n  grid: {loss.name: [lsgan, hinge]}\n  seeds: [3, 4, 5]\n")
    plan = make_plan(spec, (), (), None)
    assert plan.grid == [("loss.name", ["lsgan", "hinge"])] and plan.seeds == [3, 4, 5] and len(plan.members) == 6
    assert make_plan(spec, (), ("loss.name=[hinge]",), "0").seeds == [0]  # the command line wins
    assert invoke("validate", str(spec)).exit_code == 0
    bad = spec_file(tmp_path, RING + "sweep: {grid: {loss.name: hinge}}\n")
    result = invoke("sweep", str(bad), "--out", str(tmp_path / "sweep"))
    assert result.exit_code == 2 and "expected a non-empty list of values for loss.name" in result.stderr


def test_a_typo_in_a_grid_key_fails_before_any_member_starts(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    result = invoke("sweep", str(spec_file(tmp_path)), "--grid", "loss.nme=[lsgan, hinge]", "--seeds", "0,1", "--out", str(out))
    assert result.exit_code == 2
    ran = invoke("run", str(spec_file(tmp_path)), "--set", "loss.nme=lsgan", "--out", str(tmp_path / "run"))
    assert result.stderr == ran.stderr  # the spec's usual one-line error
    assert result.stderr.strip() == "Error: --set loss.nme=lsgan: loss.nme: unknown parameter 'nme' for loss 'lsgan' (did you mean 'name'?); see `ganforge list loss lsgan --params`"
    assert not out.exists()
    assert "expected a non-empty list" in invoke("sweep", str(spec_file(tmp_path)), "--grid", "loss.name=lsgan").stderr
    assert "--seeds: expected distinct whole numbers" in invoke("sweep", str(spec_file(tmp_path)), "--seeds", "1,1").stderr


def fake_member(folder: SweepFolder, entry: Any, values: list[float], status: str = "finished", provenance: str = "inception") -> None:
    """A member's run directory with mode-coverage's ``modes`` logged at steps 6 and 12 and a loss record."""
    run_dir = folder.run_dir(entry)
    run_dir.root.mkdir(parents=True)
    records = [{"step": 4, "epoch": 0, "loss/d": 0.5, "loss/g": 0.7}, *({"step": 6 * (i + 1), "epoch": 0, "modes": v} for i, v in enumerate(values))]
    run_dir.metrics_path.write_text("".join(json.dumps(r) + "\n" for r in records))
    run_dir.write_status(status, 12, 12)
    run_dir.spec_path.write_text("metrics: [{name: mode-coverage}]\n")
    history = [{"metric": "mode-coverage", "extractor": provenance, "values": ["modes"], "from_step": 6}]
    (run_dir.root / "provenance.json").write_text(json.dumps({"mode-coverage": history}))


def test_the_report_is_mean_and_std_over_seeds_as_computed_by_hand(tmp_path: Path) -> None:
    plan = make_plan(spec_file(tmp_path), (), ("loss.name=[lsgan, hinge]",), "0,1,2")
    folder = SweepFolder(tmp_path / "sweep")
    folder.adopt(plan, None)
    lsgan, hinge = folder.members()[:3], folder.members()[3:]
    # modes at steps 6 and 12 per seed: final = the step-12 value, best = the highest (mode-coverage: higher is better)
    for entry, values in zip(lsgan, ([2.0, 5.0], [4.0, 3.0], [6.0, 7.0])):
        fake_member(folder, entry, values)
    fake_member(folder, hinge[0], [1.0, 2.0])
    fake_member(folder, hinge[1], [3.0, 8.0], provenance="other-weights")
    fake_member(folder, hinge[2], [9.0, 9.0], status="interrupted")  # not in the statistics
    report = build_report(folder, get_plugins().registry)
    assert report.values == ["modes"] and report.higher_is_better == {"modes": True}
    first, second = report.rows
    # lsgan: finals 5, 3, 7 -> mean 5, sample std sqrt(((0)^2 + 2^2 + 2^2) / 2) = 2; bests 5, 4, 7 -> mean 16/3
    assert (first.final["modes"].mean, first.final["modes"].std, first.finished) == (5.0, 2.0, 3)
    assert first.best["modes"].mean == pytest.approx(16 / 3)
    assert first.best["modes"].std == pytest.approx(math.sqrt(((5 - 16 / 3) ** 2 + (4 - 16 / 3) ** 2 + (7 - 16 / 3) ** 2) / 2))
    # hinge: two finished seeds, finals 2 and 8 -> mean 5, std sqrt((3^2 + 3^2) / 1) = 4.243
    assert (second.final["modes"].mean, second.final["modes"].std, second.finished, second.members) == (5.0, pytest.approx(math.sqrt(18)), 2, 3)
    assert not first.flagged and second.flagged
    assert [(f.run, f.metric) for f in report.flags] == [(hinge[1].folder, "mode-coverage")]
    table = report.markdown().splitlines()
    assert table[0] == "| loss.name | seeds | modes final | modes best |"
    assert table[2] == "| lsgan | 3/3 | 5 ± 2 | 5.333 ± 1.5 |"
    assert table[3] == "| hinge ⚠ | 2/3 | 5 ± 4.2 | 5 ± 4.2 |"
    assert report.curves["modes"]["loss.name=lsgan"] == [(6, 4.0), (12, 5.0)]
    written = write_report(folder, report)
    rows = (folder.root / "report.csv").read_text().splitlines()
    assert rows[0] == "loss.name,value,seeds,finished,final_mean,final_std,best_mean,best_std,flagged"
    assert rows[1].startswith("lsgan,modes,3,3,5.0,2.0,5.333333333333333,")
    data = json.loads((folder.root / "report.json").read_text())
    assert data["rows"][1]["final"]["modes"] == {"mean": 5.0, "std": pytest.approx(math.sqrt(18)), "n": 2}
    if (folder.root / "plots" / "modes.png").exists():
        assert folder.root / "plots" / "modes.png" in written
    printed = invoke("sweep", "report", str(folder.root), "--format", "csv")
    assert printed.exit_code == 0 and printed.stdout.splitlines() == rows


def test_a_folder_holding_another_sweep_is_refused(tmp_path: Path) -> None:
    spec = spec_file(tmp_path)
    folder = SweepFolder(tmp_path / "sweep")
    folder.adopt(make_plan(spec, (), ("loss.name=[lsgan, hinge]",), "0"), None)
    result = invoke("sweep", str(spec), "--grid", "loss.name=[lsgan]", "--seeds", "0", "--out", str(folder.root))
    assert result.exit_code == 2 and "holds another sweep (grid differ from this command's)" in result.stderr
    with folder.lock():
        busy = invoke("sweep", str(spec), "--grid", "loss.name=[lsgan, hinge]", "--seeds", "0", "--out", str(folder.root))
    assert busy.exit_code == 2 and "another ganforge sweep is running in" in busy.stderr
    assert "is it a sweep folder" in invoke("sweep", "report", str(tmp_path)).stderr


def starts(log: Path) -> int:
    """How many times a member's process started training (its run-directory line)."""
    return log.read_text().count("run directory:") if log.exists() else 0


@pytest.mark.slow
def test_a_sweep_killed_midway_and_rerun_ends_with_every_member_finished_once_as_alone(tmp_path: Path) -> None:
    """2 x 2 settings x 2 seeds, two members at a time, one thread each; SIGTERM once two have
    finished and a third has a checkpoint; the same command again finishes the rest. Each member's
    metrics.jsonl and weights equal those of the same run started alone with one thread."""
    spec = spec_file(tmp_path, RING.replace("steps: 12", "steps: 300").replace("every: 6", "every: 100") + "\n")
    out = tmp_path / "sweep"
    command = [sys.executable, "-m", "ganforge", "sweep", str(spec), *GRID, "--seeds", "0,1", "--jobs", "2", "--threads", "1", "--out", str(out),
               "--set", "train.checkpoint_every=25"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    first = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    folder = SweepFolder(out)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.2)
        if not folder.manifest_path.exists():
            continue
        states = [folder.status(e) for e in folder.members()]
        checkpointed = [e for e in folder.members() if folder.status(e) == "running" and folder.run_dir(e).last_checkpoint.exists()]
        if states.count("finished") >= 2 and checkpointed:
            first.send_signal(signal.SIGTERM)
            break
    _, said = first.communicate(timeout=300)
    assert first.returncode == 130, said
    assert "sweep stopped; continue it with the same command" in said
    states = {e.folder: folder.status(e) for e in folder.members()}
    assert 2 <= list(states.values()).count("finished") < 8 and "interrupted" in states.values(), states
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr
    members = folder.members()
    assert len(members) == 8 and all(folder.status(e) == "finished" for e in members)
    for entry in members:  # started once, or once and resumed once: never trained from scratch twice
        log = starts(folder.log_path(entry))
        assert log == (1 if states[entry.folder] == "finished" else 2 if states[entry.folder] == "interrupted" else log), (entry.folder, log)
        assert "finished" not in states[entry.folder] or f"started {entry.label} seed={entry.seed}" not in again.stderr
    torch.set_num_threads(1)
    for entry in members:
        alone = tmp_path / "alone" / entry.folder
        result = invoke("run", str(spec), *(a for o in ["train.checkpoint_every=25", *entry.overrides] for a in ("--set", o)), "--out", str(alone), "--quiet")
        assert result.exit_code == 0, result.output
        swept = folder.run_dir(entry)
        assert (swept.metrics_path.read_text() == (alone / "metrics.jsonl").read_text()), entry.folder
        mine, theirs = torch.load(swept.last_checkpoint, weights_only=False), torch.load(alone / "checkpoints" / "last.pt", weights_only=False)
        for key, value in mine["generator"].items():
            assert torch.equal(value, theirs["generator"][key]), (entry.folder, key)
    assert "| lsgan | 1 | 2/2 |" in again.stdout  # the report at the end


def test_each_member_is_an_ordinary_run_told_its_thread_count(tmp_path: Path) -> None:
    from ganforge.sweep.folder import MemberEntry
    from ganforge.sweep.runner import member_command, threads_per_member

    plan = make_plan(spec_file(tmp_path), ("train.steps=3",), ("loss.name=[lsgan, hinge]",), "7")
    entry = MemberEntry.of(plan.members[1])
    command = member_command(plan.spec, plan.overrides, entry, tmp_path / "sweep", 2)
    assert command[1:] == ["-m", "ganforge", "run", str(plan.spec), "--set", "train.steps=3", "--set", "loss.name=hinge", "--set", "seed=7",
                           "--out", str(tmp_path / "sweep" / "runs/loss.name=hinge/seed-7"), "--quiet", "--resume", "auto", "--nproc", "2"]  # fmt: skip
    cores = len(os.sched_getaffinity(0))
    assert threads_per_member(1, None) == cores and threads_per_member(2, 2) == max(1, cores // 4)


def test_a_sweep_over_seeds_alone_reports_the_spec_as_its_setting(tmp_path: Path) -> None:
    folder = SweepFolder(tmp_path / "sweep")
    folder.adopt(make_plan(spec_file(tmp_path), (), (), "0,1"), None)
    for entry, values in zip(folder.members(), ([1.0, 2.0], [3.0, 4.0])):
        fake_member(folder, entry, values)
    table = build_report(folder, get_plugins().registry).markdown().splitlines()
    assert table[0] == "| setting | seeds | modes final | modes best |"
    assert table[2] == f"| (the spec) | 2/2 | 3 ± {math.sqrt(2):.2g} | 3 ± {math.sqrt(2):.2g} |"
