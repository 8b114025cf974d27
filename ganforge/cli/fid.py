"""``ganforge fid``: FID between two folders of images or statistics files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import click

from ganforge.cli.features import batch_size_option, device_option, extractor_from, extractor_option, statistics, weights_option
from ganforge.experiment import pick_device
from ganforge.image_folder import image_batches, image_files, prefetched
from ganforge.interfaces.extractor import FeatureExtractor
from ganforge.provenance import extractor_provenance, file_digest, ganforge_version
from ganforge.stats import FeatureStats, FrechetReference, load_stats, stats_provenance


def stats_of(path: Path, extractor: Callable[[], FeatureExtractor], batch_size: int, device: str = "cpu") -> FeatureStats:
    """Statistics from an ``.npz`` file (no network is built), or computed from a folder of
    images with ``extractor()``, built on first need."""
    if path.suffix == ".npz" and path.is_file():
        return load_stats(path, device)
    files = image_files(path)
    return statistics(extractor(), prefetched(image_batches(files, batch_size)), len(files), f"{path.name}")


@click.command("fid")
@click.argument("paths", nargs=2, type=click.Path(exists=True, path_type=Path))
@extractor_option
@weights_option
@batch_size_option
@device_option
@click.option("--json", "as_json", is_flag=True, help="Print the value and its provenance as one JSON object.")
def fid(paths: tuple[Path, Path], extractor: str, weights: Path | None, batch_size: int, device: str, as_json: bool) -> None:
    """FID between two folders of images or .npz statistics files (as pytorch-fid's command).

    Two .npz files are compared directly: no network is built and no weights are needed. For a
    folder, the extractor's weights file is looked for in --weights, then in the folder
    $GANFORGE_WEIGHTS, then in torch hub's cache (inception-v3:
    pt_inception-2015-12-05-6726825d.pth).

    \b
    Examples:
      ganforge fid generated/ real/
      ganforge fid generated/ cifar10-train.npz --device cuda
      ganforge fid generated/ real/ --weights ~/weights/pt_inception-2015-12-05-6726825d.pth
      ganforge fid a.npz b.npz --json
    """
    target = pick_device(device)
    built: list[FeatureExtractor] = []

    def network() -> FeatureExtractor:
        if not built:
            built.append(extractor_from(extractor, weights).prepare(None, target))
        return built[0]

    if not all(path.suffix == ".npz" and path.is_file() for path in paths):
        network()  # a bad --extractor is reported before any folder is read
    first, second = (stats_of(path, network, batch_size, str(target)) for path in paths)
    keys = []
    for path in paths:
        made_with = stats_provenance(path) if path.suffix == ".npz" and path.is_file() else None
        key = (made_with or {}).get("extractor", {}).get("key") if made_with else (built[0].cache_key if built else None)
        keys.append(key)
    if None not in keys and keys[0] != keys[1]:
        click.echo(f"Warning: {paths[0]} and {paths[1]} come from different extractors ({keys[0]} vs {keys[1]}): this FID compares two feature spaces", err=True)
    reference = FrechetReference(first)
    value = reference.distance(second)
    if not as_json:
        click.echo(f"FID: {value}")
        return
    sources = []
    for path, stats in zip(paths, (first, second)):
        source = {"path": str(path), "samples": stats.n}
        if path.suffix == ".npz" and path.is_file():
            source.update(kind="npz", sha256=file_digest(path), made_with=stats_provenance(path))
        else:
            source["kind"] = "folder"
        sources.append(source)
    provenance = {
        "ganforge_version": ganforge_version(), "extractor": extractor_provenance(built[0]) if built else None,
        "sources": sources, "statistics": "float64 mean, unbiased (n - 1) covariance", "route": reference.last_route,
    }  # fmt: skip
    click.echo(json.dumps({"fid": value, "provenance": provenance}))
