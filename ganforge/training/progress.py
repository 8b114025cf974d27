"""Showing training progress: the reporter protocol the trainer talks to, plain log lines, and
nothing (ranks other than 0). The live progress bar of a terminal is the CLI's (``ganforge.cli.progress``)."""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol


class ProgressReporter(Protocol):
    def start(self, total: int, done: int) -> None: ...
    def tick(self, step: int) -> None: ...
    def update(self, step: int, values: dict[str, float]) -> None: ...
    def message(self, text: str) -> None: ...
    def evaluating(self, label: str, done: int, total: int) -> None: ...
    def stop(self) -> None: ...

#: seconds a metric's phase runs before plain-line progress reports it, and between its lines
EVALUATION_REPORT_SECONDS = 15.0


def format_values(values: dict[str, Any]) -> str:
    return "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


class LineProgress:
    """One line per update on stderr: for logs and pipes."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.total = 0
        self._t0 = time.perf_counter()
        self._step0 = 0
        self._phase = ""
        self._phase_reported = 0.0
        self._phase_lines = 0

    def start(self, total: int, done: int) -> None:
        self.total, self._step0, self._t0 = total, done, time.perf_counter()

    def tick(self, step: int) -> None:
        pass

    def update(self, step: int, values: dict[str, float]) -> None:
        rate = (step - self._step0) / max(time.perf_counter() - self._t0, 1e-9)
        print(f"step {step}/{self.total}  {format_values(values)}  ({rate:.2f} steps/s)", file=self.stream, flush=True)

    def message(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def evaluating(self, label: str, done: int, total: int) -> None:
        """A line every :data:`EVALUATION_REPORT_SECONDS` of a long metric phase (and its end);
        nothing for a phase that finishes sooner, so short evaluations keep logs clean."""
        now = time.perf_counter()
        if label != self._phase:
            self._phase, self._phase_reported, self._phase_lines = label, now, 0
        if now - self._phase_reported >= EVALUATION_REPORT_SECONDS or (done >= total and self._phase_lines):
            self._phase_reported, self._phase_lines = now, self._phase_lines + 1
            print(f"{label}: {done:,}/{total:,} samples", file=self.stream, flush=True)
        if done >= total:
            self._phase = ""  # the next evaluation of the same label starts its own phase

    def stop(self) -> None:
        pass


class NoProgress:
    """Shows nothing: for processes other than rank 0 in a distributed run."""

    def start(self, total: int, done: int) -> None:
        pass

    def tick(self, step: int) -> None:
        pass

    def update(self, step: int, values: dict[str, float]) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def evaluating(self, label: str, done: int, total: int) -> None:
        pass

    def stop(self) -> None:
        pass


class QuietProgress(NoProgress):
    """``--quiet``: no step or evaluation lines, only messages (the run's first lines, warnings,
    a signal's notice) on stderr; metrics.jsonl has every value."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr

    def message(self, text: str) -> None:
        print(text, file=self.stream, flush=True)
