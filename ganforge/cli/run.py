"""``ganforge run``: train the experiment a spec describes."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import click

from ganforge.cli.common import describe_components, experiment_from, set_option
from ganforge.errors import GanforgeError
from ganforge.plotting import MISSING_MATPLOTLIB, matplotlib_available
from ganforge.training.config import LoggingConfig
from ganforge.training.observers import RunObserver
from ganforge.training.progress import make_progress
from ganforge.training.rundir import RunDir
from ganforge.training.trainer import Trainer


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@set_option
@click.option("--out", type=click.Path(file_okay=False), help="Run directory (default runs/<spec name>/<timestamp>).")
@click.option("--resume", is_flag=True, help="Continue from the run directory's last checkpoint (latest run of this spec without --out).")
@click.option("--quiet", is_flag=True, help="Plain log lines instead of a progress bar.")
def run(spec: str, overrides: tuple[str, ...], out: str | None, resume: bool, quiet: bool) -> None:
    """Train the GAN that SPEC describes and write the run directory.

    \b
    Examples:
      ganforge run specs/lsgan.yaml
      ganforge run specs/lsgan.yaml --set train.steps=200 --set data.batch_size=64 --out runs/quick
      ganforge run specs/lsgan.yaml --out runs/quick --resume
    """
    experiment = experiment_from(spec, overrides)
    run_dir = _run_dir(experiment.name, out, resume)
    progress = make_progress(quiet)
    progress.message(f"{experiment.name}: {describe_components(experiment)}; device {experiment.device}")
    progress.message(f"run directory: {run_dir.root}")
    observers = make_observers(LoggingConfig(**experiment.resolved["logging"]), run_dir, progress.message)
    result = Trainer(experiment, run_dir, progress, observers=observers).fit(resume=resume)
    click.echo(
        f"finished {result.steps} steps in {result.seconds:.1f}s "
        f"({result.steps / max(result.seconds, 1e-9):.2f} steps/s); outputs in {run_dir.root}",
        err=True,
    )


def _run_dir(name: str, out: str | None, resume: bool) -> RunDir:
    if out:
        return RunDir(out)
    if not resume:
        return RunDir.default_for(name)
    candidates = sorted(p.parent.parent for p in Path("runs", name).glob("*/checkpoints/last.pt"))
    if not candidates:
        raise GanforgeError(f"--resume: no run of '{name}' with a checkpoint under runs/{name}/; give the run with --out")
    return RunDir(candidates[-1])


def make_observers(config: LoggingConfig, run_dir: RunDir, say: Callable[[str], None]) -> list[RunObserver]:
    """The observers the spec's ``logging:`` section asks for."""
    observers: list[RunObserver] = []
    if config.tensorboard:
        from ganforge.training.tensorboard import TensorBoardObserver

        observers.append(TensorBoardObserver(run_dir.root / "tensorboard"))
    if config.plots:
        if matplotlib_available():
            from ganforge.training.plots import PlotObserver

            observers.append(PlotObserver(run_dir, say))
        else:
            say(f"no loss plots at the end: {MISSING_MATPLOTLIB}; or set logging.plots: false")
    return observers
