"""``ganforge run --nproc 2``: the real elastic launcher (torchrun's) with 2 gloo workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ganforge.checkpoint import load_checkpoint
from ganforge.cli.common import experiment_from
from ganforge.distributed import Ranks
from ganforge.errors import GanforgeError
from ganforge.training.progress import NoProgress
from ganforge.training.rundir import RunDir
from ganforge.training.trainer import Trainer


def test_nproc_launches_workers_and_rank_zero_writes(tiny_spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, "-m", "ganforge", "run", str(tiny_spec), "--nproc", "2", "--out", str(out), "--quiet",
            "--set", "train.steps=4", "--set", "distributed.batch=per_rank"]  # fmt: skip
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("finished 4 steps") == 1 and "2 processes, device cpu" in result.stderr
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["last.pt"]
    assert [r["step"] for r in RunDir(out).read_log()] == [2, 4]
    assert json.loads((out / "status.json").read_text())["status"] == "finished"
    state = load_checkpoint(out / "checkpoints/last.pt")
    # per_rank: each of 2 workers took 16 samples, 32 per update, so 64 samples make 2 steps an epoch
    assert state["distributed"]["world_size"] == 2 and state["epoch"] == 1 and state["batch"] == 2
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["epoch_0001.png", "epoch_0002.png"]


def test_global_batch_must_split_among_the_processes(tiny_spec: Path, tmp_path: Path) -> None:
    trainer = Trainer(experiment_from(tiny_spec, ("data.batch_size=15",)), RunDir(tmp_path), NoProgress())
    trainer.ranks = Ranks(0, 2)
    with pytest.raises(GanforgeError, match="data.batch_size=15 is the global batch .* does not split among 2 processes"):
        trainer.global_batch_size()
    trainer.exp.distributed.batch = "per_rank"
    assert trainer.global_batch_size() == 30
    with pytest.raises(GanforgeError, match="--resume: the run trained 3 process"):
        trainer.global_batch_size({"distributed": {"world_size": 3}})
