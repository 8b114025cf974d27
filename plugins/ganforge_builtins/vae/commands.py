"""``ganforge reconstruct``: test images beside their reconstructions by a trained VAE."""

from __future__ import annotations

from pathlib import Path

import click
import torch
from torch import Tensor

from ganforge.artifacts.outputs import overwrite_option, refuse_to_replace
from ganforge.artifacts.trained import describe, load_from_options, trained_options
from ganforge.errors import GanforgeError
from ganforge.imaging import write_grid
from ganforge.interfaces import Generator, to_model_range
from ganforge.interfaces.networks import as_generated
from ganforge.interfaces.reading import ordered_batches

PAIRS_PER_ROW = 8


def require_encoder(generator: Generator) -> None:
    """A one-line error for a generator that does not read ``real``: it has no encoder."""
    if "real" not in generator.inputs:
        raise GanforgeError(f"this run's generator ({type(generator).__name__}) has no encoder (it does not read 'real'), so it cannot reconstruct images; use a VAE run")


def reconstruct_images(generator: Generator, real: Tensor, seed: int = 0) -> Tensor:
    """Each of ``real`` (in [-1, 1]) followed by its reconstruction: ``(2N, *image_shape)``.

    The reparameterised sample is drawn from ``seed`` without touching the global random stream.
    """
    require_encoder(generator)
    device = next(generator.parameters()).device
    real = real.to(device)
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.inference_mode():
        torch.manual_seed(seed)
        z = generator.sample_latent(real.shape[0], device)
        reconstructed = as_generated(generator(z, None, real=real)).samples
    return torch.stack([real, reconstructed.to(real.dtype)], dim=1).flatten(0, 1)


@click.command()
@click.argument("target", metavar="RUN_DIR|CHECKPOINT", type=click.Path(exists=True))
@click.option("--n", "count", type=click.IntRange(min=1), default=32, show_default=True, help="Test images to reconstruct.")
@click.option("--out", default="recon.png", show_default=True, type=click.Path(dir_okay=False, path_type=Path), help="The PNG grid to write.")
@click.option("--split", default="test", show_default=True, help="Dataset split the images come from.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the encoder's reparameterised samples.")
@overwrite_option
@trained_options
def reconstruct(target: str, count: int, out: Path, split: str, seed: int, overwrite: bool, checkpoint: str, spec: str | None, device: str, no_ema: bool) -> None:
    """Write the first N images of a split beside their reconstructions by a run's VAE.

    Each original is followed by its reconstruction, 8 pairs a row. Runs whose generator
    has no encoder (every GAN) are refused with one line.

    \b
    Example:
      ganforge reconstruct runs/vae/20250101-120000 --n 32 --out recon.png
    """
    if out.suffix.lower() != ".png":
        raise GanforgeError(f"--out {out}: the grid is written as PNG; give a file name ending in .png")
    refuse_to_replace([out], overwrite)
    trained = load_from_options(target, checkpoint, spec, device, no_ema)
    require_encoder(trained.generator)
    data = trained.experiment.dataset.load(split)
    real = to_model_range(next(ordered_batches(data, range(min(count, len(data))), count)).samples)
    pairs = reconstruct_images(trained.generator, real, seed)
    write_grid(pairs.cpu(), 2 * min(PAIRS_PER_ROW, real.shape[0]), out, trained.experiment.dataset)
    click.echo(f"wrote {out}: {real.shape[0]} {split} images and their reconstructions by {describe(trained)}", err=True)
