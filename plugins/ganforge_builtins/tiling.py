"""Upscaling images of any size in overlapping tiles, so memory stays bounded (a helper, not a plugin)."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor


def upscale_tiled(upscale: Callable[[Tensor], Tensor], image: Tensor, scale: int, tile: int = 128, overlap: int = 16) -> Tensor:
    """``upscale`` applied to ``image`` ``(1, C, H, W)`` tile by tile.

    The image is cut into a grid of ``tile`` × ``tile`` cores; each core is upscaled with
    ``overlap`` pixels of context on every side (clipped at the image's edges) and only the
    core's part of the output is kept. When the network's receptive field reaches no farther
    than ``overlap`` low-resolution pixels, the result equals one pass over the whole image (up
    to float rounding); beyond it, the seams differ slightly. An image no larger than one tile
    is upscaled in one pass.
    """
    if tile < 1 or overlap < 0:
        raise ValueError(f"tile must be >= 1 and overlap >= 0, got {tile} and {overlap}")
    _, _, height, width = image.shape
    if height <= tile and width <= tile:
        return upscale(image)
    out: Tensor | None = None
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            y0, x0 = max(top - overlap, 0), max(left - overlap, 0)
            y1, x1 = min(top + tile + overlap, height), min(left + tile + overlap, width)
            part = upscale(image[:, :, y0:y1, x0:x1])
            if out is None:
                out = torch.empty(1, part.shape[1], height * scale, width * scale, dtype=part.dtype, device=part.device)
            core_h, core_w = min(tile, height - top), min(tile, width - left)
            dy, dx = (top - y0) * scale, (left - x0) * scale
            out[:, :, top * scale : (top + core_h) * scale, left * scale : (left + core_w) * scale] = part[
                :, :, dy : dy + core_h * scale, dx : dx + core_w * scale
            ]
    assert out is not None
    return out
