"""Fault suite, hard kills: a real `ganforge run` process killed with SIGKILL at random steps
(checkpoints may be mid-write), then `--resume auto`: bit-identical final weights to a run never
interrupted; killed before its first checkpoint, `--resume auto` starts cleanly."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ganforge.checkpoint import load_checkpoint

from .conftest import invoke
from .test_training import assert_same_weights

STEPS = 12
FLAGS = ["--set", f"train.steps={STEPS}", "--set", "train.log_every=1", "--set", "train.checkpoint_every=2"]


def start(spec: Path, out: Path, *flags: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}  # the in-process runs use one thread too
    args = [sys.executable, "-m", "ganforge", "run", str(spec), "--out", str(out), "--quiet", *flags]
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def logged_steps(out: Path) -> list[int]:
    try:
        lines = (out / "metrics.jsonl").read_text().splitlines()
    except OSError:
        return []
    steps = []
    for line in lines:
        try:
            steps.append(json.loads(line)["step"])
        except (ValueError, KeyError):
            pass  # a line being written
    return steps


def kill_at(process: subprocess.Popen[str], out: Path, step: int, timeout: float = 180) -> int:
    """SIGKILL ``process`` as soon as it has logged ``step``; the last step it had logged."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if (steps := logged_steps(out)) and steps[-1] >= step:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, process.stderr.read() if process.stderr else ""
    return (logged_steps(out) or [0])[-1]


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(spec, the final checkpoint of a run never interrupted)."""
    from ganforge.plugins import Plugins, set_plugins

    from .conftest import TINY_SPEC

    root = tmp_path_factory.mktemp("faults-kill")
    spec = root / "tiny.yaml"
    spec.write_text(TINY_SPEC)
    set_plugins(Plugins.create())
    try:
        assert invoke("run", str(spec), "--out", str(root / "straight"), "--quiet", *FLAGS).exit_code == 0
    finally:
        set_plugins(None)
    return spec, root / "straight/checkpoints/last.pt"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kill_9_then_resume_auto_gives_the_same_weights(straight: tuple[Path, Path], tmp_path: Path, seed: int) -> None:
    spec, reference = straight
    target = random.Random(seed).randint(2, STEPS - 2)
    out = tmp_path / "killed"
    killed_at = kill_at(start(spec, out, *FLAGS), out, target)
    assert killed_at < STEPS
    status = json.loads((out / "status.json").read_text())
    assert status["status"] == "running"  # a hard kill leaves no chance to say otherwise
    resumed = invoke("run", str(spec), "--out", str(out), "--quiet", *FLAGS, "--resume", "auto")
    assert resumed.exit_code == 0, resumed.output
    assert_same_weights(reference, out / "checkpoints/last.pt")
    assert logged_steps(out) == list(range(1, STEPS + 1))  # the lines after the checkpoint were dropped, then rewritten
    assert not list((out / "checkpoints").glob("*.tmp"))
    assert json.loads((out / "status.json").read_text())["status"] == "finished"


def test_killed_before_the_first_checkpoint_resume_auto_starts_cleanly(straight: tuple[Path, Path], tmp_path: Path) -> None:
    spec, _ = straight
    out = tmp_path / "early"
    slow = ["--set", "train.steps=100000", "--set", "train.log_every=1", "--set", "data.size=4096"]  # first checkpoint at step 256
    kill_at(start(spec, out, *slow), out, 1)
    assert not (out / "checkpoints/last.pt").exists() and (out / "status.json").exists()
    plain = invoke("run", str(spec), "--out", str(out), "--quiet", "--set", "train.steps=3", "--set", "train.log_every=1")
    assert plain.exit_code == 2 and "holds a running run" in plain.stderr  # refused without a choice
    result = invoke("run", str(spec), "--out", str(out), "--quiet", "--set", "train.steps=3", "--set", "train.log_every=1", "--resume", "auto")
    assert result.exit_code == 0, result.output
    assert logged_steps(out) == [1, 2, 3]
    assert load_checkpoint(out / "checkpoints/last.pt")["step"] == 3
