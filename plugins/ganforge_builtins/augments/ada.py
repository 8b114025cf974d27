"""Adaptive discriminator augmentation (Karras et al. 2020, "Training Generative Adversarial
Networks with Limited Data"), registered as ``ada``."""

from __future__ import annotations

from typing import Annotated

import torch
from torch import Tensor

from ganforge import Augment, hookimpl
from ganforge.hookspecs import Register
from ganforge.types import PositiveFloat, PositiveInt, Probability, Range

BRIGHTNESS_STD = 0.2  # ADA's brightness_std: an additive N(0, 0.2) offset
CONTRAST_STD = 0.5  # ADA's contrast_std: a scale of 2^N(0, 0.5)
SATURATION_STD = 1.0  # ADA's saturation_std: a scale of 2^N(0, 1) of the distance from the grey axis


class ADA(Augment):
    """ADA (Karras et al. 2020): flips, rotations, translation, colour, with a probability p adapted to D overfitting.

    Each sample gets each transform with probability ``p`` (ADA's 'bgc' pipeline without its
    fractional geometric and hue steps), in ADA's order: an x-flip (half of the time, as
    ADA draws the flip itself), a rotation by 0, 90, 180 or 270° (180° only for non-square
    images), an integer translation by up to ``translation_max`` of the size (reflecting at
    the edges), then brightness + N(0, 0.2), contrast × 2^N(0, 0.5) and saturation
    × 2^N(0, 1) (about the channel mean; colour images only), each drawn on its own.
    With p = 0 it is the identity.

    ``p`` adapts unless ``target`` is null: the trainer calls ``observe`` with the real scores
    after every discriminator update, and every ``interval`` updates
    r_t = E[sign(D(real))] over them moves p by sign(r_t - target) × images / (speed_kimg × 1000),
    clamped to [0, 1]: a discriminator that grows sure of the real images (overfits) gets
    more augmentation. ``p``, the sign sum and the count are float64 buffers, so a resumed
    run continues exactly. Under torch.distributed the sums are added over all processes
    before each adjustment (every process must call ``observe``, as the trainer does).

    Args:
        initial_p: the probability at the start (0 in the paper, which then adapts).
        target: the r_t that p steers towards (0.6 in the paper); null for a fixed p.
        interval: discriminator updates between adjustments of p (4 in the paper).
        speed_kimg: thousands of real images over which p can move by 1 (500 in the paper).
        xflip: apply the x-flip.
        rotate90: apply the 90° rotations.
        translation: apply the integer translation.
        translation_max: the largest translation as a fraction of the width and height (1/8).
        color: apply the brightness, contrast and saturation changes.
    """

    p: Tensor
    sign_sum: Tensor
    sign_count: Tensor
    updates: Tensor
    rt: Tensor
    adjustments: Tensor

    def __init__(
        self,
        initial_p: Probability = 0.0,
        target: Annotated[float, Range(min=-1, max=1)] | None = 0.6,
        interval: PositiveInt = 4,
        speed_kimg: PositiveFloat = 500.0,
        xflip: bool = True,
        rotate90: bool = True,
        translation: bool = True,
        translation_max: Annotated[float, Range(min=0, max=0.5)] = 0.125,
        color: bool = True,
    ) -> None:
        super().__init__()
        self.target, self.interval, self.speed_kimg = target, interval, speed_kimg
        self.xflip, self.rotate90, self.translation, self.color = xflip, rotate90, translation, color
        self.translation_max = translation_max
        self.register_buffer("p", torch.tensor(float(initial_p), dtype=torch.float64))
        self.register_buffer("sign_sum", torch.zeros((), dtype=torch.float64))  # sum of sign(D(real)) since the last adjustment
        self.register_buffer("sign_count", torch.zeros((), dtype=torch.float64))  # real scores since the last adjustment
        self.register_buffer("updates", torch.zeros((), dtype=torch.int64))  # observe calls since the last adjustment
        self.register_buffer("rt", torch.zeros((), dtype=torch.float64))  # r_t at the last adjustment
        self.register_buffer("adjustments", torch.zeros((), dtype=torch.int64))

    def forward(self, images: Tensor) -> Tensor:
        if float(self.p) <= 0:
            return images
        n, device = images.shape[0], images.device
        p = self.p.to(device=device, dtype=torch.float32)
        x = images
        if self.xflip:
            flip = (torch.floor(torch.rand(n, device=device) * 2) > 0) & (torch.rand(n, device=device) < p)
            x = torch.where(flip.view(n, 1, 1, 1), x.flip(3), x)
        if self.rotate90:
            square = x.shape[2] == x.shape[3]
            turns = torch.floor(torch.rand(n, device=device) * (4 if square else 2)) * (1 if square else 2)
            turns = torch.where(torch.rand(n, device=device) < p, turns, torch.zeros_like(turns))
            x = rotate90(x, turns.long())
        if self.translation:
            shift = (torch.rand(n, 2, device=device) * 2 - 1) * self.translation_max
            shift = torch.where(torch.rand(n, 1, device=device) < p, shift, torch.zeros_like(shift))
            x = translate_reflect(x, torch.round(shift[:, 1] * x.shape[2]).long(), torch.round(shift[:, 0] * x.shape[3]).long())
        if self.color:
            x = self._color(x, p)
        return x

    def _color(self, x: Tensor, p: Tensor) -> Tensor:
        n, device = x.shape[0], x.device

        def chosen(values: Tensor, neutral: float) -> Tensor:
            return torch.where(torch.rand(n, device=device) < p, values, torch.full_like(values, neutral))

        brightness = chosen(torch.randn(n, device=device) * BRIGHTNESS_STD, 0.0)
        contrast = chosen(torch.exp2(torch.randn(n, device=device) * CONTRAST_STD), 1.0)
        saturation = chosen(torch.exp2(torch.randn(n, device=device) * SATURATION_STD), 1.0)
        if x.shape[1] == 1:
            saturation = torch.ones_like(saturation)  # no colour to saturate
        changed = (brightness != 0) | (contrast != 1) | (saturation != 1)
        shape = (n, 1, 1, 1)
        y = (x + brightness.view(shape).to(x.dtype)) * contrast.view(shape).to(x.dtype)
        grey = y.mean(dim=1, keepdim=True)
        y = grey + (y - grey) * saturation.view(shape).to(x.dtype)
        return torch.where(changed.view(shape), y, x)  # untouched samples stay bit-identical

    @torch.no_grad()
    def observe(self, real_scores: Tensor) -> None:
        """Accumulate sign(D(real)); every ``interval`` calls, move p towards ``target``."""
        if self.target is None:
            return
        signs = real_scores.detach().to(torch.float64).sign()
        self.sign_sum += signs.sum().to(self.sign_sum.device)
        self.sign_count += signs.numel()
        self.updates += 1
        if int(self.updates) < self.interval:
            return
        totals = torch.stack([self.sign_sum, self.sign_count])
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(totals)
        signs_sum, count = totals[0], totals[1]
        self.rt.copy_(signs_sum / count.clamp(min=1))
        step = torch.sign(self.rt - self.target) * count / (self.speed_kimg * 1000)
        self.p.copy_((self.p + step).clamp(0, 1))
        self.sign_sum.zero_()
        self.sign_count.zero_()
        self.updates.zero_()
        self.adjustments += 1

    def log_values(self) -> dict[str, float]:
        """``augment/p``, and ``augment/rt`` (r_t at the last adjustment) once p has adapted."""
        values = {"augment/p": float(self.p)}
        if int(self.adjustments) > 0:
            values["augment/rt"] = float(self.rt)
        return values


