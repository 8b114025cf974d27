"""``ganforge run``: train the experiment a spec describes, in one process or several."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, TypeVar

import click

from ganforge import distributed
from ganforge.cli.common import describe_components, experiment_from, set_option
from ganforge.errors import GanforgeError
from ganforge.plotting import MISSING_MATPLOTLIB, matplotlib_available
from ganforge.training.config import LoggingConfig
from ganforge.training.observers import RunObserver
from ganforge.training.progress import NoProgress, make_progress
from ganforge.training.rundir import RunDir
from ganforge.training.trainer import Trainer, TrainingDiverged, TrainingInterrupted

T = TypeVar("T")


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@set_option
@click.option("--out", type=click.Path(file_okay=False), help="Run directory (default runs/<spec name>/<timestamp>).")
@click.option("--resume", is_flag=True, help="Continue from the run directory's last checkpoint (latest run of this spec without --out).")
@click.option("--quiet", is_flag=True, help="Plain log lines instead of a progress bar.")
@click.option(
    "--nproc",
    type=click.IntRange(min=1),
    help="Train over N processes on this machine (one per GPU; gloo on CPU), launched like torchrun --standalone --nproc_per_node N.",
)
@click.pass_context
def run(ctx: click.Context, spec: str, overrides: tuple[str, ...], out: str | None, resume: bool, quiet: bool, nproc: int | None) -> None:
    """Train the GAN that SPEC describes and write the run directory.

    \b
    Examples:
      ganforge run specs/lsgan.yaml
      ganforge run specs/lsgan.yaml --set train.steps=200 --set data.batch_size=64 --out runs/quick
      ganforge run specs/lsgan.yaml --out runs/quick --resume
      ganforge run specs/lsgan.yaml --nproc 4                   # 4 processes, e.g. 4 GPUs
      torchrun --nproc_per_node=4 -m ganforge run specs/lsgan.yaml   # the same through torchrun
    """
    experiment = experiment_from(spec, overrides)
    if nproc is not None:
        if distributed.launched_world_size() > 1:
            raise GanforgeError("--nproc: this process is already one of several started by torchrun; drop --nproc")
        run_dir = _run_dir(experiment.name, out, resume)
        debug = bool(ctx.obj and ctx.obj.get("debug"))
        _launch(nproc, spec, overrides, run_dir, resume, quiet, debug)
        return
    ranks, experiment.device = distributed.init_from_env(experiment.device)
    run_dir = RunDir(_on_rank_zero(lambda: str(_run_dir(experiment.name, out, resume).root)))
    progress = make_progress(quiet) if ranks.is_main else NoProgress()
    where = f"{ranks.world_size} processes, device {experiment.device.type}" if ranks.distributed else f"device {experiment.device}"
    progress.message(f"{experiment.name}: {describe_components(experiment)}; {where}")
    progress.message(f"run directory: {run_dir.root}")
    try:
        observers = make_observers(LoggingConfig(**experiment.resolved["logging"]), run_dir, progress.message) if ranks.is_main else []
        result = Trainer(experiment, run_dir, progress, observers=observers).fit(resume=resume)
    except (TrainingInterrupted, TrainingDiverged) as exc:
        if ranks.is_main:
            raise
        ctx.exit(exc.exit_code)  # every process stopped together; rank 0 alone says why
    if ranks.is_main:
        click.echo(
            f"finished {result.steps} steps in {result.seconds:.1f}s "
            f"({result.steps / max(result.seconds, 1e-9):.2f} steps/s); outputs in {run_dir.root}",
            err=True,
        )
    distributed.shutdown()


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


def _on_rank_zero(decide: Callable[[], T]) -> T:
    """``decide()`` on rank 0, its result (or its error) on every process."""
    if not distributed.active():
        return decide()
    value, error = None, None
    if distributed.current().is_main:
        try:
            value = decide()
        except GanforgeError as exc:
            error = str(exc)
    value, error = distributed.broadcast_object((value, error))
    if error is not None:
        raise GanforgeError(error)
    return value  # type: ignore[return-value]


def _launch(nproc: int, spec: str, overrides: tuple[str, ...], run_dir: RunDir, resume: bool, quiet: bool, debug: bool) -> None:
    """Run ``ganforge run`` in ``nproc`` worker processes through torch's elastic launcher."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser
    from torch.distributed.run import run as elastic_run

    worker = ["run", spec, *(a for o in overrides for a in ("--set", o)), "--out", str(run_dir.root)]
    worker += ["--resume"] * resume + ["--quiet"] * quiet + ["--debug"] * debug
    if "OMP_NUM_THREADS" not in os.environ:  # torchrun would pick 1 and warn; share the cores instead
        os.environ["OMP_NUM_THREADS"] = str(max(1, len(os.sched_getaffinity(0)) // nproc))
    args = get_args_parser().parse_args(["--standalone", f"--nproc-per-node={nproc}", "--module", "ganforge", *worker])
    try:
        elastic_run(args)
    except SignalException as exc:
        raise _Exit(128 + int(exc.sigval), f"stopped by {exc.sigval.name}; continue with: ganforge run {spec} --out {run_dir.root} --resume --nproc {nproc}") from None
    except ChildFailedError as exc:
        first = min(exc.failures)  # the workers have printed their errors
        raise _Exit(exc.failures[first].exitcode, f"{len(exc.failures)} of {nproc} processes failed (rank {first}: exit code {exc.failures[first].exitcode})") from None


class _Exit(GanforgeError):
    """A launched run ended with a worker's exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = code if code > 0 else 1
