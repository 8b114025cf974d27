"""Paired super-resolution data: high-resolution crops and their bicubic low-resolution inputs."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from ganforge import Dataset, DataSplit, hookimpl
from ganforge.errors import GanforgeError
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
    """An image file as uint8 ``(channels, H, W)``; a one-line error when it cannot be read."""
    try:
        with Image.open(path) as image:
            image = image.convert("L" if channels == 1 else "RGB")
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise GanforgeError(f"{path}: cannot read the image ({type(exc).__name__}: {exc}); remove or replace the file") from None
    return TF.pil_to_tensor(image)


class SuperResolution(Dataset):
    """Paired super-resolution data: `hr_size` crops of another dataset's (or a folder's) images, with their bicubic ×`scale` `lr` input.

    The samples are the high-resolution targets; the named input ``lr`` is each one
    downsampled by bicubic interpolation with antialiasing (rounded to 8 bits). Training
    crops are drawn once, seeded: `crops` random positions per image, each with a random
    horizontal flip and a random multiple of 90° rotation applied before downsampling (the
    split is in memory, so augmentation is a precomputed set, not per step). The test split
    is one deterministic centre crop per image. Labels of a wrapped dataset are dropped.

    Args:
        dataset: the image dataset to wrap (a nested component, e.g. {name: skimage-photos});
            its train and test splits give the train and test pairs.
        root: instead of ``dataset``, a folder of high-resolution images (any sizes), read
            whole; the folder serves both splits (random crops for train, centre crops for test).
        hr_size: side of the square high-resolution crops; a multiple of ``scale``.
        scale: the upscaling factor, 2 or 4.
        crops: random training crops per image.
        channels: for a folder, 1 (grey) or 3 (RGB); a wrapped dataset keeps its own.
        seed: seed of the crop positions, flips and rotations.
    """

    def __init__(
        self,
        dataset: Dataset | None = None,
        root: str | None = None,
        hr_size: int = 96,
        scale: Literal[2, 4] = 4,
        crops: int = 16,
        channels: int = 3,
        seed: int = 0,
    ) -> None:
        if (dataset is None) == (root is None):
            raise ValueError("give exactly one of dataset (a nested dataset) and root (an image folder)")
        if scale not in (2, 4):
            raise ValueError(f"scale must be 2 or 4, got {scale}")
        if hr_size % scale or hr_size < 4 * scale:
            raise ValueError(f"hr_size must be a multiple of scale={scale} and at least {4 * scale}, got {hr_size}")
        if crops < 1:
            raise ValueError(f"crops must be >= 1, got {crops}")
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
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

    def images(self, split: str) -> list[Tensor]:
        """The split's whole high-resolution images, uint8 ``(C, H, W)`` each."""
        if split not in ("train", "test"):
            raise GanforgeError(f"super-resolution has splits 'train' and 'test', not '{split}'")
        if self.dataset is not None:
            samples = self.dataset.load(split).samples
            if samples.dtype != torch.uint8:
                samples = ((samples.float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
            return list(samples)
        assert self.root is not None
        paths = sorted(p for p in self.root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not paths:
            raise GanforgeError(f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) in {self.root}")
        images = [read_image(p, self.image_shape[0]) for p in paths]
        small = [p.name for p, image in zip(paths, images) if min(image.shape[1:]) < self.hr_size]
        if small:
            raise GanforgeError(f"{self.root}: {small[0]} is smaller than hr_size={self.hr_size}; remove it or lower data.hr_size")
        return images

    def crop(self, images: list[Tensor], split: str) -> Tensor:
        """``hr_size`` crops: seeded random ones, flipped and rotated, for train; centre crops for test."""
        size = self.hr_size
        if split == "test":
            return torch.stack([TF.center_crop(image, [size, size]) for image in images])
        rng = torch.Generator().manual_seed(self.seed)
        out = torch.empty(len(images) * self.crops, self.image_shape[0], size, size, dtype=torch.uint8)
        for i, image in enumerate(images):
            height, width = image.shape[1:]
            for j in range(self.crops):
                top = int(torch.randint(height - size + 1, (), generator=rng))
                left = int(torch.randint(width - size + 1, (), generator=rng))
                patch = image[:, top : top + size, left : left + size]
                if bool(torch.randint(2, (), generator=rng)):
                    patch = patch.flip(-1)
                patch = torch.rot90(patch, int(torch.randint(4, (), generator=rng)), dims=(1, 2))
                out[i * self.crops + j] = patch
        return out

    def load(self, split: str = "train") -> DataSplit:
        hr = self.crop(self.images(split), split)
        return DataSplit(hr, None, {"lr": bicubic_downsample(hr, self.scale)})


@hookimpl
def register_datasets(register):
    register("super-resolution", SuperResolution)
