"""Reading a folder of image files in batches (as pytorch-fid's command does)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch import Tensor

from ganforge.errors import GanforgeError

IMAGE_EXTENSIONS = frozenset({".bmp", ".gif", ".jpg", ".jpeg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp"})


def image_files(folder: Path | str) -> list[Path]:
    """The image files directly inside ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GanforgeError(f"{folder}: not a folder of images or an .npz of statistics")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if not files:
        raise GanforgeError(f"{folder}: no image files ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    return files


def read_image(path: Path) -> Tensor:
    """uint8 ``(C, H, W)``: grey images keep one channel, everything else becomes RGB."""
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("L") if image.mode in ("L", "I;16", "I", "1") else image.convert("RGB")
        array = np.array(image, dtype=np.uint8)
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array))


def image_batches(files: list[Path], batch_size: int) -> Iterator[Tensor]:
    """uint8 batches ``(N, C, H, W)`` of the files, in order; all images must share a size."""
    for start in range(0, len(files), batch_size):
        images = [read_image(p) for p in files[start : start + batch_size]]
        shapes = {tuple(i.shape) for i in images}
        if len(shapes) > 1:
            raise GanforgeError(f"{files[start].parent}: images differ in size ({sorted(shapes)[:2]}); resize them to one size first")
        yield torch.stack(images)
