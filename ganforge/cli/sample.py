"""``ganforge sample``: images from a trained generator, as a grid or one file each."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ganforge.cli.trained import describe, load_from_options, trained_options
from ganforge.errors import GanforgeError
from ganforge.imaging import write_each, write_grid
from ganforge.sampling import INTERPOLATIONS, sampler_for

DEFAULT_COUNT = 64
DEFAULT_PAIRS = 8


@click.command()
@click.argument("target", metavar="RUN_DIR|CHECKPOINT", type=click.Path(exists=True))
@click.option("--n", "count", type=click.IntRange(min=1), help=f"Samples to draw (default {DEFAULT_COUNT}); with --interpolate, latent pairs (default {DEFAULT_PAIRS}).")
@click.option("--out", default="samples.png", show_default=True, help="A PNG file for a grid, or a directory (ending in /) for one PNG per sample.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the latents: the same seed gives the same images.")
@click.option("--class", "class_", metavar="NAME|INDEX", help="Class to draw from a conditional generator (default: every class, one per column).")
@click.option("--truncation", type=float, metavar="PSI", help="Truncation trick: redraw latent entries until |z| <= PSI (e.g. 0.7): less variety, more typical images.")
@click.option("--interpolate", type=click.IntRange(min=2), metavar="K", help="K images per row from one latent to another, one row per pair.")
@click.option("--path", "interpolation", type=click.Choice(INTERPOLATIONS), default="spherical", show_default=True, help="Interpolation path between the latents of a pair.")
@click.option("--nrow", type=click.IntRange(min=1), help="Images per grid row (default: square, or one column per class, or K).")
@trained_options
def sample(
    target: str, count: int | None, out: str, seed: int, class_: str | None, truncation: float | None, interpolate: int | None,
    interpolation: str, nrow: int | None, checkpoint: str, spec: str | None, device: str, no_ema: bool,
) -> None:  # fmt: skip
    """Draw samples from the generator of a run (RUN_DIR) or a checkpoint file.

    The run's EMA generator is used when it kept one. A bare generator state dict saved
    by another tool works when its spec is given with --spec.

    \b
    Examples:
      ganforge sample runs/lsgan/20250101-120000 --n 64 --out grid.png
      ganforge sample runs/cgan/20250101-120000 --class Sneaker --truncation 0.7 --out sneakers.png
      ganforge sample runs/cgan/20250101-120000 --n 100 --out images/          (one PNG per image)
      ganforge sample runs/lsgan/20250101-120000 --interpolate 10 --n 6 --path linear --out walk.png
      ganforge sample generator.pt --spec specs/lsgan.yaml --out grid.png
    """
    if truncation is not None and not truncation > 0:
        raise GanforgeError(f"--truncation must be a positive number such as 0.7, got {truncation}")
    trained = load_from_options(target, checkpoint, spec, device, no_ema)
    sampler = sampler_for(trained)
    label = sampler.class_index(class_) if class_ is not None else None
    if interpolate:
        samples = sampler.interpolation(count or DEFAULT_PAIRS, interpolate, interpolation, seed, label, truncation)
    else:
        samples = sampler.sample(count or DEFAULT_COUNT, seed, label, truncation)
    n = samples.images.shape[0]
    if out.endswith(("/", os.sep)) or Path(out).is_dir():
        stems = samples.names(sampler.class_names, interpolate)
        write_each(samples.images, Path(out), stems)
        where = f"{n} PNG files in {out}"
    else:
        write_grid(samples.images, nrow or samples.nrow, Path(out), trained.experiment.dataset)
        where = out
    click.echo(f"wrote {where}: {n} samples of {describe(trained)}", err=True)
