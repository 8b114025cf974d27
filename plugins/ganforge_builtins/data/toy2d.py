"""Toy 2-D Gaussian mixtures, the standard mode-collapse benchmarks: 8 Gaussians on a ring
and 25 on a 5x5 grid (as in Metz et al. 2017, Srivastava et al. 2017, Lin et al. 2018)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import torch
from torch import Tensor

from ganforge import Dataset, DataSplit, hookimpl
from ganforge.types import NonNegativeInt, PositiveFloat, PositiveInt, Range

#: Normalised mixtures are scaled so the outermost mode centre sits here (tanh outputs reach it).
EXTENT = 0.8
#: a mixture of one Gaussian is no mixture: at least two modes (a ring), two per side (a grid).
AtLeastTwo = Annotated[int, Range(min=2)]
CANVAS = 256


class GaussianMixture2D(Dataset):
    """Points from equal-weight isotropic Gaussians; ``mode_centers`` and ``mode_std`` are in the
    model's coordinates for the mode-coverage metric."""

    def __init__(self, centers: Tensor, std: float, size: int, seed: int, normalise: bool) -> None:
        scale = EXTENT / centers.abs().max().item() if normalise else 1.0
        self.mode_centers = centers * scale
        self.mode_std = std * scale
        self.image_shape = (2,)
        self.size = size
        self.seed = seed

    def load(self, split: str = "train") -> DataSplit:
        rng = torch.Generator().manual_seed(self.seed + (0 if split == "train" else 1))
        modes = torch.randint(len(self.mode_centers), (self.size,), generator=rng)
        points = self.mode_centers[modes] + self.mode_std * torch.randn(self.size, 2, generator=rng)
        return DataSplit(points)

    def save_samples(self, samples: Tensor, path: Path, nrow: int = 8) -> None:
        """A scatter picture: the 3-sigma discs around the modes in pink, the samples in blue."""
        from torchvision.utils import save_image

        extent = self.mode_centers.abs().max().item() / EXTENT
        picture = scatter_picture(samples.detach().float().cpu() / extent, self.mode_centers / extent, 3 * self.mode_std / extent)
        save_image(picture, path)


def scatter_picture(points: Tensor, centers: Tensor, radius: float, size: int = CANVAS) -> Tensor:
    """Rasterise 2-D points in [-1, 1] (y up) onto a white ``(3, size, size)`` canvas."""
    canvas = torch.ones(3, size, size)
    pixel = 2.0 / (size - 1)
    ys, xs = torch.meshgrid(torch.linspace(1, -1, size), torch.linspace(-1, 1, size), indexing="ij")
    grid = torch.stack([xs, ys], dim=-1)  # (size, size, 2) in model coordinates
    near = (torch.cdist(grid.view(-1, 2), centers.float()).min(dim=1).values <= max(radius, 2 * pixel)).view(size, size)
    canvas[:, near] = torch.tensor([1.0, 0.8, 0.8])[:, None]
    inside = points.view(-1, 2)
    inside = inside[(inside.abs() <= 1).all(dim=1)]
    cols = ((inside[:, 0] + 1) / pixel).round().long()
    rows = ((1 - inside[:, 1]) / pixel).round().long()
    for dr in (0, 1):
        for dc in (0, 1):
            r, c = (rows + dr).clamp(max=size - 1), (cols + dc).clamp(max=size - 1)
            canvas[:, r, c] = torch.tensor([0.1, 0.2, 0.8])[:, None]
    return canvas


class Ring(GaussianMixture2D):
    """8 Gaussians on a circle (radius 2, std 0.02 by default), scaled into [-1, 1] unless told not to.

    Args:
        num_modes: number of Gaussians, evenly spaced on the circle.
        radius: circle radius in the benchmark's units.
        std: standard deviation of each Gaussian, in the same units.
        size: number of points per split.
        seed: seed of the points.
        normalise: scale the mixture so it lies in [-1, 1] (for tanh generators); false keeps
            the benchmark's units, where WGAN-GP's unit-gradient target trains much faster.
    """

    def __init__(
        self,
        num_modes: AtLeastTwo = 8,
        radius: PositiveFloat = 2.0,
        std: PositiveFloat = 0.02,
        size: PositiveInt = 100_000,
        seed: NonNegativeInt = 0,
        normalise: bool = True,
    ) -> None:
        angles = torch.arange(num_modes, dtype=torch.float64) * 2 * math.pi / num_modes
        centers = radius * torch.stack([angles.cos(), angles.sin()], dim=1)
        super().__init__(centers.float(), std, size, seed, normalise)


class Grid(GaussianMixture2D):
    """25 Gaussians on a 5x5 grid (spacing 2, std 0.05 by default), scaled into [-1, 1] unless told not to.

    Args:
        side: Gaussians per row and column.
        spacing: distance between neighbouring centres in the benchmark's units.
        std: standard deviation of each Gaussian, in the same units.
        size: number of points per split.
        seed: seed of the points.
        normalise: scale the mixture so it lies in [-1, 1] (for tanh generators); false keeps
            the benchmark's units.
    """

    def __init__(
        self,
        side: AtLeastTwo = 5,
        spacing: PositiveFloat = 2.0,
        std: PositiveFloat = 0.05,
        size: PositiveInt = 100_000,
        seed: NonNegativeInt = 0,
        normalise: bool = True,
    ) -> None:
        ticks = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
        centers = torch.cartesian_prod(ticks, ticks)
        super().__init__(centers, std, size, seed, normalise)


@hookimpl
def register_datasets(register):
    register("ring", Ring)
    register("grid", Grid)
