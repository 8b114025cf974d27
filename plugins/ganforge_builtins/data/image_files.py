"""Reading a folder of image files in batches (as pytorch-fid's command does).

A file that cannot be used (empty, corrupt or truncated, not an image, or larger than
:data:`MAX_IMAGE_PIXELS`: a decompression bomb) is reported in one ``Warning: skipped ...`` line
on stderr and skipped; a folder with no usable image is an error.
"""

from __future__ import annotations

import queue
import sys
import threading
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import numpy as np
import torch
from torch import Tensor

from ganforge.errors import GanforgeError

T = TypeVar("T")

#: the most pixels an image may have (64 Mpx, e.g. 8192 x 8192); larger files are refused
#: before they are decoded. Set explicitly rather than relying on PIL's default and its warning.
MAX_IMAGE_PIXELS = 64 * 2**20

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


class UnreadableImage(GanforgeError):
    """An image file that cannot be used; the message names the file and why."""


def read_image(path: Path) -> Tensor:
    """uint8 ``(C, H, W)``: grey images keep one channel, everything else becomes RGB.

    Raises :class:`UnreadableImage` for an empty, corrupt, truncated or non-image file, and for
    one with more than :data:`MAX_IMAGE_PIXELS` pixels (checked from the header, before decoding).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        if path.stat().st_size == 0:
            raise UnreadableImage(f"{path}: empty file")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, MAX_IMAGE_PIXELS
            try:
                with Image.open(path) as image:
                    width, height = image.size
                    if width * height > MAX_IMAGE_PIXELS:
                        raise UnreadableImage(f"{path}: {width}x{height} pixels, more than the limit of {MAX_IMAGE_PIXELS} (a decompression bomb?)")
                    image = image.convert("L") if image.mode in ("L", "I;16", "I", "1") else image.convert("RGB")
                    array = np.array(image, dtype=np.uint8)
            finally:
                Image.MAX_IMAGE_PIXELS = limit
    except UnreadableImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnreadableImage(f"{path}: too many pixels ({exc})") from None
    except UnidentifiedImageError:
        raise UnreadableImage(f"{path}: not an image file PIL can read") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise UnreadableImage(f"{path}: corrupt or truncated image ({' '.join(str(exc).split()) or type(exc).__name__})") from None
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array))


def report_skipped(problem: str) -> None:
    """The default report of a skipped file: one line on stderr."""
    print(f"Warning: skipped {problem}", file=sys.stderr)


def image_batches(files: list[Path], batch_size: int, skipped: Callable[[str], None] = report_skipped) -> Iterator[Tensor]:
    """uint8 batches ``(N, C, H, W)`` of the usable files, in order; all images must share a size.
    Each unusable file is reported through ``skipped`` and left out."""
    used = 0
    for start in range(0, len(files), batch_size):
        images = []
        for path in files[start : start + batch_size]:
            try:
                images.append(read_image(path))
            except UnreadableImage as exc:
                skipped(str(exc))
        if not images:
            continue
        shapes = {tuple(i.shape) for i in images}
        if len(shapes) > 1:
            raise GanforgeError(f"{files[start].parent}: images differ in size ({sorted(shapes)[:2]}); resize them to one size first")
        used += len(images)
        yield torch.stack(images)
    if files and not used:
        raise GanforgeError(f"{files[0].parent}: none of the {len(files)} image files could be read (see the warnings above)")


def prefetched(batches: Iterator[T], depth: int = 2) -> Iterator[T]:
    """``batches`` produced in a background thread up to ``depth`` ahead, so decoding the next
    images overlaps the forward pass on the current ones; an exception in the producer is
    raised here, at the batch where it happened. Order and values are unchanged."""
    slots: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        slots.put(("batch", batch), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(("done", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, who raises it
            slots.put(("error", exc))

    worker = threading.Thread(target=produce, name="ganforge-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = slots.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
