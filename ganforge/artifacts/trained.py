"""Options shared by the commands that use a trained generator (sample, serve)."""

from __future__ import annotations

from typing import Any, Callable

import click

from ganforge.artifacts.loading import TrainedGenerator, load_trained


def trained_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--checkpoint``, ``--spec``, ``--device`` and ``--no-ema`` for a command taking TARGET."""
    options = [
        click.option("--checkpoint", default="last", show_default=True, metavar="last|best|PATH",
                     help="Which checkpoint of a run directory to use."),
        click.option("--spec", type=click.Path(dir_okay=False, exists=True),
                     help="The spec the generator was trained with; needed for a bare generator state dict."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."),
        click.option("--no-ema", is_flag=True, help="Use the raw generator weights even when the run kept an EMA copy."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def load_from_options(target: str, checkpoint: str, spec: str | None, device: str, no_ema: bool) -> TrainedGenerator:
    """:func:`load_trained` with the values of :func:`trained_options`."""
    return load_trained(target, checkpoint=checkpoint, spec=spec, device=device, prefer_ema=not no_ema)


def describe(trained: TrainedGenerator) -> str:
    """``<name> step N (EMA weights) from <checkpoint>`` for messages."""
    step = f" step {trained.step}" if trained.step is not None else ""
    weights = "EMA weights" if trained.uses_ema else "generator weights"
    return f"{trained.experiment.name}{step} ({weights}) from {trained.checkpoint_path}"
