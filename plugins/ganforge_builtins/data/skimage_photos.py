"""scikit-image's sample photographs as a dataset: a fixed split of whole images into train and test."""

from __future__ import annotations

import importlib
from typing import Annotated, Literal

import numpy as np
import torch
from torch import Tensor

from ganforge import Dataset, DataSplit, hookimpl
from ganforge.errors import GanforgeError
from ganforge.types import Range

#: ``skimage.data`` functions; "motorcycle_left"/"_right" are the two views of ``stereo_motorcycle``.
#: Whole photos are either train or test, so no test pixel is seen in training.
TRAIN_COLOUR = ("rocket", "motorcycle_left", "hubble_deep_field", "immunohistochemistry", "retina", "coffee")
TEST_COLOUR = ("astronaut", "chelsea", "motorcycle_right")
TRAIN_GREY = ("brick", "grass", "gravel", "moon", "page")
TEST_GREY = ("camera", "text")


def _skimage_data():  # type: ignore[no-untyped-def]
    try:
        return importlib.import_module("skimage.data")
    except ImportError:
        raise GanforgeError("skimage-photos needs scikit-image: pip install 'ganforge[skimage]'") from None


def photo(name: str) -> np.ndarray:
    """One scikit-image sample photo as an ``(H, W)`` or ``(H, W, 3)`` uint8 array."""
    data = _skimage_data()
    if name.startswith("motorcycle_"):
        left, right, _ = data.stereo_motorcycle()
        image = left if name.endswith("left") else right
    else:
        image = getattr(data, name)()
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = (np.clip(image, 0, 1) * 255).round().astype(np.uint8) if image.dtype.kind == "f" else image.astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[..., :3]
    return image


def to_channels(image: np.ndarray, channels: int) -> Tensor:
    """uint8 ``(channels, H, W)``: colour averaged to grey with BT.601 weights, grey repeated to RGB."""
    array = torch.from_numpy(np.ascontiguousarray(image))
    if array.ndim == 2:
        array = array[None]
    else:
        array = array.permute(2, 0, 1)
    if channels == 3 and array.shape[0] == 1:
        return array.expand(3, -1, -1).contiguous()
    if channels == 1 and array.shape[0] == 3:
        weights = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
        return (array.float() * weights).sum(0, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    return array


def tiles(image: Tensor, size: int) -> Tensor:
    """The non-overlapping ``size`` × ``size`` tiles of a grid centred on the image, row by row."""
    _, height, width = image.shape
    rows, cols = height // size, width // size
    top, left = (height - rows * size) // 2, (width - cols * size) // 2
    grid = image[:, top : top + rows * size, left : left + cols * size]
    return grid.unfold(1, size, size).unfold(2, size, size).permute(1, 2, 0, 3, 4).reshape(rows * cols, image.shape[0], size, size)


class SkimagePhotos(Dataset):
    """scikit-image's sample photographs (astronaut, chelsea, coffee, rocket, ...) cut into square tiles; whole photos are split into train and test.

    Needs scikit-image (``pip install 'ganforge[skimage]'``); no download. RGB (``channels:
    3``) uses the colour photos: test astronaut, chelsea, motorcycle_right; train rocket,
    motorcycle_left, hubble_deep_field, immunohistochemistry, retina, coffee. Grey
    (``channels: 1``) uses those converted to grey (BT.601) plus the grey photos (test camera,
    text; train brick, grass, gravel, moon, page). Each photo becomes the non-overlapping
    ``tile`` × ``tile`` tiles of a grid centred on it, so every tile of a test photo is in the
    test split and none in train. Wrap it in ``super-resolution`` for paired data.

    Args:
        tile: side of the square tiles, in pixels (at most 256: every test photo must give a tile).
        channels: 1 (grey) or 3 (RGB).
    """

    def __init__(self, tile: Annotated[int, Range(min=16, max=256)] = 128, channels: Literal[1, 3] = 3) -> None:
        self.tile, self.channels = tile, channels
        self.image_shape = (channels, tile, tile)

    def names(self, split: str) -> tuple[str, ...]:
        """The photos of ``split``."""
        if split not in ("train", "test"):
            raise GanforgeError(f"skimage-photos has splits 'train' and 'test', not '{split}'")
        colour = TRAIN_COLOUR if split == "train" else TEST_COLOUR
        grey = TRAIN_GREY if split == "train" else TEST_GREY
        return colour if self.channels == 3 else colour + grey

    def load(self, split: str = "train") -> DataSplit:
        parts = [tiles(to_channels(photo(name), self.channels), self.tile) for name in self.names(split)]
        return DataSplit(torch.cat(parts))


@hookimpl
def register_datasets(register):
    register("skimage-photos", SkimagePhotos)
