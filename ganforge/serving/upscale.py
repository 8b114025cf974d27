"""``POST /upscale`` for image-to-image runs (super-resolution): a PNG or JPEG in, the upscaled PNG out."""

from __future__ import annotations

import io
import threading

import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from ganforge.imaging import to_pil
from ganforge.interfaces import Generator
from ganforge.serving.query import BadRequest
from ganforge.serving.tiling import image_to_image_scale, upscale_image

#: largest request body accepted (bytes) and largest input image (pixels), by default
MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 1024 * 1024
MODES = {1: "L", 3: "RGB"}


class Upscaler:
    """Upscales posted images with a generator that reads an ``lr`` image input, one request at a
    time (the lock bounds memory), tile by tile for large images."""

    def __init__(self, generator: Generator, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS, tile: int = 128, overlap: int = 16) -> None:
        scale = image_to_image_scale(generator, "lr")
        if scale is None:
            raise ValueError(f"{type(generator).__name__} reads no 'lr' image to upscale")
        self.generator, self.scale = generator, scale
        self.channels = int(generator.image_shape[0])
        self.max_bytes, self.max_pixels, self.tile, self.overlap = max_bytes, max_pixels, tile, overlap
        self.lock = threading.Lock()

    def decode(self, body: bytes) -> Tensor:
        """The posted image as uint8 ``(C, H, W)``; :class:`BadRequest` for anything else."""
        if not body:
            raise BadRequest("POST /upscale needs a PNG or JPEG image as the request body")
        Image.MAX_IMAGE_PIXELS = None  # checked below, before decoding the pixels
        try:
            with Image.open(io.BytesIO(body)) as image:
                if image.format not in ("PNG", "JPEG"):
                    raise BadRequest(f"the body is a {image.format} image; send a PNG or JPEG")
                width, height = image.size
                if width * height > self.max_pixels:
                    raise BadRequest(f"the image is {width}x{height}, more than the {self.max_pixels} pixels allowed; send a smaller one", max_pixels=self.max_pixels)
                wanted = MODES[self.channels]
                if image.mode != wanted:
                    described = f"{len(image.getbands())} channels ({image.mode})"
                    raise BadRequest(f"the image has {described}; this model takes {self.channels} ({wanted})", channels=self.channels)
                array = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
        except (UnidentifiedImageError, OSError, ValueError):
            raise BadRequest("the body is not a readable PNG or JPEG image") from None
        return array.view(height, width, self.channels).permute(2, 0, 1).contiguous()

    def png(self, body: bytes) -> bytes:
        """The upscaled image of ``body``, as PNG bytes."""
        image = self.decode(body)
        with self.lock:
            result = upscale_image(self.generator, image, "lr", self.tile, self.overlap)
        buffer = io.BytesIO()
        to_pil(result).save(buffer, format="PNG")
        return buffer.getvalue()
