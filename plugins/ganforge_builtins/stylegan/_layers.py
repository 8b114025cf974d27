"""Building blocks of the StyleGAN networks: equalised-learning-rate layers, AdaIN, modulated
convolution, per-pixel noise and the progressive-growing schedule. Not a plugin.

Equalised learning rate (Karras et al., 2018): weights are stored as N(0, 1) / lr_mul and
scaled by ``lr_mul / sqrt(fan_in)`` at every forward, so Adam's per-parameter step sizes are
the same for every layer whatever its fan-in; ``lr_mul`` slows a layer down (0.01 in the
mapping network).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge_builtins.stylegan._ops import setup_filter, upfirdn2d, upsample2d

#: leaky-ReLU slope and the gain that keeps its output at unit second moment.
LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)


def lrelu(x: Tensor) -> Tensor:
    """Leaky ReLU (slope 0.2) times sqrt(2), StyleGAN's activation."""
    return F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN


class EqualLinear(nn.Module):
    """A fully connected layer with equalised learning rate (and an optional leaky ReLU)."""

    def __init__(self, in_features: int, out_features: int, bias_init: float = 0.0, lr_mul: float = 1.0, activate: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul))
        self.weight_gain = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul
        self.activate = activate

    def forward(self, x: Tensor) -> Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.lr_mul)
        return lrelu(x) if self.activate else x


class EqualConv2d(nn.Module):
    """A same-padded convolution with equalised learning rate; ``bias=False`` for skip paths."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.weight_gain, self.bias, padding=self.weight.shape[-1] // 2)


#: how the networks resample by 2: ``bilinear`` (bilinear up, average-pool down; ganforge's
#: original choice) or ``fir`` (the reference's [1, 3, 3, 1] FIR filter through upfirdn2d:
#: the same kernel inside the image, zero padding at its border).
Resample = Literal["bilinear", "fir"]


def upsample(x: Tensor, resample: Resample = "bilinear") -> Tensor:
    """2x upsampling: bilinear, or the reference's FIR filter (see :data:`Resample`)."""
    if resample == "fir":
        return upsample2d(x, setup_filter().to(x.device))
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def downsample(x: Tensor, resample: Resample = "bilinear") -> Tensor:
    """2x downsampling: average pooling, or the reference's FIR filter (see :data:`Resample`)."""
    if resample == "fir":
        return upfirdn2d(x, setup_filter().to(x.device), down=2, padding=(1, 1, 1, 1))
    return F.avg_pool2d(x, 2)


def adain(x: Tensor, scale: Tensor, shift: Tensor, eps: float = 1e-8) -> Tensor:
    """Adaptive instance normalisation (Huang & Belongie, 2017; StyleGAN 1):
    ``scale * (x - mu(x)) / sigma(x) + shift``, with mu and sigma over each sample's and
    channel's pixels (population standard deviation); ``scale`` and ``shift`` are ``(N, C)``."""
    x = x - x.mean(dim=(2, 3), keepdim=True)
    x = x * (x.square().mean(dim=(2, 3), keepdim=True) + eps).rsqrt()
    return scale[:, :, None, None] * x + shift[:, :, None, None]


def modulated_conv2d(x: Tensor, weight: Tensor, styles: Tensor, demodulate: bool = True, eps: float = 1e-8) -> Tensor:
    """StyleGAN 2's modulated convolution: every sample's kernel is ``weight`` (O, I, k, k)
    scaled by its ``styles`` (N, I) per input channel, then, with ``demodulate``, divided by
    the L2 norm of each output channel's scaled kernel, so a unit-variance input gives a
    unit-variance output. Runs as one grouped convolution over the batch; while being traced
    or exported, as the equivalent scale-convolve-scale, whose graph does not fix the batch size."""
    n, in_channels, height, width = x.shape
    out_channels, _, k, _ = weight.shape
    if torch.jit.is_tracing() or torch.compiler.is_compiling():
        out = F.conv2d(x * styles.to(x.dtype).reshape(n, -1, 1, 1), weight.to(x.dtype), padding=k // 2)
        if demodulate:
            coefficients = ((weight.unsqueeze(0) * styles.reshape(n, 1, -1, 1, 1)).square().sum(dim=(2, 3, 4)) + eps).rsqrt()
            out = out * coefficients.to(x.dtype).reshape(n, -1, 1, 1)
        return out
    w = weight.unsqueeze(0) * styles.reshape(n, 1, in_channels, 1, 1)
    if demodulate:
        w = w * (w.square().sum(dim=(2, 3, 4), keepdim=True) + eps).rsqrt()
    out = F.conv2d(x.reshape(1, n * in_channels, height, width), w.reshape(n * out_channels, in_channels, k, k).to(x.dtype), padding=k // 2, groups=n)
    return out.reshape(n, out_channels, height, width)


class NoiseInput(nn.Module):
    """Per-pixel Gaussian noise added to a feature map with a learned per-channel scale.

    In training mode each call draws fresh noise; in eval mode a fixed noise image (a buffer
    drawn at construction, kept in the state dict) is used, so samples and metrics are
    repeatable. ``noise`` given explicitly wins over both.
    """

    fixed: Tensor

    def __init__(self, channels: int, resolution: int) -> None:
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(channels))
        self.resolution = resolution
        self.register_buffer("fixed", torch.randn(1, 1, resolution, resolution))

    def forward(self, x: Tensor, noise: Tensor | None = None) -> Tensor:
        if noise is None:
            noise = torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device) if self.training else self.fixed
        return x + noise.to(x.dtype) * self.strength.to(x.dtype).view(1, -1, 1, 1)


