"""``ganforge stats``: reference statistics of a dataset or a folder of images."""

from __future__ import annotations

from pathlib import Path

import click

from ganforge.cache import dataset_key
from ganforge.cli.features import (
    batch_size_option,
    build_dataset,
    device_option,
    extractor_from,
    extractor_option,
    statistics,
    weights_option,
)  # fmt: skip
from ganforge.experiment import pick_device
from ganforge.image_folder import image_batches, image_files, prefetched
from ganforge.provenance import extractor_provenance, ganforge_version
from ganforge.stats import save_stats


@click.command("stats")
@click.argument("source")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The .npz file to write.")
@click.option("--split", default="train", show_default=True, help="Dataset split (for a dataset name).")
@click.option("--samples", type=click.IntRange(min=2), default=None, help="Use only the first N images (default: all).")
@extractor_option
@weights_option
@batch_size_option
@device_option
def stats(source: str, out: Path, split: str, samples: int | None, extractor: str, weights: Path | None, batch_size: int, device: str) -> None:
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
        batches = (data.samples[i : min(i + batch_size, total)] for i in range(0, total, batch_size))
        result = statistics(network, batches, total, f"{source} {split}")
        origin = {"dataset": source, "split": split, "key": dataset_key(dataset, split), "samples": total}
    provenance = {"ganforge_version": ganforge_version(), "extractor": extractor_provenance(network), "source": origin, "statistics": "float64"}
    save_stats(result, out, provenance)
    click.echo(f"wrote {out}: {result.n} samples, {result.dim}-d features")
