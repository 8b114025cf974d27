"""The run directory: resolved spec, metrics log, sample pictures, checkpoints, status."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import yaml

from ganforge.files import WriteError, atomic_write_text, make_directory

STATUSES = ("running", "finished", "interrupted", "diverged", "failed")


class RunDir:
    """Paths and writers for one run (what the loggers write besides: ``metrics.csv``,
    ``tensorboard/``, ``loggers/<name>.json``, W&B's ``wandb/``, MLflow's ``mlflow.db``). Layout::

        spec.yaml            resolved spec (defaults filled in)
        metrics.jsonl        one JSON object per line: losses every log_every steps, metric values
        status.json          running | finished | interrupted | diverged | failed, with the step
        samples/epoch_NNNN.png  fixed-noise samples after each epoch (step_NNNNNNN.png at a mid-epoch end)
        checkpoints/last.pt  latest full state; checkpoints/best.pt by the chosen metric
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @staticmethod
    def default_for(spec_name: str, base: Path | str = "runs") -> RunDir:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        return RunDir(Path(base) / spec_name / stamp)

    @property
    def spec_path(self) -> Path:
        return self.root / "spec.yaml"

    @property
    def metrics_path(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def status_path(self) -> Path:
        return self.root / "status.json"

    @property
    def samples_dir(self) -> Path:
        return self.root / "samples"

    @property
    def last_checkpoint(self) -> Path:
        return self.root / "checkpoints" / "last.pt"

    @property
    def best_checkpoint(self) -> Path:
        return self.root / "checkpoints" / "best.pt"

    #: what a run writes into its directory, as globs; ``clear`` removes these and nothing else
    #: (a picture or a backup the user put into samples/ or checkpoints/ stays).
    OUTPUTS = (
        "spec.yaml", "metrics.jsonl", "status.json", "provenance.json", ".*.tmp",
        "samples/epoch_*.png", "samples/step_*.png", "samples/.*.tmp",
        "checkpoints/last.pt", "checkpoints/best.pt", "checkpoints/.*.tmp",
        "plots/losses.png", "plots/metric_*.png", "tensorboard/events.out.tfevents.*",
        "metrics.csv", "loggers/*.json", "loggers/.*.tmp",
    )  # fmt: skip

    def holds_run(self) -> bool:
        """Whether a run has written here: a status, a checkpoint or a metrics log."""
        return self.status_path.is_file() or self.last_checkpoint.is_file() or self.metrics_path.is_file()

    def describe(self) -> str:
        """What the directory holds, for a message: ``a finished run (step 6 of 6)``."""
        try:
            status = self.read_status() or {}
        except (OSError, ValueError):
            status = {}
        what = f"a{'n' if str(status.get('status', ''))[:1] in 'aeiou' else ''} {status['status']} run" if status.get("status") else "a run"
        if isinstance(status.get("step"), int):
            total = status.get("total_steps")
            what += f" (step {status['step']}{f' of {total}' if isinstance(total, int) else ''})"
        return what + (", with a checkpoint" if self.last_checkpoint.is_file() else ", no checkpoint")

    def clear(self) -> None:
        """Remove a previous run's outputs (``--overwrite``), then its folders if that left them
        empty; other files in the directory and its folders stay."""
        for pattern in self.OUTPUTS:
            for path in self.root.glob(pattern):
                if path.is_file() or path.is_symlink():
                    path.unlink()
        for folder in ("samples", "checkpoints", "plots", "tensorboard", "loggers"):
            with contextlib.suppress(OSError):  # absent, or holding the user's files
                (self.root / folder).rmdir()

    def create(self) -> None:
        """Make the run's folders, and remove what a hard-killed writer of this run left half-written
        (``checkpoints/.last.pt.XXXX.tmp``: the previous file beside it is intact)."""
        for folder in (self.samples_dir, self.last_checkpoint.parent):
            make_directory(folder)  # --out under a file, or where the user may not write: one line
        for folder in (self.last_checkpoint.parent, self.root):
            for torn in folder.glob(".*.tmp"):
                torn.unlink(missing_ok=True)

    def write_spec(self, resolved: dict[str, Any]) -> None:
        atomic_write_text(self.spec_path, yaml.safe_dump(resolved, sort_keys=False))

    def log(self, record: dict[str, Any]) -> None:
        """Append one record to metrics.jsonl (non-finite numbers are written as null)."""
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        try:
            with self.metrics_path.open("a") as f:
                f.write(json.dumps(clean) + "\n")
        except OSError as exc:
            raise WriteError(self.metrics_path, exc) from None

    def read_log(self) -> list[dict[str, Any]]:
        """metrics.jsonl's records, skipping a torn line (a process killed while writing it)."""
        if not self.metrics_path.exists():
            return []
        records = []
        for line in self.metrics_path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def truncate_log(self, after_step: int) -> None:
        """Drop records newer than ``after_step`` (written after the checkpoint a resume starts from)."""
        kept = [r for r in self.read_log() if r.get("step", 0) <= after_step]
        atomic_write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in kept))

    def write_status(self, status: str, step: int, total_steps: int, message: str | None = None) -> None:
        assert status in STATUSES, status
        record = {"status": status, "step": step, "total_steps": total_steps, "updated": dt.datetime.now().isoformat(timespec="seconds")}
        if message:
            record["message"] = message
        atomic_write_text(self.status_path, json.dumps(record) + "\n")

    def read_status(self) -> dict[str, Any] | None:
        status: dict[str, Any] | None = json.loads(self.status_path.read_text()) if self.status_path.exists() else None
        return status

    def sample_path(self, epoch: int | None = None, step: int | None = None) -> Path:
        name = f"epoch_{epoch:04d}.png" if epoch is not None else f"step_{step:07d}.png"
        return self.samples_dir / name
