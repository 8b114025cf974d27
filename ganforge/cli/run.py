"""``ganforge run``: train the experiment a spec describes, in one process or several."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, TypeVar

import click

from ganforge import distributed
from ganforge.cli.common import describe_components, experiment_from, set_option
from ganforge.cli.plotting import MISSING_MATPLOTLIB, matplotlib_available
from ganforge.cli.progress import make_progress
from ganforge.errors import GanforgeError
from ganforge.spec.settings import LoggingConfig
from ganforge.training.observers import RunObserver
from ganforge.training.progress import NoProgress
from ganforge.training.rundir import RunDir
from ganforge.training.trainer import Trainer, TrainingDiverged, TrainingInterrupted

T = TypeVar("T")
#: ``--resume`` given without a value.
RESUME_ALWAYS = "always"


class _ResumeMode(click.ParamType):
    """``--resume`` alone, or ``--resume auto``."""

    name = "auto"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if value in (RESUME_ALWAYS, "auto"):
            return str(value)
        self.fail(f"takes no value or 'auto', not {value!r} (put SPEC before --resume)", param, ctx)


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@set_option
@click.option("--out", type=click.Path(file_okay=False), help="Run directory (default runs/<spec name>/<timestamp>).")
@click.option(
    "--resume",
    type=_ResumeMode(),
    is_flag=False,
    flag_value=RESUME_ALWAYS,
    default=None,
    metavar="[auto]",
    help="Continue from the run directory's last checkpoint (latest run of this spec without --out); "
    "--resume auto: resume when there is a checkpoint, else start (for schedulers that requeue).",
)
@click.option("--overwrite", is_flag=True, help="Start again in a run directory that holds a run, removing its outputs.")
@click.option("--quiet", is_flag=True, help="No progress bar or step lines: only the first lines, warnings and the summary (metrics.jsonl has every value).")
@click.option(
    "--nproc",
    type=click.IntRange(min=1),
    help="Train over N processes on this machine (one per GPU; gloo on CPU), launched like torchrun --standalone --nproc_per_node N.",
)
@click.pass_context
def run(
    ctx: click.Context, spec: str, overrides: tuple[str, ...], out: str | None, resume: str | None, overwrite: bool, quiet: bool, nproc: int | None
) -> None:
    """Train the GAN that SPEC describes and write the run directory.

    \b
    Examples:
      ganforge run specs/lsgan.yaml
      ganforge run specs/lsgan.yaml --set train.steps=200 --set data.batch_size=64 --out runs/quick
      ganforge run specs/lsgan.yaml --out runs/quick --resume
      ganforge run specs/lsgan.yaml --out runs/quick --resume auto  # resume if there is a checkpoint, else start
      ganforge run specs/lsgan.yaml --out runs/quick --overwrite    # start again, removing the old run
      ganforge run specs/lsgan.yaml --nproc 4                   # 4 processes, e.g. 4 GPUs
      torchrun --nproc_per_node=4 -m ganforge run specs/lsgan.yaml   # the same through torchrun
    """
    if resume and overwrite:
        raise GanforgeError("--resume and --overwrite contradict each other: continue the run, or start it again")
    experiment = experiment_from(spec, overrides)
    if nproc is not None:
        if distributed.launched_world_size() > 1:
            raise GanforgeError("--nproc: this process is already one of several started by torchrun; drop --nproc")
        run_dir, resuming = prepare_run_dir(experiment.name, out, resume, overwrite)
        debug = bool(ctx.obj and ctx.obj.get("debug"))
        _launch(nproc, spec, overrides, run_dir, resuming, quiet, debug)
        return
    ranks, experiment.device = distributed.init_from_env(experiment.device)
    root, resuming = _on_rank_zero(lambda: _as_plain(prepare_run_dir(experiment.name, out, resume, overwrite)))
    run_dir = RunDir(root)
    progress = make_progress(quiet) if ranks.is_main else NoProgress()
    where = f"{ranks.world_size} processes, device {experiment.device.type}" if ranks.distributed else f"device {experiment.device}"
    progress.message(f"{experiment.name}: {describe_components(experiment)}; {where}")
    progress.message(f"run directory: {run_dir.root}")
    try:
        settings = {k: v for k, v in experiment.resolved["logging"].items() if k != "loggers"}  # the loggers go with the experiment
        observers = make_observers(LoggingConfig(**settings), run_dir, progress.message) if ranks.is_main else []
        trainer = Trainer(experiment, run_dir, progress, observers=observers)
        result = trainer.fit(resume=resuming)
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


def prepare_run_dir(name: str, out: str | None, resume: str | None, overwrite: bool) -> tuple[RunDir, bool]:
    """The run directory and whether to resume in it, decided before anything is built.

    ``resume`` is None (start; a directory holding a run is refused unless ``overwrite``),
    ``"always"`` (``--resume``: there must be a checkpoint) or ``"auto"`` (resume when there is a
    checkpoint, else start afresh, clearing a run killed before its first checkpoint).
    """
    if out:
        run_dir = RunDir(out)
    elif resume:
        candidates = sorted(p.parent.parent for p in Path("runs", name).glob("*/checkpoints/last.pt"))
        if candidates:
            run_dir = RunDir(candidates[-1])
        elif resume == "auto":
            run_dir = RunDir.default_for(name)
        else:
            raise GanforgeError(f"--resume: no run of '{name}' with a checkpoint under runs/{name}/; give the run with --out, or use --resume auto")
    else:
        run_dir = RunDir.default_for(name)
    if resume:
        if run_dir.last_checkpoint.is_file():
            return run_dir, True
        if resume != "auto":
            raise GanforgeError(
                f"--resume: no checkpoint at {run_dir.last_checkpoint}; start the run without --resume, "
                "or use --resume auto to resume when there is a checkpoint and start otherwise"
            )
        if run_dir.holds_run():
            run_dir.clear()  # killed before its first checkpoint: nothing to continue
        return run_dir, False
    if run_dir.holds_run():
        if not overwrite:
            resumable = "continue it with --resume, " if run_dir.last_checkpoint.is_file() else ""
            raise GanforgeError(f"{run_dir.root} holds {run_dir.describe()}; {resumable}start again with --overwrite, or choose another --out")
        run_dir.clear()
    return run_dir, False


def _as_plain(decision: tuple[RunDir, bool]) -> tuple[str, bool]:
    return str(decision[0].root), decision[1]


def make_observers(config: LoggingConfig, run_dir: RunDir, say: Callable[[str], None]) -> list[RunObserver]:
    """The observers the spec's ``logging:`` section asks for: the loss and metric plots at the end."""
    observers: list[RunObserver] = []
    if config.plots:
        if matplotlib_available():
            from ganforge.cli.plot_observer import PlotObserver

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
