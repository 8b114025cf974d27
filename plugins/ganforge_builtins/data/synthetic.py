"""A small synthetic image dataset, generated from a seed, for tests and smoke runs."""

from __future__ import annotations

import math
from typing import Annotated

import torch

from ganforge import Dataset, DataSplit, hookimpl
from ganforge.types import NonNegativeInt, PositiveInt, Range


class SyntheticImages(Dataset):
    """Synthetic images: one soft blob per image whose position depends on its class.

    Args:
        image_size: height and width of the square images.
        channels: 1 for grey, 3 for colour.
        size: number of images in each split.
        num_classes: 0 for unlabelled images, otherwise the blob's angle encodes the class.
        seed: seed of the images (the test split uses seed + 1).
    """

    def __init__(
        self, image_size: Annotated[int, Range(min=4)] = 28, channels: PositiveInt = 1, size: PositiveInt = 256,
        num_classes: NonNegativeInt = 0, seed: NonNegativeInt = 0,
    ) -> None:
        self.image_shape = (channels, image_size, image_size)
        self.class_names = tuple(f"class {i}" for i in range(num_classes))
        self.size = size
        self.seed = seed

    def load(self, split: str = "train") -> DataSplit:
        rng = torch.Generator().manual_seed(self.seed + (0 if split == "train" else 1))
        channels, height, width = self.image_shape
        n = self.size
        labels = torch.randint(max(self.num_classes, 1), (n,), generator=rng)
        angle = 2 * math.pi * labels.float() / max(self.num_classes, 1) + 0.3 * torch.randn(n, generator=rng)
        cy = (0.5 + 0.25 * torch.sin(angle)) * height
        cx = (0.5 + 0.25 * torch.cos(angle)) * width
        ys = torch.arange(height).float().view(1, height, 1)
        xs = torch.arange(width).float().view(1, 1, width)
        sigma = height / 8
        blob = torch.exp(-((ys - cy.view(n, 1, 1)) ** 2 + (xs - cx.view(n, 1, 1)) ** 2) / (2 * sigma**2))
        tint = torch.rand(n, channels, 1, 1, generator=rng) * 0.5 + 0.5
        images = (blob.unsqueeze(1) * tint * 255).round().to(torch.uint8)
        return DataSplit(images, labels if self.num_classes else None)


@hookimpl
def register_datasets(register):
    register("synthetic", SyntheticImages)
