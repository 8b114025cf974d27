"""``ganforge export``: a run's generator as ONNX, TorchScript or safetensors, with a model card."""

from __future__ import annotations

from pathlib import Path

import click

from ganforge.artifacts.outputs import overwrite_option, refuse_to_replace
from ganforge.artifacts.trained import describe, load_from_options, trained_options
from ganforge.serving.export import FORMATS, card_path, export


@click.command("export")
@click.argument("target", metavar="RUN_DIR|CHECKPOINT", type=click.Path(exists=True))
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS), help="onnx and torchscript: a runnable model; safetensors: the weights.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The file to write; its model card goes beside it as NAME.EXT.card.json.")
@overwrite_option
@trained_options
def export_command(target: str, fmt: str, out: str, overwrite: bool, checkpoint: str, spec: str | None, device: str, no_ema: bool) -> None:
    """Export a run's generator for use outside ganforge.

    \b
    Examples:
      ganforge export runs/stylegan2 --format onnx --out stylegan2.onnx
      ganforge export runs/esrgan --format torchscript --out esrgan.pt
      ganforge export runs/cgan --format safetensors --out cgan.safetensors
    The model is the generator in eval mode (EMA weights when the run kept them): images =
    f(z), f(z, labels) for a conditional generator, or f(lr) for super-resolution, with a
    dynamic batch size; outputs in [-1, 1]. ONNX and TorchScript files are run once after
    writing and compared with the generator (to 1e-4). The model card NAME.EXT.card.json states
    the inputs, shapes, value ranges, classes and the spec. ONNX needs pip install 'ganforge[onnx]'.
    """
    path = Path(out)
    refuse_to_replace([path, card_path(path)], overwrite)
    trained = load_from_options(target, checkpoint, spec, "cpu", no_ema)
    source = {"run": str(target), "checkpoint": str(trained.checkpoint_path), "step": trained.step, "weights": "ema" if trained.uses_ema else "generator"}
    class_names = tuple(trained.experiment.dataset.class_names)
    card = export(trained.generator, fmt, path, trained.experiment.resolved, source, class_names)  # type: ignore[arg-type]
    checked = f"; checked, largest difference {card['checked']['max_abs_difference']:.1e}" if "checked" in card else ""
    click.echo(f"{path} ({fmt}, {card['kind']}) from {describe(trained)}{checked}; model card {card_path(path)}")
