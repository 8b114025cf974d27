"""TensorBoard after a hard kill: the resumed run purges the events written after its checkpoint."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import TINY_SPEC, invoke


def run(spec: Path, out: Path, steps: int, *extra: str):  # type: ignore[no-untyped-def]
    return invoke("run", str(spec), "--out", str(out), "--quiet", "--set", f"train.steps={steps}", "--set", "train.log_every=1", *extra)


def test_resume_after_a_hard_kill_purges_the_events_after_the_checkpoint(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    spec = tmp_path / "tb.yaml"
    spec.write_text(TINY_SPEC + "logging: {tensorboard: true, plots: false}\n")
    out = tmp_path / "run"
    assert run(spec, out, 3).exit_code == 0
    saved = tmp_path / "at-step-3.pt"
    shutil.copy(out / "checkpoints/last.pt", saved)
    assert run(spec, out, 5, "--resume").exit_code == 0  # wrote events for steps 4 and 5 ...
    shutil.copy(saved, out / "checkpoints/last.pt")  # ... then "died" before checkpointing them
    (out / "status.json").write_text(json.dumps({"status": "running", "step": 5, "total_steps": 5}))
    assert run(spec, out, 5, "--resume").exit_code == 0

    files = sorted((out / "tensorboard").glob("events.out.tfevents.*"), key=lambda p: p.stat().st_mtime_ns)
    starts = [e.step for e in EventFileLoader(str(files[-1])).Load() if e.HasField("session_log") and e.session_log.status == 1]
    assert starts == [4], starts  # SessionLog START at purge_step: TensorBoard drops steps >= 4 written before
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    steps = [s.step for s in events.Scalars("loss/d")]
    assert steps == [1, 2, 3, 4, 5], steps


def test_a_fresh_run_purges_nothing(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    spec = tmp_path / "tb.yaml"
    spec.write_text(TINY_SPEC + "logging: {tensorboard: true, plots: false}\n")
    assert run(spec, tmp_path / "run", 2).exit_code == 0
    (events,) = (tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*")
    assert not [e for e in EventFileLoader(str(events)).Load() if e.HasField("session_log") and e.session_log.status == 1]
