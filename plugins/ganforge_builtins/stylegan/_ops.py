"""StyleGAN2's resampling and activation operations in plain PyTorch, as NVIDIA's
stylegan2-ada-pytorch defines them (its reference, non-CUDA paths), so that networks built
from them compute what the published weights were trained with. Not a plugin.

* :func:`setup_filter` / :func:`upfirdn2d`: upsample by inserting zeros, pad, filter with a
  2-D FIR kernel (the normalised outer product of [1, 3, 3, 1]), keep every ``down``-th pixel.
* :func:`conv2d_resample`: a convolution with 2x up- or downsampling by that filter, padded
  once, as the reference pads it.
* :func:`bias_act`: bias, activation, gain and clamp, in that order.
* :func:`modulated_conv2d`: the per-sample modulated (and demodulated) convolution, computed
  as scale-convolve-scale: the same values as the grouped form, and a graph whose batch size is free.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

Activation = Literal["linear", "lrelu"]
#: each activation's slope for negative inputs and the gain that keeps unit second moment.
ACTIVATIONS: dict[str, tuple[float, float]] = {"linear": (1.0, 1.0), "lrelu": (0.2, math.sqrt(2.0))}
FIR = (1.0, 3.0, 3.0, 1.0)


def setup_filter(taps: tuple[float, ...] = FIR) -> Tensor:
    """The 2-D low-pass filter: the outer product of ``taps`` with itself, summing to 1."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def upfirdn2d(x: Tensor, f: Tensor, up: int = 1, down: int = 1, padding: tuple[int, int, int, int] = (0, 0, 0, 0), gain: float = 1.0) -> Tensor:
    """Upsample ``x`` (N, C, H, W) by ``up`` (zeros between pixels), pad (negative crops) by
    ``padding`` = (left, right, top, bottom), convolve with the 2-D filter ``f`` times ``gain``,
    then keep every ``down``-th pixel."""
    n, c, h, w = x.shape
    if up > 1:
        x = F.pad(x.reshape(n, c, h, 1, w, 1), [0, up - 1, 0, 0, 0, up - 1]).reshape(n, c, h * up, w * up)
    left, right, top, bottom = padding
    x = F.pad(x, [max(left, 0), max(right, 0), max(top, 0), max(bottom, 0)])
    x = x[:, :, max(-top, 0) : x.shape[2] - max(-bottom, 0), max(-left, 0) : x.shape[3] - max(-right, 0)]
    kernel = (f * gain).to(x.dtype).flip([0, 1])  # a true convolution (gain ** (ndim / 2) for a 2-D filter)
    x = F.conv2d(x, kernel[None, None].repeat(c, 1, 1, 1), groups=c)
    return x[:, :, ::down, ::down] if down > 1 else x


def upsample2d(x: Tensor, f: Tensor) -> Tensor:
    """2x upsampling through the filter, output exactly twice the size."""
    taps = f.shape[-1]
    return upfirdn2d(x, f, up=2, padding=((taps + 1) // 2, (taps - 2) // 2) * 2, gain=4.0)  # type: ignore[arg-type]


def conv2d_resample(x: Tensor, weight: Tensor, f: Tensor | None, up: int = 1, down: int = 1, padding: int = 0) -> Tensor:
    """``weight`` (O, I, k, k) applied to ``x`` with 2x upsampling before (``up``, the weight
    used as a true convolution, as the reference's transposed convolution does) or 2x
    downsampling after (``down``) through the filter ``f``; ``padding`` is that of the convolution."""
    k = weight.shape[-1]
    if up == 1 and down == 1:
        return F.conv2d(x, weight, padding=padding)
    assert f is not None
    taps = f.shape[-1]
    if up > 1:
        before, after = padding + (taps + up - 1) // 2, padding + (taps - up) // 2
        if k == 1:  # the reference convolves first, then upsamples
            return upfirdn2d(F.conv2d(x, weight), f, up=up, padding=(before, after, before, after), gain=up**2)
        x = upfirdn2d(x, f, up=up, padding=(before, after, before, after), gain=up**2)
        return F.conv2d(x, weight.flip([2, 3]))
    before, after = padding + (taps - down + 1) // 2, padding + (taps - down) // 2
    if k == 1:
        return F.conv2d(upfirdn2d(x, f, down=down, padding=(before, after, before, after)), weight)
    return F.conv2d(upfirdn2d(x, f, padding=(before, after, before, after)), weight, stride=down)


def bias_act(x: Tensor, bias: Tensor | None, act: Activation = "linear", gain: float = 1.0, clamp: float | None = None) -> Tensor:
    """``x`` plus ``bias`` (along dimension 1), the activation, times its gain and ``gain``,
    clamped to [-clamp, clamp] when ``clamp`` is given."""
    if bias is not None:
        x = x + bias.to(x.dtype).reshape([-1 if i == 1 else 1 for i in range(x.ndim)])
    slope, act_gain = ACTIVATIONS[act]
    if act == "lrelu":
        x = F.leaky_relu(x, slope)
    if act_gain * gain != 1:
        x = x * (act_gain * gain)
    return x.clamp(-clamp, clamp) if clamp is not None else x


def modulated_conv2d(
    x: Tensor, weight: Tensor, styles: Tensor, f: Tensor | None = None, up: int = 1, padding: int = 0, demodulate: bool = True, noise: Tensor | None = None
) -> Tensor:
    """StyleGAN2's modulated convolution: input channels scaled by ``styles`` (N, I), the
    convolution (with 2x upsampling when ``up``), output channels divided by the norm of each
    sample's scaled kernel when ``demodulate``, then ``noise`` added."""
    n = x.shape[0]
    x = x * styles.to(x.dtype).reshape(n, -1, 1, 1)
    x = conv2d_resample(x, weight.to(x.dtype), f, up=up, padding=padding)
    if demodulate:
        coefficients = ((weight.unsqueeze(0) * styles.reshape(n, 1, -1, 1, 1)).square().sum(dim=(2, 3, 4)) + 1e-8).rsqrt()
        x = x * coefficients.to(x.dtype).reshape(n, -1, 1, 1)
    return x + noise.to(x.dtype) if noise is not None else x


def normalize_2nd_moment(x: Tensor, eps: float = 1e-8) -> Tensor:
    """Rows scaled to unit mean square."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()
