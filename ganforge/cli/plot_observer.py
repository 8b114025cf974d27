"""A run observer that draws the loss and metric figures (:mod:`ganforge.cli.plotting`) when the run ends."""

from __future__ import annotations

import sys
from typing import Callable

from ganforge.cli.plotting import NothingToPlot, write_plots
from ganforge.training.observers import BaseObserver
from ganforge.training.rundir import RunDir


class PlotObserver(BaseObserver):
    """Writes ``<run>/plots/*.png`` at the end of the run, whatever its status. A failure to
    draw is reported through ``say`` and never changes the run's outcome."""

    def __init__(self, run_dir: RunDir, say: Callable[[str], None] | None = None) -> None:
        self.run_dir = run_dir
        self.say = say or (lambda text: print(text, file=sys.stderr))

    def on_finish(self, status: str) -> None:
        try:
            written = write_plots(self.run_dir)
        except NothingToPlot:  # a run stopped before it logged (train.steps=0): no figure, nothing to report
            return
        except Exception as exc:  # noqa: BLE001 - plots are a convenience: the run's own result matters more
            self.say(f"plots not written: {exc}")
            return
        if written:
            self.say(f"plots: {', '.join(str(p) for p in written)}")
