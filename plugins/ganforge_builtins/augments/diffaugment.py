"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN
Training"): colour, translation and cutout, drawn per sample, registered as ``diffaugment``."""

from __future__ import annotations

from typing import Annotated

import torch
import torch.nn.functional as F
from torch import Tensor

from ganforge import Augment, hookimpl
from ganforge.hookspecs import Register
from ganforge.types import Range, UnitInterval


class DiffAugment(Augment):
    """DiffAugment (Zhao et al. 2020): random colour, translation and cutout, per sample.

    Applied in the authors' order, each with its own random draw for every sample:
    colour adds a brightness offset in [-0.5, 0.5), scales saturation (the distance from the
    channel mean) by [0, 2) and contrast (the distance from the image mean) by [0.5, 1.5);
    translation shifts by up to ``translation_ratio`` of the height and width, filling with
    zeros; cutout zeroes a ``cutout_ratio`` × size rectangle centred anywhere in the image
    (clipped at its edges). Every transform is differentiable with respect to the images.

    Args:
        color: apply the brightness, saturation and contrast changes.
        translation: apply the random translation.
        cutout: apply the random cutout.
        translation_ratio: the largest shift as a fraction of the height and width (1/8 in the paper).
        cutout_ratio: the cut rectangle's size as a fraction of the height and width (1/2 in the paper).
    """

    def __init__(
        self,
        color: bool = True,
        translation: bool = True,
        cutout: bool = True,
        translation_ratio: Annotated[float, Range(min=0, max=0.5)] = 0.125,
        cutout_ratio: UnitInterval = 0.5,
    ) -> None:
        super().__init__()
        self.color, self.translation, self.cutout = color, translation, cutout
        self.translation_ratio, self.cutout_ratio = translation_ratio, cutout_ratio

    def forward(self, images: Tensor) -> Tensor:
        x = images
        if self.color:
            x = random_color(x)
        if self.translation:
            x = random_translation(x, self.translation_ratio)
        if self.cutout:
            x = random_cutout(x, self.cutout_ratio)
        return x


def _uniform(x: Tensor) -> Tensor:
    """One U[0, 1) value per sample, shaped to broadcast over (C, H, W)."""
    return torch.rand(x.shape[0], 1, 1, 1, device=x.device).to(x.dtype)


def random_color(x: Tensor) -> Tensor:
    """Brightness + U[-0.5, 0.5), saturation × U[0, 2), contrast × U[0.5, 1.5), per sample."""
    x = x + (_uniform(x) - 0.5)
    channel_mean = x.mean(dim=1, keepdim=True)
    x = (x - channel_mean) * (_uniform(x) * 2) + channel_mean
    image_mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - image_mean) * (_uniform(x) + 0.5) + image_mean


def random_translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Each sample shifted by integers drawn uniformly from [-s, s], s = round(ratio × size)."""
    n, _, height, width = x.shape
    max_dy, max_dx = int(height * ratio + 0.5), int(width * ratio + 0.5)
    dy = torch.randint(-max_dy, max_dy + 1, (n,), device=x.device)
    dx = torch.randint(-max_dx, max_dx + 1, (n,), device=x.device)
    return translate(x, dy, dx)


def translate(x: Tensor, dy: Tensor, dx: Tensor) -> Tensor:
    """``out[i, :, r, c] = x[i, :, r + dy[i], c + dx[i]]``, zero where that falls outside
    (the content moves up by ``dy`` and left by ``dx``). Shifts must be within the image size."""
    n, _, height, width = x.shape
    padded = F.pad(x, (1, 1, 1, 1))  # a ring of zeros: indices past the edge land on it
    rows = (torch.arange(height, device=x.device) + dy.view(n, 1) + 1).clamp(0, height + 1)
    cols = (torch.arange(width, device=x.device) + dx.view(n, 1) + 1).clamp(0, width + 1)
    picked = padded[torch.arange(n, device=x.device).view(n, 1, 1), :, rows.view(n, height, 1), cols.view(n, 1, width)]
    return picked.permute(0, 3, 1, 2).contiguous()  # advanced indices come first: (N, H, W, C)


def random_cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Each sample with a (round(ratio × H), round(ratio × W)) rectangle zeroed, centred at a
    uniformly drawn pixel (for even sizes the centre may also be one past the last pixel)."""
    n, _, height, width = x.shape
    size_y, size_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    centre_y = torch.randint(0, height + (1 - size_y % 2), (n,), device=x.device)
    centre_x = torch.randint(0, width + (1 - size_x % 2), (n,), device=x.device)
    return cut(x, centre_y - size_y // 2, centre_x - size_x // 2, (size_y, size_x))


def cut(x: Tensor, top: Tensor, left: Tensor, size: tuple[int, int]) -> Tensor:
    """``x`` with rows ``top[i] .. top[i] + size[0] - 1`` × columns ``left[i] .. left[i] + size[1] - 1``
    of sample ``i`` zeroed (the part inside the image)."""
    n, _, height, width = x.shape
    rows = torch.arange(height, device=x.device).view(1, height) - top.view(n, 1)
    cols = torch.arange(width, device=x.device).view(1, width) - left.view(n, 1)
    inside = ((rows >= 0) & (rows < size[0])).view(n, height, 1) & ((cols >= 0) & (cols < size[1])).view(n, 1, width)
    return x * (~inside).unsqueeze(1).to(x.dtype)


@hookimpl
def register_augments(register: Register) -> None:
    register("diffaugment", DiffAugment)
