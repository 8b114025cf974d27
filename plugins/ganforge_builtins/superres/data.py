"""Paired super-resolution data: high-resolution crops, cut afresh at every draw, and their bicubic
low-resolution inputs."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from ganforge import Dataset, hookimpl
from ganforge.errors import GanforgeError
from ganforge.interfaces.dataset import Sample, Split, UnreadableSample
from ganforge.interfaces.reading import mix
from ganforge.types import PositiveInt
from ganforge_builtins.data.image_files import IMAGE_EXTENSIONS

#: high-resolution crops downsampled per interpolate call (bounds the float copy's memory)
CHUNK = 256


def bicubic_downsample(images: Tensor, scale: int) -> Tensor:
    """uint8 ``(N, C, H, W)`` -> uint8 ``(N, C, H // scale, W // scale)``: bicubic with
    antialiasing (MATLAB ``imresize``'s degradation, the SR literature's), rounded to 8 bits."""
    size = (images.shape[-2] // scale, images.shape[-1] // scale)
    parts = [
        F.interpolate(chunk.float(), size=size, mode="bicubic", antialias=True, align_corners=False).round().clamp(0, 255).to(torch.uint8)
        for chunk in images.split(CHUNK)
    ]
    return torch.cat(parts)


def bicubic_upsample(images: Tensor, scale: int) -> Tensor:
    """Float images ``(N, C, h, w)`` in [-1, 1] -> bicubic ``scale``-times larger, clamped to [-1, 1] (the baseline)."""
    return F.interpolate(images.float(), scale_factor=scale, mode="bicubic", align_corners=False).clamp(-1, 1)


def read_image(path: Path, channels: int) -> Tensor:
    """An image file as uint8 ``(channels, H, W)``; :class:`UnreadableSample` when it cannot be read."""
    try:
        with Image.open(path) as image:
            image = image.convert("L" if channels == 1 else "RGB")
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise UnreadableSample(f"{path}: cannot read the image ({type(exc).__name__}: {exc}); remove or replace the file") from None
    pixels = torch.from_numpy(np.array(image, dtype=np.uint8, copy=True))  # (H, W) or (H, W, C), as torchvision's pil_to_tensor
    return pixels.unsqueeze(0) if pixels.ndim == 2 else pixels.permute(2, 0, 1).contiguous()


def augment(image: Tensor, size: int, generator: torch.Generator) -> Tensor:
    """A random ``size`` window of ``image``, randomly flipped left-right and rotated by a random
    multiple of 90°, every choice drawn from ``generator``."""
    height, width = image.shape[1:]
    top = int(torch.randint(height - size + 1, (), generator=generator))
    left = int(torch.randint(width - size + 1, (), generator=generator))
    patch = image[:, top : top + size, left : left + size]
    if bool(torch.randint(2, (), generator=generator)):
        patch = patch.flip(-1)
    return torch.rot90(patch, int(torch.randint(4, (), generator=generator)), dims=(1, 2)).contiguous()


def as_uint8(image: Tensor) -> Tensor:
    """uint8 as it is; floats in [-1, 1] rounded to [0, 255]."""
    return image if image.dtype == torch.uint8 else ((image.float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


class Pairs(Split):
    """(high-resolution crop, bicubic ``lr``) pairs cut from whole images when drawn: for
    training (``fresh``) ``draws`` fresh random crops of each image per epoch, flipped and
    rotated at random, each from the generator of its ``(seed, epoch, index)``; for evaluation
    (or without a generator) one deterministic centre crop per image."""

    def __init__(self, images: Split | list[Path], hr_size: int, scale: int, channels: int, draws: int, fresh: bool, seed: int) -> None:
        self.images, self.hr_size, self.scale, self.channels = images, hr_size, scale, channels
        self.draws, self.augments, self.seed = draws, fresh, seed

    def __len__(self) -> int:
        return len(self.images) * self.draws

    def image(self, number: int) -> Tensor:
        if isinstance(self.images, Split):
            return as_uint8(self.images.get(number).image)
        return read_image(self.images[number], self.channels)

    def get(self, index: int, generator: torch.Generator | None = None) -> Sample:
        image = self.image(index // self.draws)
        size = self.hr_size
        if min(image.shape[1:]) < size:
            raise UnreadableSample(f"{self._name(index // self.draws)} is smaller than hr_size={size}")
        if generator is None or not self.augments:
            hr = centre_crop(image, size)
        else:  # the data's own seed joins the run's, so two datasets differing in seed crop differently
            hr = augment(image, size, torch.Generator().manual_seed(mix(self.seed, generator.initial_seed())))
        return Sample(hr, {"lr": bicubic_downsample(hr[None], self.scale)[0]})

    def _name(self, number: int) -> str:
        return f"image {number}" if isinstance(self.images, Split) else str(self.images[number])

    def fingerprint(self) -> str:
        inner = self.images.fingerprint() if isinstance(self.images, Split) else ",".join(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in self.images)
        settings = f"{inner};hr={self.hr_size};scale={self.scale};channels={self.channels};draws={self.draws};fresh={self.augments};seed={self.seed}"
        return hashlib.blake2b(settings.encode(), digest_size=8).hexdigest()


class SuperResolution(Dataset):
    """Paired super-resolution data: `hr_size` crops of another dataset's (or a folder's) images, with their bicubic ×`scale` `lr` input.

    The samples are the high-resolution targets; the named input ``lr`` is each one
    downsampled by bicubic interpolation with antialiasing (rounded to 8 bits). Training
    crops are cut afresh every time a sample is drawn (as SRGAN, ESRGAN and BasicSR do): a
    random window of the whole image, a random horizontal flip and a random multiple of 90°
    rotation, then the bicubic ``lr`` made from that crop, in the DataLoader workers. The
    choices are seeded from the run's seed, the epoch and the index (and ``seed``), so a
    resumed run draws exactly the crops the uninterrupted one did. The test split is one
    deterministic centre crop per image. Labels of a wrapped dataset are dropped.

    Args:
        dataset: the image dataset to wrap (a nested component, e.g. {name: skimage-photos});
            its train and test splits give the train and test pairs.
        root: instead of ``dataset``, a folder of high-resolution images (any sizes), read
            when drawn; the folder serves both splits (random crops for train, centre crops for test).
        hr_size: side of the square high-resolution crops; a multiple of ``scale``.
        scale: the upscaling factor, 2 or 4.
        crops: crops drawn of each image per training epoch (each a fresh random one).
        channels: for a folder, 1 (grey) or 3 (RGB); a wrapped dataset keeps its own.
        seed: joins the run's seed in choosing the crops, flips and rotations.
    """

    def __init__(
        self,
        dataset: Dataset | None = None,
        root: str | None = None,
        hr_size: PositiveInt = 96,
        scale: Literal[2, 4] = 4,
        crops: PositiveInt = 16,
        channels: Literal[1, 3] = 3,
        seed: int = 0,
    ) -> None:
        if (dataset is None) == (root is None):
            raise ValueError("give exactly one of dataset (a nested dataset) and root (an image folder)")
        if hr_size % scale or hr_size < 4 * scale:
            raise ValueError(f"hr_size must be a multiple of scale={scale} and at least {4 * scale}, got {hr_size}")
        self.dataset, self.hr_size, self.scale, self.crops, self.seed = dataset, hr_size, scale, crops, seed
        self.root = None if root is None else Path(root).expanduser()
        if dataset is not None:
            shape = tuple(dataset.image_shape)
            if len(shape) != 3 or shape[0] not in (1, 3):
                raise ValueError(f"the wrapped dataset must hold grey or RGB images, its image_shape is {shape}")
            if min(shape[1:]) < hr_size:
                raise ValueError(f"the wrapped dataset's images are {shape[1]}x{shape[2]}, smaller than hr_size={hr_size}")
            channels = shape[0]
        elif self.root is not None and not self.root.is_dir():
            raise GanforgeError(f"image folder {self.root} does not exist; set data.root to a folder of high-resolution images")
        self.image_shape = (channels, hr_size, hr_size)
        self.lr_shape = (channels, hr_size // scale, hr_size // scale)

    def images(self, split: str) -> Split | list[Path]:
        """The split's whole high-resolution images: the wrapped dataset's split, or the folder's
        files (checked from their headers: each readable and at least ``hr_size`` on a side)."""
        if split not in ("train", "test"):
            raise GanforgeError(f"super-resolution has splits 'train' and 'test', not '{split}'")
        if self.dataset is not None:
            return self.dataset.load(split)
        assert self.root is not None
        paths = sorted(p for p in self.root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not paths:
            raise GanforgeError(f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) in {self.root}")
        for path in paths:
            try:
                with Image.open(path) as image:
                    width, height = image.size
            except (OSError, UnidentifiedImageError, ValueError) as exc:
                raise GanforgeError(f"{path}: cannot read the image ({type(exc).__name__}: {exc}); remove or replace the file") from None
            if min(width, height) < self.hr_size:
                raise GanforgeError(f"{self.root}: {path.name} is smaller than hr_size={self.hr_size}; remove it or lower data.hr_size")
        return paths

    def load(self, split: str = "train") -> Pairs:
        train = split == "train"
        return Pairs(self.images(split), self.hr_size, self.scale, self.image_shape[0], self.crops if train else 1, train, self.seed)


@hookimpl
def register_datasets(register):
    register("super-resolution", SuperResolution)


def centre_crop(image: Tensor, size: int) -> Tensor:
    """The central ``size`` x ``size`` window of ``(C, H, W)``, placed as torchvision's center_crop
    places it (without importing torchvision, seconds to import, when only a registry is wanted)."""
    top, left = round((image.shape[-2] - size) / 2.0), round((image.shape[-1] - size) / 2.0)
    return image[..., top : top + size, left : left + size].contiguous()