def rotate90(x: Tensor, turns: Tensor) -> Tensor:
    """Sample ``i`` rotated by ``turns[i]`` × 90° counter-clockwise (an exact permutation)."""
    out = x
    for k in (1, 2, 3):
        selected = (turns % 4 == k).view(-1, 1, 1, 1)
        if k % 2 and x.shape[2] != x.shape[3]:
            if bool(selected.any()):
                raise ValueError(f"90° rotations need square images, got {x.shape[2]}x{x.shape[3]}")
            continue
        out = torch.where(selected, torch.rot90(x, k, dims=(2, 3)), out)
    return out


def translate_reflect(x: Tensor, dy: Tensor, dx: Tensor) -> Tensor:
    """Sample ``i`` moved down by ``dy[i]`` and right by ``dx[i]`` pixels, the pixels that come
    in reflected from the opposite edge (``out[r, c] = x[reflect(r - dy), reflect(c - dx)]``).
    Shifts must be smaller than the image size."""
    n, _, height, width = x.shape
    rows = _reflect(torch.arange(height, device=x.device).view(1, height) - dy.view(n, 1), height)
    cols = _reflect(torch.arange(width, device=x.device).view(1, width) - dx.view(n, 1), width)
    picked = x[torch.arange(n, device=x.device).view(n, 1, 1), :, rows.view(n, height, 1), cols.view(n, 1, width)]
    return picked.permute(0, 3, 1, 2).contiguous()  # advanced indices come first: (N, H, W, C)


def _reflect(index: Tensor, size: int) -> Tensor:
    if size == 1:
        return torch.zeros_like(index)
    period = 2 * (size - 1)
    index = index.remainder(period)
    return torch.where(index >= size, period - index, index)


@hookimpl
def register_augments(register: Register) -> None:
    register("ada", ADA)
