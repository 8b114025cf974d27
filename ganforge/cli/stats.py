"""``ganforge stats``: reference statistics of a dataset or a folder of images."""

from __future__ import annotations

from pathlib import Path

import click

from ganforge.cli.features import (
    batch_size_option,
    build_dataset,
    build_extractor,
    device_option,
    extractor_option,
    statistics,
)  # fmt: skip
from ganforge.experiment import pick_device
from ganforge.image_folder import image_batches, image_files
from ganforge.stats import save_stats


@click.command("stats")
@click.argument("source")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The .npz file to write.")
@click.option("--split", default="train", show_default=True, help="Dataset split (for a dataset name).")
@click.option("--samples", type=click.IntRange(min=2), default=None, help="Use only the first N images (default: all).")
@extractor_option
@batch_size_option
@device_option
def stats(source: str, out: Path, split: str, samples: int | None, extractor: str, batch_size: int, device: str) -> None:
    """Write feature statistics (pytorch-fid's .npz: mu, sigma) of a dataset or an image folder.

    SOURCE is a folder of images or a registered dataset: a name (see `ganforge list dataset`)
    or a mapping with its parameters, e.g. '{name: synthetic, num_classes: 10}'.

    \b
    Examples:
      ganforge stats fashion-mnist --extractor classifier --out fmnist-train.npz
      ganforge stats real_images/ --out ref.npz
    """
    target = pick_device(device)
    if Path(source).is_dir():
        network = build_extractor(extractor).prepare(None, target)
        files = image_files(source)[:samples]
        result = statistics(network, image_batches(files, batch_size), len(files), Path(source).name)
    else:
        dataset = build_dataset(source)
        network = build_extractor(extractor).prepare(dataset, target)
        data = dataset.load(split)
        total = len(data) if samples is None else min(samples, len(data))
        batches = (data.samples[i : min(i + batch_size, total)] for i in range(0, total, batch_size))
        result = statistics(network, batches, total, f"{source} {split}")
    save_stats(result, out)
    click.echo(f"wrote {out}: {result.n} samples, {result.dim}-d features")
