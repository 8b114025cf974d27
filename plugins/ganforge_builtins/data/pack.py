"""``ganforge dataset pack``: a folder of images into a stylegan2-ada / stylegan3 dataset ZIP."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import click
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset
from torchvision.io import encode_png

from ganforge.artifacts.outputs import overwrite_option, refuse_to_replace
from ganforge.errors import GanforgeError
from ganforge.interfaces.dataset import Split, UnreadableSample
from ganforge_builtins.data.image_folder import LABELS_FILE, ImageFolder


class _Encoded(TorchDataset[Any]):
    """Index -> (index, PNG bytes, None), or (index, None, why) for a file that cannot be read."""

    def __init__(self, split: Split) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> tuple[int, bytes | None, str | None]:
        try:
            image = self.split.get(index).image
        except UnreadableSample as exc:
            return index, None, str(exc)
        return index, encode_png(image, compression_level=6).numpy().tobytes(), None


def _single(items: list[Any]) -> Any:
    return items[0]


def archive_name(number: int) -> str:
    """stylegan's layout: ``00012/img00012345.png``, a thousand images a folder."""
    text = f"{number:08d}"
    return f"{text[:5]}/img{text}.png"


def pack(source: Path, out: Path, size: int, labels: bool, channels: int = 3, workers: int = 2) -> tuple[int, list[str]]:
    """Write ``source``'s images, resized (shorter side) and centre-cropped to ``size``, as PNGs
    in an uncompressed ZIP at ``out`` with stylegan's ``dataset.json``; returns the images
    written and the messages of the files skipped. Written to a temporary file, then renamed."""
    dataset = ImageFolder(str(source), image_size=size, channels=channels)  # type: ignore[arg-type]
    if labels and not dataset.num_classes:
        raise GanforgeError(f"{source}: --labels needs class subfolders (or a dataset.json of labels); it has neither")
    split = dataset.load("train")
    rows: list[list[Any]] = []
    skipped: list[str] = []
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    reader = DataLoader(_Encoded(split), batch_size=1, num_workers=workers, collate_fn=_single, prefetch_factor=4 if workers else None)
    progress = Progress(TextColumn(f"packing {source.name}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=Console(stderr=True))
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_STORED) as archive, progress:
            task = progress.add_task("pack", total=len(split))
            for index, png, problem in reader:
                progress.advance(task)
                if png is None:
                    skipped.append(str(problem))
                    progress.console.print(f"Warning: skipped {problem}")
                    continue
                name = archive_name(len(rows))
                archive.writestr(name, png)
                label = int(split.labels[index]) if labels and split.labels is not None else None
                rows.append([name, label])
            archive.writestr(LABELS_FILE, json.dumps({"labels": rows if labels else None}))
        if not rows:
            raise GanforgeError(f"{source}: none of its {len(split)} images could be read (see the warnings above)")
        temporary.replace(out)
    finally:
        temporary.unlink(missing_ok=True)
    return len(rows), skipped


@click.group("dataset")
def dataset_group() -> None:
    """Prepare datasets: pack a folder of images into one ZIP that trains without decoding
    anything ahead (`data: {name: image-folder, root: OUT.zip}`)."""


@dataset_group.command("pack")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--size", type=click.IntRange(min=4), required=True, help="Side of the square images: shorter side resized to it, then centre-cropped.")
@click.option("--labels", is_flag=True, help="Keep class subfolders (or SOURCE's dataset.json) as labels.")
@click.option("--channels", type=click.Choice(["1", "3"]), default="3", show_default=True, help="1 for grey, 3 for RGB.")
@click.option("--workers", type=click.IntRange(min=0), default=2, show_default=True, help="Processes decoding and encoding images.")
@overwrite_option
def pack_command(source: Path, out: Path, size: int, labels: bool, channels: str, workers: int, overwrite: bool) -> None:
    """Pack SOURCE (a folder of images, or a dataset ZIP) into OUT.zip in stylegan2-ada /
    stylegan3's dataset format: uncompressed PNGs of one size and a dataset.json of labels.
    A file that cannot be read is skipped with a warning.

    \b
    Example:
      ganforge dataset pack ~/photos/ffhq ffhq-256.zip --size 256
      ganforge dataset pack ~/photos/animals animals-128.zip --size 128 --labels
    """
    if out.suffix.lower() != ".zip":
        raise GanforgeError(f"{out}: the dataset is written as a ZIP archive; give a file name ending in .zip")
    refuse_to_replace([out], overwrite)
    torch.set_num_threads(1)
    written, skipped = pack(source, out, size, labels, int(channels), workers)
    note = f", {len(skipped)} unreadable file(s) skipped" if skipped else ""
    click.echo(f"wrote {out}: {written:,} images of {size}x{size}{' with labels' if labels else ''}{note}", err=True)

