"""The ``jsonl`` logger: metrics.jsonl in the run directory, always on."""

from __future__ import annotations

from typing import Any, ClassVar

from ganforge import Logger, RunStart, hookimpl
from ganforge.training.rundir import RunDir


class JsonlLogger(Logger):
    """The run's own record, metrics.jsonl (always on).

    One JSON object per line in ``<run>/metrics.jsonl``: ``{"step", "epoch", losses...}`` at
    each log step, metric values after each evaluation. Always on: resume, best.pt, ``ganforge
    eval``, ``runs``, ``plot`` and ``sweep report`` read it, so a failure to write it stops the run.
    A resumed run first drops the lines written after its checkpoint."""

    essential: ClassVar[bool] = True

    def __init__(self) -> None:
        self.run_dir: RunDir | None = None

    def start(self, run: RunStart) -> None:
        self.run_dir = RunDir(run.run_dir)
        if run.resumed_at is not None:
            self.run_dir.truncate_log(run.resumed_at)

    def log_scalars(self, step: int, values: dict[str, float]) -> None:
        assert self.run_dir is not None, "log_scalars before start"
        self.run_dir.log({"step": step, **values})


@hookimpl
def register_loggers(register: Any) -> None:
    register("jsonl", JsonlLogger)
