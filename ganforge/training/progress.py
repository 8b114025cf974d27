"""Showing training progress: a rich progress bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class ProgressReporter(Protocol):
    def start(self, total: int, done: int) -> None: ...
    def tick(self, step: int) -> None: ...
    def update(self, step: int, values: dict[str, float]) -> None: ...
    def message(self, text: str) -> None: ...
    def stop(self) -> None: ...


def format_values(values: dict[str, Any]) -> str:
    return "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


class LineProgress:
    """One line per update on stderr: for logs, pipes and ``--quiet``."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.total = 0
        self._t0 = time.perf_counter()
        self._step0 = 0

    def start(self, total: int, done: int) -> None:
        self.total, self._step0, self._t0 = total, done, time.perf_counter()

    def tick(self, step: int) -> None:
        pass

    def update(self, step: int, values: dict[str, float]) -> None:
        rate = (step - self._step0) / max(time.perf_counter() - self._t0, 1e-9)
        print(f"step {step}/{self.total}  {format_values(values)}  ({rate:.2f} steps/s)", file=self.stream, flush=True)

    def message(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

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

    def stop(self) -> None:
        pass


class RichProgress:
    """A live progress bar with the latest losses and metric values."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]training"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[values]}"),
            console=self.console,
        )
        self.task: Any = None
        self._values: dict[str, float] = {}

    def start(self, total: int, done: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task("train", total=total, completed=done, values="")

    def tick(self, step: int) -> None:
        self.progress.update(self.task, completed=step)

    def update(self, step: int, values: dict[str, float]) -> None:
        self._values.update(values)
        self.progress.update(self.task, completed=step, values=format_values(self._values))

    def message(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False)

    def stop(self) -> None:
        self.progress.stop()


def make_progress(quiet: bool) -> ProgressReporter:
    """Rich bar when stderr is a terminal and not ``quiet``; plain lines otherwise."""
    if not quiet and sys.stderr.isatty():
        return RichProgress()
    return LineProgress()
