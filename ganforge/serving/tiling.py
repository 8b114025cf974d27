"""Image-to-image networks (super-resolution) on images of any size, in overlapping tiles, so memory stays bounded."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ganforge.errors import GanforgeError
from ganforge.interfaces import Generator, as_generated


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


def image_to_image_scale(generator: Generator, input_name: str = "lr") -> int | None:
    """How many times larger than its image input ``input_name`` a generator's output is (a
    super-resolution generator's ``scale``); None when it reads no such image input."""
    shape = generator.input_shapes.get(input_name) if input_name in generator.inputs else None
    if shape is None or len(shape) != 3 or len(generator.image_shape) != 3 or shape[-1] <= 0:
        return None
    scale = generator.image_shape[-1] // shape[-1]
    return scale if scale * shape[-1] == generator.image_shape[-1] else None


def upscale_image(generator: Generator, image: Tensor, input_name: str = "lr", tile: int = 128, overlap: int = 16) -> Tensor:
    """uint8 ``(C, H, W)`` -> the generator's float ``(C, s·H, s·W)`` in [-1, 1] on the CPU, the
    image given as input ``input_name``, tile by tile when it is larger than ``tile``."""
    scale = image_to_image_scale(generator, input_name)
    if scale is None:
        raise GanforgeError(f"{type(generator).__name__} does not turn an '{input_name}' image into a larger one")
    parameter = next(generator.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    lr = (image.float() / 127.5 - 1)[None].to(device)
    z = torch.zeros(1, generator.latent_dim, device=device)

    def run(part: Tensor) -> Tensor:
        return as_generated(generator(z, None, **{input_name: part})).samples.float()

    with torch.inference_mode():
        return upscale_tiled(run, lr, scale, tile, overlap)[0].clamp(-1, 1).cpu()
