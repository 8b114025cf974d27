"""The live progress bar ``ganforge run`` shows on a terminal."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ganforge.training.progress import LineProgress, ProgressReporter, QuietProgress, format_values


class RichProgress:
    """A live progress bar with the latest losses and metric values."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.progress = Progress(
            TextColumn("{task.description}", style="bold", markup=False),  # labels are data: a metric's `[...]` is no markup
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[values]}", markup=False),
            console=self.console,
        )
        self.task: Any = None
        self._values: dict[str, float] = {}
        self._phases: dict[str, Any] = {}

    def start(self, total: int, done: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task("training", total=total, completed=done, values="")

    def tick(self, step: int) -> None:
        self.progress.update(self.task, completed=step)

    def update(self, step: int, values: dict[str, float]) -> None:
        self._values.update(values)
        self.progress.update(self.task, completed=step, values=format_values(self._values))

    def message(self, text: str) -> None:
        self.progress.console.print(text, markup=False, highlight=False)

    def evaluating(self, label: str, done: int, total: int) -> None:
        """A bar of its own for each metric phase, below training's, gone when the phase ends."""
        self.progress.start()  # `ganforge eval` shows phases without a training bar
        if label not in self._phases:
            self._phases[label] = self.progress.add_task(label, total=total, values="")
        self.progress.update(self._phases[label], completed=done)
        if done >= total:
            self.progress.remove_task(self._phases.pop(label))

    def stop(self) -> None:
        self.progress.stop()


def make_progress(quiet: bool) -> ProgressReporter:
    """With ``quiet`` only messages; else a rich bar when stderr is a terminal, plain lines otherwise."""
    if quiet:
        return QuietProgress()
    if sys.stderr.isatty():
        return RichProgress()
    return LineProgress()
