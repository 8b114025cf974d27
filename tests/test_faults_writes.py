"""Fault suite, writes: a full disk while a run writes its checkpoint, a sample grid, the
statistics cache or metrics.jsonl: the run stops with one line naming the file and the cause,
status.json says failed, and the previous checkpoint survives."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest

from ganforge import files
from ganforge.checkpoint import load_checkpoint
from ganforge.files import WriteError

from .conftest import TINY_SPEC, invoke

ENOSPC = OSError(errno.ENOSPC, "No space left on device")


def full_disk_for(monkeypatch: pytest.MonkeyPatch, module: str, suffix: str) -> None:
    """``module``'s atomic writes of files ending in ``suffix`` fail half-way with ENOSPC."""
    real = files.atomic_write

    def atomic_write(path: Path | str, write: Any, *, sync: bool = True) -> None:
        if str(path).endswith(suffix):
            def half_then_full(f: Any) -> None:
                f.write(b"partial")
                raise ENOSPC

            real(path, half_then_full, sync=sync)
        real(path, write, sync=sync)

    monkeypatch.setattr(f"{module}.atomic_write", atomic_write)


def full_disk_for_metrics_log(monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = Path.open

    def open_(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if self.name == "metrics.jsonl" and "a" in mode:
            raise ENOSPC
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_)


@pytest.mark.parametrize("target", ["checkpoint", "sample-grid", "stats-cache", "metrics-log"])
def test_a_full_disk_stops_the_run_in_one_line_and_keeps_the_last_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, classifier_file: str, target: str
) -> None:
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    spec = tmp_path / "tiny.yaml"
    metric = f"[{{name: fid, every: 4, samples: 16, reference_samples: 16, extractor: {{name: classifier, weights: {classifier_file}}}}}]"
    spec.write_text(TINY_SPEC + (f"metrics: {metric}\n" if target == "stats-cache" else ""))
    out = tmp_path / "run"
    assert invoke("run", str(spec), "--out", str(out), "--quiet", "--set", "train.steps=2").exit_code == 0
    before = (out / "checkpoints/last.pt").read_bytes()
    if target == "stats-cache":
        for cached in (tmp_path / "cache").rglob("*.npz"):
            cached.unlink()  # the resumed run must write it again
    failing = {
        "checkpoint": lambda: full_disk_for(monkeypatch, "ganforge.checkpoint", ".pt"),
        "sample-grid": lambda: full_disk_for(monkeypatch, "ganforge.imaging", ".png"),
        "stats-cache": lambda: full_disk_for(monkeypatch, "ganforge_builtins.stats.npz", ".npz"),
        "metrics-log": lambda: full_disk_for_metrics_log(monkeypatch),
    }[target]
    failing()
    result = invoke("run", str(spec), "--out", str(out), "--quiet", "--set", "train.steps=6", "--resume")
    assert result.exit_code == 2, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: cannot write ") and last.endswith(": no space left on device; the previous file there (if any) is intact"), result.stderr
    assert "Traceback" not in result.output
    state = load_checkpoint(out / "checkpoints/last.pt")
    if target == "checkpoint":
        assert (out / "checkpoints/last.pt").read_bytes() == before
    assert state["step"] in (2, 4)  # the last one written before the disk filled
    status = json.loads((out / "status.json").read_text())
    assert status["status"] == "failed" and "no space left on device" in status["message"]
    assert not [p for p in out.rglob("*.tmp")] and not [p for p in (tmp_path / "cache").rglob("*.tmp")]


def test_write_error_is_a_one_line_ganforge_error() -> None:
    error = WriteError("/x/y.pt", OSError(errno.EROFS, "Read-only file system"))
    assert str(error) == "cannot write /x/y.pt: Read-only file system; the previous file there (if any) is intact"
    assert error.exit_code == 2
