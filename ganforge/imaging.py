"""Turning generated samples into pictures: a grid as one PNG (in memory or on disk), or one
PNG per sample. Images keep their channels: one channel gives a grey ("L") PNG, three an RGB one."""

from __future__ import annotations

import functools
import io
import tempfile
from pathlib import Path
from typing import Any, Protocol, Sequence

from PIL import Image
from torch import Tensor

from ganforge.errors import GanforgeError
from ganforge.files import atomic_write, make_directory


class DrawsSamples(Protocol):
    """What draws samples that are not images (a :class:`~ganforge.interfaces.Dataset` does)."""

    def save_samples(self, samples: Tensor, path: Path, nrow: int = 8) -> None: ...

#: pixels between grid cells
PADDING = 2


def is_image_batch(samples: Tensor) -> bool:
    """True for ``(N, C, H, W)`` samples with one or three channels."""
    return samples.dim() == 4 and samples.shape[1] in (1, 3)


def to_pil(image: Tensor) -> Image.Image:
    """A ``(C, H, W)`` tensor in [-1, 1] as a grey or RGB picture."""
    pixels = image.detach().float().cpu().clamp(-1.0, 1.0).add(1.0).mul(127.5).round().byte()
    if pixels.shape[0] == 1:
        return Image.fromarray(pixels[0].numpy())
    return Image.fromarray(pixels.permute(1, 2, 0).contiguous().numpy())


def grid_image(samples: Tensor, nrow: int) -> Image.Image:
    """``(N, C, H, W)`` samples in [-1, 1] as one grid, ``nrow`` images per row, black gaps."""
    from torchvision.utils import make_grid  # torchvision takes seconds to import: only when a grid is drawn

    grid = make_grid(samples.float().cpu(), nrow=nrow, padding=PADDING, pad_value=-1.0)
    if samples.shape[1] == 1:
        grid = grid[:1]  # make_grid repeats a single channel three times
    return to_pil(grid)


def grid_png(samples: Tensor, nrow: int, dataset: DrawsSamples | None = None) -> bytes:
    """The PNG bytes of a sample picture: a grid for images; for other data (e.g. 2-D points)
    the dataset's own :meth:`Dataset.save_samples` picture."""
    if is_image_batch(samples):
        buffer = io.BytesIO()
        grid_image(samples, nrow).save(buffer, format="PNG")
        return buffer.getvalue()
    if dataset is None:
        raise GanforgeError(f"samples of shape {tuple(samples.shape[1:])} are not images and no dataset can draw them")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "samples.png"
        dataset.save_samples(samples, path, nrow=nrow)
        return path.read_bytes()


def write_grid(samples: Tensor, nrow: int, path: Path, dataset: DrawsSamples | None = None) -> None:
    """Write the sample picture of :func:`grid_png` to ``path`` (atomically, with the umask).

    The one writer of sample grids: a run's pictures (through :meth:`Dataset.save_samples`)
    and ``ganforge sample`` both come here, so a grey model gives a grey ("L") PNG in both."""
    png = grid_png(samples, nrow, dataset)
    atomic_write(path, lambda f: f.write(png), sync=False)


def write_each(samples: Tensor, directory: Path, stems: Sequence[str]) -> list[Path]:
    """One PNG per sample in ``directory``, named ``<stem>.png``."""
    if not is_image_batch(samples):
        raise GanforgeError(
            f"one PNG per sample needs images (N, 1 or 3, H, W); these samples have shape {tuple(samples.shape[1:])}; write one picture instead (--out samples.png)"
        )
    make_directory(directory)
    paths = []
    for image, stem in zip(samples, stems):
        path = directory / f"{stem}.png"
        atomic_write(path, functools.partial(_save_png, to_pil(image)), sync=False)
        paths.append(path)
    return paths


def _save_png(picture: Any, stream: Any) -> None:
    picture.save(stream, format="PNG")