def minibatch_stddev(x: Tensor, group_size: int = 4) -> Tensor:
    """Appends one feature map: the standard deviation of each feature over groups of
    ``group_size`` samples (fewer when the batch does not divide), averaged over channels
    and pixels (Karras et al., 2018)."""
    n, c, h, w = x.shape
    group = math.gcd(n, group_size)
    y = x.float().reshape(group, n // group, c, h, w)
    y = (y - y.mean(dim=0)).square().mean(dim=0).add(1e-8).sqrt()
    y = y.mean(dim=(1, 2, 3)).reshape(-1, 1, 1, 1).repeat(group, 1, h, w)
    return torch.cat([x, y.to(x.dtype)], dim=1)


def resolutions_for(size: int) -> list[int]:
    """The synthesis resolutions for an image size: 7, 14, 28 for 28; 4, 8, ..., size for a
    power of two from 4 to 1024."""
    if size == 28:
        return [7, 14, 28]
    if size < 4 or size > 1024 or size & (size - 1):
        raise ValueError(f"StyleGAN supports square images of size 28 or a power of two from 4 to 1024, got {size}")
    return [2**i for i in range(2, int(math.log2(size)) + 1)]


PROGRESSIVE_KEYS = ("start", "fade_steps", "stable_steps")


class Progression:
    """Progressive growing's schedule (Karras et al., 2018) as a pure function of the step.

    Training starts at resolution ``start`` for ``stable_steps`` steps; then each doubling
    fades in over ``fade_steps`` steps (alpha rising linearly from 0 to 1) and stays for
    ``stable_steps``, until the full resolution. Since level and alpha depend only on the
    step, a resumed run sees exactly the networks an uninterrupted one would.
    """

    def __init__(self, resolutions: list[int], settings: dict[str, int] | None) -> None:
        self.resolutions = resolutions
        self.enabled = settings is not None
        settings = dict(settings or {})
        unknown = sorted(set(settings) - set(PROGRESSIVE_KEYS))
        if unknown:
            raise ValueError(f"progressive takes {', '.join(PROGRESSIVE_KEYS)}; unknown: {', '.join(unknown)}")
        start = int(settings.get("start", resolutions[0]))
        if start not in resolutions:
            raise ValueError(f"progressive.start must be one of the resolutions {resolutions}, got {start}")
        self.start_level = resolutions.index(start)
        self.fade_steps = int(settings.get("fade_steps", 1000))
        self.stable_steps = int(settings.get("stable_steps", 1000))
        if self.fade_steps < 0 or self.stable_steps < 0:
            raise ValueError(f"progressive fade_steps and stable_steps must be >= 0, got {self.fade_steps} and {self.stable_steps}")

    def at(self, step: int) -> tuple[int, float]:
        """(index of the current resolution, fade-in alpha of that resolution) after ``step`` steps."""
        last = len(self.resolutions) - 1
        if not self.enabled:
            return last, 1.0
        if step < self.stable_steps:
            return self.start_level, 1.0
        period = self.fade_steps + self.stable_steps
        grown, into = divmod(step - self.stable_steps, period) if period else (last, 0)
        level = self.start_level + grown + 1
        if level > last:
            return last, 1.0
        alpha = min(1.0, into / self.fade_steps) if self.fade_steps else 1.0
        return level, alpha
