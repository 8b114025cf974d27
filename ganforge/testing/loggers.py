"""Conformance of loggers: the whole life of a short run and of its resumption, in a scratch
run directory, without raising and without writing outside it."""

from __future__ import annotations

import contextlib
import inspect
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ganforge.interfaces import Logger, RunStart
from ganforge.testing.constructor import Setup, check_constructor, construct
from ganforge.testing.failures import Checker, expect

#: the short run the check plays: steps logged, the step of its checkpoint, and its length.
LOGGED_STEPS = (1, 2, 3, 4)
CHECKPOINT_STEP = 2
TOTAL_STEPS = 6


def check_logger(factory: Callable[..., Logger], /, *, setup: Setup | None = None, **params: Any) -> None:
    """Check a logger class built with ``params``; raises :class:`~ganforge.testing.ConformanceError`
    listing every failed check.

    In a scratch run directory (also the working directory, so that files written elsewhere are
    noticed) it plays a run: ``start``, scalars at steps 1-4, a sample picture, ``finish("interrupted")``;
    then, with a new instance, its resumption from the checkpoint at step 2: ``start`` with
    ``resumed_at=2``, steps 3-6, a picture, ``finish("finished")``. Every call must return None
    without raising, ``essential`` must be a bool, and nothing may be written outside the run
    directory. Example: ``check_logger(CsvLogger, filename="log.csv")``. A logger that needs a
    package that is missing raises a :class:`~ganforge.errors.GanforgeError` from its
    constructor or ``start``: the check then reports it unavailable.
    """
    setup = setup or Setup()
    checker = Checker("logger", factory)
    check_constructor(checker, factory)
    with checker.check("constructor"):
        expect("name" not in inspect.signature(factory).parameters, "takes a parameter 'name', which a spec's `name:` (the logger's registered name) would fill; call it e.g. run_name")
    logger, kwargs = construct(checker, factory, params, setup)
    found = len(checker.problems)
    with checker.check("interface"):
        expect(isinstance(logger, Logger), f"builds a {type(logger).__name__}, not a ganforge.Logger subclass")
        expect(isinstance(getattr(logger, "essential", None), bool), "essential must be True or False")
    if len(checker.problems) > found:
        checker.finish()
    with tempfile.TemporaryDirectory(prefix="ganforge-logger-check-") as scratch:
        root = Path(scratch)
        run_dir, cwd = root / "run", root / "elsewhere"
        run_dir.mkdir()
        cwd.mkdir()
        picture = _picture(run_dir / "samples" / "step_0000004.png", setup.seed)
        spec = {"name": "logger-check", "seed": setup.seed, "train": {"steps": TOTAL_STEPS}}
        with _working_directory(cwd):
            with checker.check("start", needs_resources=True):
                _returns_none(logger.start(RunStart(run_dir, "logger-check", spec, {"ganforge_version": "check"}, TOTAL_STEPS)), "start")
            with checker.check("log_scalars"):
                for step in LOGGED_STEPS:
                    _returns_none(logger.log_scalars(step, _scalars(step)), "log_scalars")
            with checker.check("log_image"):
                _returns_none(logger.log_image(LOGGED_STEPS[-1], "samples", *picture), "log_image")
            with checker.check("finish"):
                _returns_none(logger.finish("interrupted"), "finish")
            resumed, _ = construct(checker, factory, kwargs, setup)
            start = RunStart(run_dir, "logger-check", spec, {"ganforge_version": "check"}, TOTAL_STEPS, resumed_at=CHECKPOINT_STEP)
            with checker.check("resume"):
                _returns_none(resumed.start(start), "start (resuming)")
                for step in range(CHECKPOINT_STEP + 1, TOTAL_STEPS + 1):
                    _returns_none(resumed.log_scalars(step, _scalars(step)), "log_scalars (resumed)")
                _returns_none(resumed.log_image(TOTAL_STEPS, "samples", *picture), "log_image (resumed)")
                _returns_none(resumed.finish("finished"), "finish (resumed)")
        with checker.check("writes only into the run directory"):
            stray = sorted(str(p.relative_to(cwd)) for p in cwd.rglob("*"))
            expect(not stray, f"wrote {', '.join(stray[:5])} into the working directory; write under RunStart.run_dir (or where its parameters say)")
    checker.finish()


def _scalars(step: int) -> dict[str, float]:
    return {"epoch": float(step // 2), "loss/d": 1.0 / step, "loss/g": 0.5 + step, "lr/generator": 2e-4}


def _picture(path: Path, seed: int) -> tuple[np.ndarray, Path]:
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return pixels, path


def _returns_none(result: Any, method: str) -> None:
    expect(result is None, f"{method} must return None, got {type(result).__name__}")


@contextlib.contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)
