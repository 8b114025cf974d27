"""``ganforge fid`` and ``ganforge stats``: FID between folders of images or statistics
files, and reference statistics of a dataset or an image folder (pytorch-fid's ``.npz``).

Registered through ``register_commands`` like any plugin's commands."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Iterable

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import Tensor

from ganforge.artifacts.features import batch_size_option, build_dataset, device_option, extractor_from, extractor_option, weights_option
from ganforge.artifacts.outputs import overwrite_option, refuse_to_replace
from ganforge.cache import dataset_key
from ganforge.errors import GanforgeError
from ganforge.experiment import pick_device
from ganforge.interfaces.extractor import FeatureExtractor
from ganforge.interfaces.reading import ordered_batches
from ganforge.provenance import extractor_provenance, file_digest, ganforge_version
from ganforge_builtins.data.image_files import image_batches, image_files, prefetched
from ganforge_builtins.stats import FeatureStats, FrechetReference, RunningStats, load_stats, save_stats, stats_provenance


def progress_bar() -> Progress:
    """A transient progress bar on stderr; each task's description is shown as it is (a
    dataset given as ``{name: synthetic}`` is neither a format string nor markup)."""
    return Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True, console=Console(stderr=True))


def statistics(extractor: FeatureExtractor, batches: Iterable[Tensor], total: int, description: str) -> FeatureStats:
    """Float64 feature statistics of image batches, with a progress bar on stderr."""
    running = RunningStats(keep_features=total <= (extractor.feature_dim or total))
    with progress_bar() as bar:
        task = bar.add_task(description, total=total)
        for images in batches:
            running.update(extractor.features(images))
            bar.advance(task, images.shape[0])
    return running.finalize()


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


@click.command("stats")
@click.argument("source")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The .npz file to write.")
@click.option("--split", default="train", show_default=True, help="Dataset split (for a dataset name).")
@click.option("--samples", type=click.IntRange(min=2), default=None, help="Use only the first N images (default: all).")
@extractor_option
@weights_option
@batch_size_option
@device_option
@overwrite_option
def stats(source: str, out: Path, split: str, samples: int | None, extractor: str, weights: Path | None, batch_size: int, device: str, overwrite: bool) -> None:
    """Write feature statistics (pytorch-fid's .npz: mu, sigma) of a dataset or an image folder.

    SOURCE is a folder of images or a registered dataset: a name (see `ganforge list dataset`)
    or a mapping with its parameters, e.g. '{name: synthetic, num_classes: 10}'.

    The extractor's weights file is looked for in --weights, then in the folder
    $GANFORGE_WEIGHTS, then in torch hub's cache (inception-v3:
    pt_inception-2015-12-05-6726825d.pth). The file also records how it was made (extractor,
    weights digest, source); at fewer samples than feature dimensions it keeps the feature
    vectors too, so it gives the same FID as the images.

    \b
    Examples:
      ganforge stats fashion-mnist --extractor classifier --out fmnist-train.npz
      ganforge stats real_images/ --out ref.npz
      ganforge stats real_images/ --out ref.npz --weights ~/weights/pt_inception-2015-12-05-6726825d.pth
    """
    if out.suffix != ".npz":
        raise GanforgeError(f"--out {out}: statistics files end in .npz (ganforge fid and pytorch-fid recognise them by it); e.g. --out {out.with_suffix('.npz').name}")
    refuse_to_replace([out], overwrite)
    if not source.lstrip().startswith("{") and ("/" in source or os.sep in source) and not Path(source).is_dir():
        raise GanforgeError(f"{source}: {'not a folder' if Path(source).exists() else 'no such folder'}; SOURCE is a folder of images or a dataset (see `ganforge list dataset`)")
    target = pick_device(device)
    if Path(source).is_dir():
        network = extractor_from(extractor, weights).prepare(None, target)
        files = image_files(source)[:samples]
        result = statistics(network, prefetched(image_batches(files, batch_size)), len(files), Path(source).name)
        origin = {"folder": str(Path(source).resolve()), "files": len(files)}
    else:
        dataset = build_dataset(source)
        network = extractor_from(extractor, weights).prepare(dataset, target)
        data = dataset.load(split)
        total = len(data) if samples is None else min(samples, len(data))
        batches = (batch.samples for batch in ordered_batches(data, range(total), batch_size, workers=2))
        result = statistics(network, batches, total, f"{source} {split}")
        origin = {"dataset": source, "split": split, "key": dataset_key(dataset, split), "samples": total}
    provenance = {"ganforge_version": ganforge_version(), "extractor": extractor_provenance(network), "source": origin, "statistics": "float64"}
    save_stats(result, out, provenance)
    click.echo(f"wrote {out}: {result.n} samples, {result.dim}-d features")
