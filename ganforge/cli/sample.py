"""``ganforge sample``: images from a trained generator, as a grid or one file each."""

from __future__ import annotations

import os
from pathlib import Path

import click
import torch
from torch import Tensor

from ganforge.artifacts.outputs import overwrite_option, refuse_to_replace
from ganforge.artifacts.sampling import INTERPOLATIONS, Sampler, Samples, sampler_for
from ganforge.artifacts.trained import describe, load_from_options, trained_options
from ganforge.errors import GanforgeError
from ganforge.imaging import write_each, write_grid

DEFAULT_COUNT = 64
DEFAULT_PAIRS = 8
DEFAULT_MIX_COLUMNS = 5
MIX_ROWS_PER_GROUP = 2
DEFAULT_NOISE_LATENTS = 4


@click.command()
@click.argument("target", metavar="RUN_DIR|CHECKPOINT", type=click.Path(exists=True))
@click.option("--n", "count", type=click.IntRange(min=1), help=f"Samples to draw (default {DEFAULT_COUNT}); with --interpolate, latent pairs (default {DEFAULT_PAIRS}).")
@click.option("--out", default="samples.png", show_default=True, help="A PNG file for a grid, or a directory (ending in /) for one PNG per sample.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the latents: the same seed gives the same images.")
@click.option("--class", "class_", metavar="NAME|INDEX", help="Class to draw from a conditional generator (default: every class, one per column).")
@click.option("--truncation", type=float, metavar="PSI", help="Truncation trick: redraw latent entries until |z| <= PSI (e.g. 0.7): less variety, more typical images.")
@click.option("--interpolate", type=click.IntRange(min=2), metavar="K", help="K images per row from one latent to another, one row per pair.")
@click.option("--path", "interpolation", type=click.Choice(INTERPOLATIONS), default="spherical", show_default=True, help="Interpolation path between the latents of a pair.")
@click.option("--style-mix", is_flag=True, help=f"Style-mixing figure: --n column sources (default {DEFAULT_MIX_COLUMNS}) whose coarse, middle or fine styles are replaced by those of {MIX_ROWS_PER_GROUP} row sources each (StyleGAN).")
@click.option("--noise-variation", type=click.IntRange(min=2), metavar="K", help=f"K draws of the per-pixel noise for each of --n latents (default {DEFAULT_NOISE_LATENTS}), then the per-pixel standard deviation (StyleGAN).")
@click.option("--nrow", type=click.IntRange(min=1), help="Images per grid row (default: square, or one column per class, or K).")
@overwrite_option
@trained_options
def sample(
    target: str, count: int | None, out: str, seed: int, class_: str | None, truncation: float | None, interpolate: int | None,
    interpolation: str, style_mix: bool, noise_variation: int | None, nrow: int | None, overwrite: bool,
    checkpoint: str, spec: str | None, device: str, no_ema: bool,
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
      ganforge sample runs/stylegan/20250101-120000 --style-mix --out mix.png
      ganforge sample runs/stylegan/20250101-120000 --noise-variation 8 --n 4 --out noise.png

    Existing files are not replaced unless --overwrite is given.
    """
    if truncation is not None and not truncation > 0:
        raise GanforgeError(f"--truncation must be a positive number such as 0.7, got {truncation}")
    if sum(bool(x) for x in (interpolate, style_mix, noise_variation)) > 1:
        raise GanforgeError("--interpolate, --style-mix and --noise-variation each make their own figure; give one of them")
    to_folder = out.endswith(("/", os.sep)) or Path(out).is_dir()
    if to_folder and (style_mix or noise_variation):
        raise GanforgeError("--style-mix and --noise-variation make one picture; give --out a .png file")
    if not to_folder:
        if Path(out).suffix.lower() != ".png":
            raise GanforgeError(f"--out {out}: a grid is written as PNG; give a file name ending in .png, or a folder ending in / for one PNG per sample")
        refuse_to_replace([Path(out)], overwrite)
    trained = load_from_options(target, checkpoint, spec, device, no_ema)
    sampler = sampler_for(trained)
    label = sampler.class_index(class_) if class_ is not None else None
    if interpolate:
        samples = sampler.interpolation(count or DEFAULT_PAIRS, interpolate, interpolation, seed, label, truncation)
    elif style_mix:
        samples = style_mixing(sampler, count or DEFAULT_MIX_COLUMNS, seed, label, truncation)
    elif noise_variation:
        samples = noise_variations(sampler, count or DEFAULT_NOISE_LATENTS, noise_variation, seed, label, truncation)
    else:
        samples = sampler.sample(count or DEFAULT_COUNT, seed, label, truncation)
    n = samples.images.shape[0]
    if to_folder:
        stems = samples.names(sampler.class_names, interpolate)
        refuse_to_replace((Path(out) / f"{stem}.png" for stem in stems), overwrite)
        write_each(samples.images, Path(out), stems)
        where = f"{n} PNG files in {out}"
    else:
        write_grid(samples.images, nrow or samples.nrow, Path(out), trained.experiment.dataset)
        where = out
    click.echo(f"wrote {where}: {n} samples of {describe(trained)}", err=True)


# ---- StyleGAN figures: generic, they ask the generator for what they need ----------------------------


def _require(sampler: Sampler, figure: str, *methods: str) -> None:
    """A one-line error when the generator does not offer the methods a figure needs."""
    missing = [m for m in methods if not callable(getattr(sampler.generator, m, None))]
    if missing:
        raise GanforgeError(
            f"{figure} needs a generator with {' and '.join(missing)} (e.g. stylegan); {type(sampler.generator).__name__} has no such method"
        )


def _styles(sampler: Sampler, z: Tensor, labels: Tensor | None, truncation: float | None, rng: torch.Generator) -> Tensor:
    """Per-layer styles w+ for latents ``z``, truncated in W when asked."""
    generator = sampler.generator
    y = None if labels is None else labels.to(sampler.device)
    with torch.inference_mode():
        if truncation is not None:
            return generator.truncate(z, truncation, rng, labels).to(sampler.device)
        return generator.map_latent(z.to(sampler.device), y)  # type: ignore[operator,no-any-return]


def style_mixing(sampler: Sampler, columns: int, seed: int, label: int | None, truncation: float | None) -> Samples:
    """The style-mixing figure (Karras et al., 2019, figure 3): the top row holds ``columns``
    column sources, the left column row sources, two per group; each cell is its column
    source with the styles of one group (coarse, middle or fine layers, as the generator's
    ``style_groups()`` says) taken from its row source. Needs ``map_latent`` and ``style_groups``."""
    _require(sampler, "--style-mix", "map_latent", "style_groups")
    generator = sampler.generator
    groups = [(name, layers) for name, layers in generator.style_groups().items() if len(layers)]  # type: ignore[operator]
    rows = MIX_ROWS_PER_GROUP * len(groups)
    rng = torch.Generator().manual_seed(seed)
    column_labels, row_labels = sampler._labels(columns, label), sampler._labels(rows, label)
    column_w = _styles(sampler, generator.sample_latent(columns, "cpu", rng), column_labels, truncation, rng)
    row_w = _styles(sampler, generator.sample_latent(rows, "cpu", rng), row_labels, truncation, rng)
    cells = []
    for r in range(rows):
        _, layers = groups[r // MIX_ROWS_PER_GROUP]
        mixed = column_w.clone()
        mixed[:, layers.start : layers.stop] = row_w[r, layers.start : layers.stop]
        cells.append(mixed)
    column_images = sampler._forward(column_w, column_labels)
    row_images = sampler._forward(row_w, row_labels)
    mixed_images = sampler._forward(torch.cat(cells), None if column_labels is None else column_labels.repeat(rows))
    blank = torch.full_like(column_images[:1], -1.0)
    grid = [torch.cat([blank, column_images])]
    for r in range(rows):
        grid.append(torch.cat([row_images[r : r + 1], mixed_images[r * columns : (r + 1) * columns]]))
    legend = ", ".join(f"rows {MIX_ROWS_PER_GROUP * i + 2}-{MIX_ROWS_PER_GROUP * i + MIX_ROWS_PER_GROUP + 1} {name} (style layers {layers.start}-{layers.stop - 1})" for i, (name, layers) in enumerate(groups))
    click.echo(f"style mixing: top row column sources, left column row sources; {legend} from the row source", err=True)
    return Samples(torch.cat(grid), columns + 1, torch.cat([column_w, row_w]).cpu(), None)


def noise_variations(sampler: Sampler, n: int, draws: int, seed: int, label: int | None, truncation: float | None) -> Samples:
    """The stochastic-variation figure (Karras et al., 2019, figure 4): one row per latent, its
    image under ``draws`` draws of the per-pixel noise (everything else fixed), then the
    per-pixel standard deviation over the draws (mean over channels, scaled to the row's
    maximum: black is none). Needs ``noise_variations``."""
    _require(sampler, "--noise-variation", "noise_variations")
    generator = sampler.generator
    rng = torch.Generator().manual_seed(seed)
    labels = sampler._labels(n, label)
    latent = generator.sample_latent(n, "cpu", rng)
    if truncation is not None:
        latent = generator.truncate(latent, truncation, rng, labels)
    with torch.inference_mode():
        images = generator.noise_variations(latent.to(sampler.device), None if labels is None else labels.to(sampler.device), draws, rng).float().cpu()  # type: ignore[operator]
    std = images.std(dim=1).mean(dim=1, keepdim=True)
    peak = std.flatten(1).amax(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
    std_image = (2 * std / peak - 1).expand(-1, images.shape[2], -1, -1)
    grid = torch.cat([images, std_image.unsqueeze(1)], dim=1).flatten(0, 1)
    click.echo(f"noise variation: each row one latent under {draws} noise draws, then the per-pixel standard deviation (white = the row's largest)", err=True)
    return Samples(grid, draws + 1, latent.cpu(), labels)
