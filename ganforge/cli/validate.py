"""``ganforge validate``: check a spec without training, or with a few scratch steps."""

from __future__ import annotations

import io
import math
import statistics
import tempfile
import time

import click
import torch

from ganforge.cli.common import describe_components, set_option
from ganforge.errors import GanforgeError, SpecError
from ganforge.experiment import Experiment, build_experiment, check_data_size
from ganforge.plugins import get_plugins
from ganforge.spec import apply_overrides, load_spec
from ganforge.training.progress import QuietProgress
from ganforge.training.rundir import RunDir
from ganforge.training.trainer import Trainer


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@set_option
@click.option(
    "--steps", type=click.IntRange(min=0), default=0, show_default=True,
    help="Also train N steps in a scratch directory that is removed after (e.g. 16 to reach lazy R1): "
    "finds what only a step shows and times a step.",
)  # fmt: skip
def validate(spec: str, overrides: tuple[str, ...], steps: int) -> None:
    """Check SPEC: section and parameter names, types, component names; build every component.

    With --steps N it also loads the data and trains N steps exactly as `ganforge run` would
    (the spec's device, precision, batch size), keeping nothing: a term that needs a network
    the spec lacks, shapes that do not fit, losses that are not finite show up here, and the
    time a step takes gives the run's length without metrics and checkpoints.

    \b
    Examples:
      ganforge validate specs/lsgan.yaml --set train.steps=10
      ganforge validate specs/stylegan2.yaml --steps 16
    """
    loaded = apply_overrides(load_spec(spec), overrides)
    experiment = build_experiment(loaded, get_plugins().registry)
    try:
        size: int | None = check_data_size(experiment, loaded)
    except SpecError:
        raise
    except GanforgeError as exc:  # data not on this machine yet: the spec itself is still checked
        size, unread = None, str(exc)
    timing = scratch_steps(experiment, steps) if steps else None  # a failing step must not follow an "OK"
    click.echo(f"{spec}: OK — {describe_components(experiment)}")
    if size is None:
        click.echo(f"data: not read, so its size is not checked against data.batch_size ({unread})", err=True)
    else:
        click.echo(f"data: {size:,} training samples, {size // experiment.batch_size:,} batches of {experiment.batch_size} per epoch")
    if timing:
        click.echo(timing)


def scratch_steps(experiment: Experiment, steps: int) -> str:
    """Train ``steps`` steps of ``experiment`` in a temporary run directory; a line saying how
    long a step took (the first, which compiles and warms caches, apart) and what the run would take."""
    said = io.StringIO()  # what the trainer tells a run (bf16 slower than fp32, a failed compile) comes first
    with tempfile.TemporaryDirectory(prefix="ganforge-validate-") as scratch:
        trainer = Trainer(experiment, RunDir(scratch), QuietProgress(said), loggers={})  # no W&B run for a scratch one
        trainer.prepare()
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            try:
                trainer.train_step()
            except GanforgeError:
                raise
            except Exception as exc:  # torch's own (out of memory, a shape outside any component): one line
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise GanforgeError(
                    f"step {trainer.state.step + 1} of the scratch run failed: {type(exc).__name__}{': ' + first if first else ''} (--debug shows where)"
                ) from exc
            trainer.state.step += 1
            means = {k: float(v) for k, v in trainer.losses.take_means().items()}  # syncs, so the time is the step's
            times.append(time.perf_counter() - start)
            bad = [k for k, v in means.items() if not math.isfinite(v)]
            if bad:
                raise GanforgeError(f"{', '.join(bad)} became {means[bad[0]]} at step {trainer.state.step} of the scratch run; lower the learning rates or check the loss")
        total = trainer.state.total_steps
    per_step = statistics.median(times[1:] or times)
    peak = f", peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB" if experiment.device.type == "cuda" else ""
    return said.getvalue() + (
        f"trained {steps} step{'s' if steps != 1 else ''} in a scratch directory (removed): {per_step * 1000:.1f} ms a step on "
        f"{experiment.device}{peak}; the spec's {total:,} steps would take about {_duration(per_step * total)} without metrics and checkpoints"
    )


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
