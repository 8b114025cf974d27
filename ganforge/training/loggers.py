"""The run's loggers as one: each is told everything, and one that fails is reported once.

The trainer talks to :class:`LoggerSet` only; what a logger is and when it is called is
:mod:`ganforge.interfaces.logger`.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch

from ganforge.errors import GanforgeError
from ganforge.interfaces import Logger, RunStart
from ganforge.plugins import get_plugins
from ganforge.provenance import ganforge_version
from ganforge.requirements import availability


class LoggerSet:
    """Fans every call out to ``loggers`` (description -> logger, in order).

    A logger that raises is reported through ``say`` the first time, with what failed and that
    the run goes on, and is still called afterwards (a network may come back); the number of
    failures is said at the end. An ``essential`` logger's failure, and a
    :class:`~ganforge.errors.GanforgeError` from ``start`` (a missing package), propagate.
    """

    def __init__(self, loggers: Mapping[str, Logger], say: Callable[[str], None]) -> None:
        self.loggers = dict(loggers)
        self.say = say
        self.failures: dict[str, int] = {}
        self.started: dict[str, Logger] = {}  # finish goes to these only

    def check_available(self) -> None:
        """Refuse, before the run directory is touched, a logger that says it lacks something
        (its package: ``requirements()``, as ``ganforge list logger`` shows)."""
        for owner, logger in self.loggers.items():
            reason = availability(type(logger))[1]
            if reason is not None:
                raise GanforgeError(f"{owner} cannot log: {reason}; or remove it from logging:")

    def start(self, run: RunStart) -> None:
        for owner, logger in self.loggers.items():
            self._call(owner, logger, "start", lambda lg: lg.start(run), stop_on=GanforgeError)
            self.started[owner] = logger

    def log_scalars(self, step: int, values: dict[str, float]) -> None:
        for owner, logger in self.loggers.items():
            self._call(owner, logger, "log_scalars", lambda lg: lg.log_scalars(step, values))

    def log_image(self, step: int, name: str, path: Path) -> None:
        """Tell every logger about the picture written to ``path`` (read once, as RGB pixels)."""
        if not self.loggers:
            return
        from PIL import Image

        with Image.open(path) as picture:  # the written picture: what the dataset chose to draw
            pixels = np.asarray(picture.convert("RGB"))
        for owner, logger in self.loggers.items():
            self._call(owner, logger, "log_image", lambda lg: lg.log_image(step, name, pixels, path))

    def finish(self, status: str) -> None:
        for owner, logger in self.started.items():
            self._call(owner, logger, "finish", lambda lg: lg.finish(status))
        for owner, count in self.failures.items():
            if count > 1:
                self.say(f"{owner} failed {count} times in all; what it received in those calls is missing from it")

    def _call(self, owner: str, logger: Logger, method: str, call: Callable[[Logger], None], stop_on: type[BaseException] | None = None) -> None:
        try:
            call(logger)
        except Exception as exc:
            if logger.essential or (stop_on is not None and isinstance(exc, stop_on)):
                raise
            self.failures[owner] = self.failures.get(owner, 0) + 1
            if self.failures[owner] == 1:
                self.say(f"{owner} failed in {method} ({type(exc).__name__}: {exc}); the run goes on, this is said once")


def run_provenance(device: torch.device, seed: int) -> dict[str, Any]:
    """Where a run comes from, for loggers: versions of ganforge, torch and Python, the plugins
    loaded (with their distribution and version), the device and the seed."""
    plugins = {
        name: f"{info.distribution} {info.version}" if info.distribution else "registered in code"
        for name, info in sorted(get_plugins().loaded.items())
    }
    return {
        "ganforge_version": ganforge_version(),
        "torch_version": torch.__version__,
        "python_version": sys.version.split()[0],
        "platform": platform.platform(),
        "device": str(device),
        "seed": seed,
        "plugins": plugins,
    }
