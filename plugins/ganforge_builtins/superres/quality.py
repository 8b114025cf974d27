"""PSNR and SSIM as the super-resolution literature computes them (not a plugin: helpers).

The convention (SRCNN, SRGAN, ESRGAN, BasicSR's ``calculate_psnr``/``calculate_ssim`` with
``test_y_channel=True``): images quantised to 8 bits, colour converted to the Y channel of
ITU-R BT.601 YCbCr (MATLAB's ``rgb2ycbcr``: Y in [16, 235]), ``border`` pixels cropped from
every side (the scale factor), values on the 0..255 scale in float64. PSNR uses a peak of 255;
SSIM is Wang et al. (2004): an 11×11 Gaussian window with σ = 1.5, K1 = 0.01, K2 = 0.03,
L = 255, averaged over the valid (unpadded) positions. Grey images are measured as they are.
Each image is scored alone and the scores are averaged over images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

#: MATLAB rgb2ycbcr's luma row, for RGB in [0, 1] giving Y in [16, 235].
Y_WEIGHTS = (65.481, 128.553, 24.966)
SSIM_WINDOW, SSIM_SIGMA, SSIM_K1, SSIM_K2, PEAK = 11, 1.5, 0.01, 0.03, 255.0


def to_levels(images: Tensor) -> Tensor:
    """Images in [-1, 1] (float) or uint8 -> float64 8-bit levels 0..255, rounded as a PNG stores them."""
    if images.dtype == torch.uint8:
        return images.double()
    return ((images.double() + 1) * 127.5).round().clamp(0, 255)


def luma(levels: Tensor) -> Tensor:
    """``(N, C, H, W)`` levels 0..255 -> ``(N, 1, H, W)``: the Y channel for RGB, grey as is."""
    if levels.shape[1] == 1:
        return levels
    r, g, b = levels[:, 0:1], levels[:, 1:2], levels[:, 2:3]
    return 16.0 + (Y_WEIGHTS[0] * r + Y_WEIGHTS[1] * g + Y_WEIGHTS[2] * b) / 255.0


def prepare(images: Tensor, border: int) -> Tensor:
    """Levels, Y channel, ``border`` pixels cropped from each side."""
    y = luma(to_levels(images))
    if border:
        y = y[..., border:-border, border:-border]
    return y


def psnr(output: Tensor, target: Tensor, border: int = 0) -> Tensor:
    """Per-image PSNR in dB ``(N,)`` float64, on the Y channel; infinite for identical images."""
    mse = (prepare(output, border) - prepare(target, border)).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(PEAK**2 / mse)


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> Tensor:
    """The normalised 2-D Gaussian window, float64 ``(1, 1, size, size)``."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def ssim(output: Tensor, target: Tensor, border: int = 0) -> Tensor:
    """Per-image SSIM ``(N,)`` float64, on the Y channel (see the module docstring)."""
    x, y = prepare(output, border), prepare(target, border)
    if min(x.shape[-2:]) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} after the border crop, got {tuple(x.shape[-2:])}")
    window = gaussian_window().to(x.device)
    c1, c2 = (SSIM_K1 * PEAK) ** 2, (SSIM_K2 * PEAK) ** 2
    mu_x, mu_y = F.conv2d(x, window), F.conv2d(y, window)
    var_x = F.conv2d(x * x, window) - mu_x**2
    var_y = F.conv2d(y * y, window) - mu_y**2
    cov = F.conv2d(x * y, window) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.flatten(1).mean(1)
