"""Super-resolution commands: ``ganforge upscale`` and ``ganforge interpolate-weights`` (ESRGAN §3.4)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import click
import torch
from PIL import Image
from torch import Tensor

from ganforge.artifacts.outputs import overwrite_option, refuse_to_replace
from ganforge.checkpoint import load_checkpoint, save_checkpoint
from ganforge.errors import GanforgeError
from ganforge.files import atomic_write, atomic_write_text
from ganforge.imaging import to_pil
from ganforge.interfaces import Generator
from ganforge.serving.tiling import image_to_image_scale, upscale_image
from ganforge.training.rundir import RunDir
from ganforge_builtins.data.image_files import IMAGE_EXTENSIONS
from ganforge_builtins.superres.data import read_image


def sr_scale(generator: Generator, where: str) -> int:
    """The upscaling factor of a super-resolution generator; a one-line error for any other."""
    scale = image_to_image_scale(generator, "lr")
    if scale is None:
        raise GanforgeError(f"{where} is not a super-resolution run: its generator ({type(generator).__name__}) does not upscale an 'lr' input")
    return scale


def _targets(source: Path, out_text: str) -> list[tuple[Path, Path]]:
    out = Path(out_text)
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise GanforgeError(f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) in {source}")
        return [(p, out / f"{p.stem}.png") for p in files]
    if not source.exists():
        raise GanforgeError(f"{source} does not exist; give an image file or a folder of images")
    if out.is_dir() or out_text.endswith(("/", "\\")):
        return [(source, out / f"{source.stem}.png")]
    if out.suffix.lower() not in IMAGE_EXTENSIONS:
        raise GanforgeError(f"--out {out_text}: give an image file name (e.g. {source.stem}_x.png) or a folder ending in /")
    return [(source, out)]


def _one_each(targets: list[tuple[Path, Path]]) -> list[tuple[Path, Path]]:
    """``targets``, refused in one line when two sources would be written to one file."""
    seen: dict[Path, Path] = {}
    for source, destination in targets:
        if destination in seen:
            raise GanforgeError(f"{seen[destination]} and {source} would both be written to {destination}; rename one of them")
        seen[destination] = source
    return targets


@click.command("upscale")
@click.argument("target", type=click.Path(exists=True))
@click.argument("source", type=click.Path())
@click.option("--out", required=True, type=click.Path(), help="Output PNG for one image, or a folder (for a folder of images, or a path ending in /).")
@click.option("--checkpoint", default="last", show_default=True, metavar="last|best|PATH", help="Which checkpoint of the run to use.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--no-ema", is_flag=True, help="Use the raw generator weights even when the run kept an EMA copy.")
@click.option("--tile", default=128, show_default=True, type=click.IntRange(min=8), help="Low-resolution tile side; larger images are upscaled tile by tile.")
@click.option("--overlap", default=16, show_default=True, type=click.IntRange(min=0), help="Low-resolution context pixels around each tile.")
@overwrite_option
def upscale_command(target: str, source: str, out: str, checkpoint: str, device: str, no_ema: bool, tile: int, overlap: int, overwrite: bool) -> None:
    """Upscale an image, or every image of a folder, with a super-resolution run's generator.

    \b
    Examples:
      ganforge upscale runs/srgan photo.png --out photo_x4.png
      ganforge upscale runs/srgan photos/ --out upscaled/
    Colour or grey as the run was trained; any size (tiled with overlap when large). An
    unreadable file is reported in one line and the others are still upscaled (exit code 2).
    Existing files are not replaced unless --overwrite is given.
    """
    from ganforge.artifacts.loading import load_trained

    targets = _one_each(_targets(Path(source), out))
    refuse_to_replace((destination for _, destination in targets), overwrite)
    trained = load_trained(target, checkpoint=checkpoint, device=device, prefer_ema=not no_ema)
    generator = trained.generator
    sr_scale(generator, target)
    channels = generator.image_shape[0]
    failed = 0
    for path, destination in targets:
        try:
            image = read_image(path, channels)
        except GanforgeError as exc:
            click.echo(f"Error: {exc}", err=True)
            failed += 1
            continue
        result = upscale_image(generator, image, "lr", tile, overlap)
        save = functools.partial(to_pil(result).save, format=Image.registered_extensions()[destination.suffix.lower()])
        atomic_write(destination, save, sync=False)
        click.echo(f"{path} ({image.shape[2]}x{image.shape[1]}) -> {destination} ({result.shape[2]}x{result.shape[1]})")
    if failed:
        raise click.exceptions.Exit(2)


def _generator_section(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in dict(spec.get("generator") or {}).items() if k != "init_from"}


def blend(a: dict[str, Tensor], b: dict[str, Tensor], alpha: float) -> dict[str, Tensor]:
    """(1 − alpha)·a + alpha·b for floating tensors; integer buffers (batch-norm counters) from b."""
    return {k: torch.lerp(a[k].float(), b[k].float(), alpha).to(b[k].dtype) if b[k].is_floating_point() else b[k].clone() for k in b}


@click.command("interpolate-weights")
@click.argument("run_a", type=click.Path(exists=True))
@click.argument("run_b", type=click.Path(exists=True))
@click.option("--alpha", default=0.8, show_default=True, type=click.FloatRange(0.0, 1.0), help="Weight of RUN_B: (1 − alpha)·A + alpha·B.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="The new run directory.")
@click.option("--checkpoint", default="last", show_default=True, type=click.Choice(["last", "best"]), help="Which checkpoint of each run.")
@overwrite_option
def interpolate_weights_command(run_a: str, run_b: str, alpha: float, out: str, checkpoint: str, overwrite: bool) -> None:
    """Blend two runs' generators (ESRGAN's network interpolation) into a new run directory.

    \b
    Example: ganforge interpolate-weights runs/rrdb-psnr runs/esrgan --alpha 0.8 --out runs/esrgan-interp
    RUN_A is typically the pixel-loss run, RUN_B the adversarial run warm-started from it; both
    must have the same generator. Every floating-point weight (and the EMA copy, when both runs
    kept one) becomes (1 − alpha)·A + alpha·B. The result is a run directory that sample,
    upscale, eval and serve accept (spec and step from RUN_B).
    """
    states = []
    for run in (run_a, run_b):
        folder = RunDir(run)
        path = folder.last_checkpoint if checkpoint == "last" else folder.best_checkpoint
        if not Path(run).is_dir() or not path.is_file():
            raise GanforgeError(f"{run} is not a run directory with checkpoints/{checkpoint}.pt")
        states.append(load_checkpoint(path))
    first, second = states
    if not isinstance(first.get("spec"), dict) or not isinstance(second.get("spec"), dict):
        raise GanforgeError("both checkpoints must be ganforge checkpoints carrying their spec")
    if _generator_section(first["spec"]) != _generator_section(second["spec"]):
        raise GanforgeError(f"{run_a} and {run_b} have different generators ({_generator_section(first['spec'])} vs {_generator_section(second['spec'])}); interpolate runs of one architecture")
    if set(first["generator"]) != set(second["generator"]):
        raise GanforgeError(f"{run_a} and {run_b} have generators with different layers; interpolate runs of one architecture")
    ema = None
    if first.get("ema") is not None and second.get("ema") is not None:
        ema = blend(first["ema"], second["ema"], alpha)
    target = RunDir(out)
    record = target.root / "interpolated.json"
    refuse_to_replace([target.last_checkpoint, target.status_path, target.metrics_path, target.spec_path, record], overwrite)
    if overwrite:
        target.clear()
    target.create()
    spec = dict(second["spec"])
    state = {"step": second.get("step", 0), "spec": spec, "generator": blend(first["generator"], second["generator"], alpha), "ema": ema}
    save_checkpoint(state, target.last_checkpoint)
    target.write_spec(spec)
    step = int(second.get("step") or 0)
    target.log({"step": step, "interpolation/alpha": alpha})
    target.write_status("finished", step, step)
    atomic_write_text(record, json.dumps({"run_a": str(run_a), "run_b": str(run_b), "alpha": alpha, "checkpoint": checkpoint}) + "\n")
    click.echo(f"{out}: (1 - {alpha})·{run_a} + {alpha}·{run_b}")
