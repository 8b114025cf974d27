"""``ganforge fid``: FID between two folders of images or statistics files."""

from __future__ import annotations

from pathlib import Path

import click

from ganforge.cli.features import batch_size_option, build_extractor, device_option, extractor_option, pick_device, statistics
from ganforge.image_folder import image_batches, image_files
from ganforge.interfaces.extractor import FeatureExtractor
from ganforge.stats import FeatureStats, frechet_distance, load_stats


def stats_of(path: Path, extractor: FeatureExtractor, batch_size: int) -> FeatureStats:
    """Statistics from an ``.npz`` file, or computed from a folder of images."""
    if path.suffix == ".npz" and path.is_file():
        return load_stats(path, extractor.device)
    files = image_files(path)
    return statistics(extractor, image_batches(files, batch_size), len(files), f"{path.name}")


@click.command("fid")
@click.argument("paths", nargs=2, type=click.Path(exists=True, path_type=Path))
@extractor_option
@batch_size_option
@device_option
def fid(paths: tuple[Path, Path], extractor: str, batch_size: int, device: str) -> None:
    """FID between two folders of images or .npz statistics files (as pytorch-fid's command).

    \b
    Examples:
      ganforge fid generated/ real/
      ganforge fid generated/ cifar10-train.npz --device cuda
    """
    network = build_extractor(extractor).prepare(None, pick_device(device))
    first, second = (stats_of(path, network, batch_size) for path in paths)
    click.echo(f"FID: {frechet_distance(first, second)}")
