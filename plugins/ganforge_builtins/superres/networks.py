"""Super-resolution networks: SRResNet (SRGAN's generator), BasicSR's MSRResNet, RRDB (ESRGAN's) and SRGAN's VGG-style discriminator."""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge import Discriminator, Generator, hookimpl
from ganforge.errors import GanforgeError
from ganforge.types import PositiveInt


def _check_shape(image_shape: tuple[int, ...], scale: int) -> tuple[int, int, int]:
    if len(image_shape) != 3 or image_shape[0] not in (1, 3):
        raise ValueError(f"image_shape must be (1 or 3, H, W), got {tuple(image_shape)}")
    channels, height, width = (int(s) for s in image_shape)
    if height % scale or width % scale:
        raise ValueError(f"the high-resolution size {height}x{width} is not a multiple of scale={scale}")
    return channels, height, width


class SuperResolver(Generator):
    """What the SR generators share: they read the dataset input ``lr`` and upscale it by ``scale``."""

    inputs = ("lr",)
    latent_dim = 1  # unused: the low-resolution image is the input; the trainer still draws a latent

    def __init__(self, image_shape: tuple[int, ...], scale: int, unit_range: bool = False) -> None:
        super().__init__()
        channels, height, width = _check_shape(image_shape, scale)
        self.image_shape = (channels, height, width)
        self.scale = scale
        self.unit_range = unit_range
        self.input_shapes = {"lr": (channels, height // scale, width // scale)}

    def forward(self, z: Tensor, labels: Tensor | None = None, lr: Tensor | None = None) -> Tensor:
        if lr is None:
            raise GanforgeError(f"{type(self).__name__} upscales a low-resolution image and cannot draw from latents; use `ganforge upscale RUN_DIR image.png`")
        return self.upscale(lr)

    def to_network_range(self, lr: Tensor) -> Tensor:
        """The input in the range the layers were trained on: [0, 1] with ``unit_range`` (the
        published ESRGAN, Real-ESRGAN and BasicSR weights), else ganforge's [-1, 1] as it is."""
        return (lr + 1) * 0.5 if self.unit_range else lr

    def from_network_range(self, out: Tensor) -> Tensor:
        """The layers' output back in ganforge's [-1, 1] (the inverse of :meth:`to_network_range`)."""
        return out * 2 - 1 if self.unit_range else out

    def upscale(self, lr: Tensor) -> Tensor:  # pragma: no cover
        """Low-resolution images in [-1, 1], any size -> ``scale``-times larger images in [-1, 1]."""
        raise NotImplementedError


class _ResidualBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.PReLU(width),
            nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class SRResNet(SuperResolver):
    """SRResNet (Ledig et al. 2017, SRGAN's generator): residual blocks with batch norm and PReLU, pixel-shuffle upsampling.

    A 9×9 convolution, ``blocks`` residual blocks (conv-BN-PReLU-conv-BN plus the skip), a
    conv-BN with a skip from the first layer, one (conv, pixel shuffle ×2, PReLU) stage per
    factor 2 of ``scale``, and a 9×9 convolution with tanh. Reads the dataset input ``lr``.

    Args:
        image_shape: the high-resolution shape (from the dataset); its sides are multiples of scale.
        scale: the upscaling factor, 2 or 4.
        blocks: residual blocks (16 in the paper).
        width: channels of the body (64 in the paper).
    """

    def __init__(self, image_shape: tuple[int, ...], scale: Literal[2, 4] = 4, blocks: PositiveInt = 16, width: PositiveInt = 64) -> None:
        super().__init__(image_shape, scale)
        channels = self.image_shape[0]
        self.head = nn.Sequential(nn.Conv2d(channels, width, 9, padding=4), nn.PReLU(width))
        self.body = nn.Sequential(*[_ResidualBlock(width) for _ in range(blocks)], nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width))
        stages: list[nn.Module] = []
        for _ in range(int(math.log2(scale))):
            stages += [nn.Conv2d(width, width * 4, 3, padding=1), nn.PixelShuffle(2), nn.PReLU(width)]
        self.upsample = nn.Sequential(*stages)
        self.tail = nn.Conv2d(width, channels, 9, padding=4)

    def upscale(self, lr: Tensor) -> Tensor:
        head = self.head(lr)
        return torch.tanh(self.tail(self.upsample(head + self.body(head))))


class _DenseBlock(nn.Module):
    """Five 3×3 convolutions, each seeing all earlier outputs; the result scaled by 0.2 and added."""

    def __init__(self, width: int, growth: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(width + i * growth, growth if i < 4 else width, 3, padding=1) for i in range(5))
        for conv in self.convs:  # ESRGAN's initialisation: Kaiming, scaled by 0.1, for stable deep residual stacks
            nn.init.kaiming_normal_(conv.weight, a=0, mode="fan_in")
            conv.weight.data.mul_(0.1)
            nn.init.zeros_(conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for i, conv in enumerate(self.convs):
            out = conv(torch.cat(features, 1))
            if i < 4:
                features.append(F.leaky_relu(out, 0.2))
        return x + 0.2 * out


class _RRDB(nn.Module):
    def __init__(self, width: int, growth: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*[_DenseBlock(width, growth) for _ in range(3)])

    def forward(self, x: Tensor) -> Tensor:
        return x + 0.2 * self.blocks(x)


class RRDBNet(SuperResolver):
    """RRDB network (Wang et al. 2018, ESRGAN's generator): residual-in-residual dense blocks, no batch norm, nearest upsampling + conv.

    A 3×3 convolution, ``blocks`` residual-in-residual dense blocks (three dense blocks of five
    convolutions each, every residual scaled by 0.2), a convolution with a skip from the first
    layer, one (nearest ×2, conv, LeakyReLU) stage per factor 2 of ``scale``, then two
    convolutions. The output is linear, as in ESRGAN, and clamped to [-1, 1] in eval mode
    (samples, metrics, ``upscale``); training sees it unclamped so no gradient is cut.

    Args:
        image_shape: the high-resolution shape (from the dataset); its sides are multiples of scale.
        scale: the upscaling factor, 2 or 4.
        blocks: RRDB blocks (23 in the paper).
        width: channels of the body (64 in the paper).
        growth: channels each dense convolution adds (32 in the paper).
        unit_range: the layers compute on images in [0, 1], as the published ESRGAN and
            Real-ESRGAN weights do (``ganforge import esrgan`` sets it); input and output stay in [-1, 1].
    """

    def __init__(
        self, image_shape: tuple[int, ...], scale: Literal[2, 4] = 4, blocks: PositiveInt = 23, width: PositiveInt = 64, growth: PositiveInt = 32, unit_range: bool = False
    ) -> None:
        super().__init__(image_shape, scale, unit_range)
        channels = self.image_shape[0]
        self.head = nn.Conv2d(channels, width, 3, padding=1)
        self.body = nn.Sequential(*[_RRDB(width, growth) for _ in range(blocks)], nn.Conv2d(width, width, 3, padding=1))
        self.ups = nn.ModuleList(nn.Conv2d(width, width, 3, padding=1) for _ in range(int(math.log2(scale))))
        self.hr_conv = nn.Conv2d(width, width, 3, padding=1)
        self.tail = nn.Conv2d(width, channels, 3, padding=1)

    def upscale(self, lr: Tensor) -> Tensor:
        head = self.head(self.to_network_range(lr))
        x = head + self.body(head)
        for conv in self.ups:
            x = F.leaky_relu(conv(F.interpolate(x, scale_factor=2, mode="nearest")), 0.2)
        out = self.from_network_range(self.tail(F.leaky_relu(self.hr_conv(x), 0.2)))
        return out if self.training else out.clamp(-1, 1)


class _PlainResidualBlock(nn.Module):
    """conv-ReLU-conv plus the skip, no batch norm (EDSR's and MSRResNet's block)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class MSRResNet(SuperResolver):
    """BasicSR's modified SRResNet: SRResNet without batch norm, LeakyReLU(0.1), a bilinear skip from the input.

    A 3×3 convolution and LeakyReLU, ``blocks`` residual blocks (conv-ReLU-conv plus the
    skip), one (conv, pixel shuffle ×2, LeakyReLU) stage per factor 2 of ``scale``, two
    convolutions, plus the input upscaled bilinearly. The layout of BasicSR's published
    SRResNet and SRGAN weights (``ganforge import esrgan`` reads them). The output is linear,
    clamped to [-1, 1] in eval mode.

    Args:
        image_shape: the high-resolution shape (from the dataset); its sides are multiples of scale.
        scale: the upscaling factor, 2 or 4.
        blocks: residual blocks (16 in BasicSR).
        width: channels of the body (64 in BasicSR).
        unit_range: the layers compute on images in [0, 1], as BasicSR's weights do; input and output stay in [-1, 1].
    """

    def __init__(self, image_shape: tuple[int, ...], scale: Literal[2, 4] = 4, blocks: PositiveInt = 16, width: PositiveInt = 64, unit_range: bool = False) -> None:
        super().__init__(image_shape, scale, unit_range)
        channels = self.image_shape[0]
        self.head = nn.Conv2d(channels, width, 3, padding=1)
        self.body = nn.Sequential(*[_PlainResidualBlock(width) for _ in range(blocks)])
        self.ups = nn.ModuleList(nn.Conv2d(width, width * 4, 3, padding=1) for _ in range(int(math.log2(scale))))
        self.hr_conv = nn.Conv2d(width, width, 3, padding=1)
        self.tail = nn.Conv2d(width, channels, 3, padding=1)

    def upscale(self, lr: Tensor) -> Tensor:
        x = self.to_network_range(lr)
        feat = self.body(F.leaky_relu(self.head(x), 0.1))
        for conv in self.ups:
            feat = F.leaky_relu(F.pixel_shuffle(conv(feat), 2), 0.1)
        out = self.tail(F.leaky_relu(self.hr_conv(feat), 0.1)) + F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)
        out = self.from_network_range(out)
        return out if self.training else out.clamp(-1, 1)


class VGGStyleDiscriminator(Discriminator):
    """SRGAN's discriminator: eight 3×3 conv layers (strides alternating 1 and 2, channels doubling), LeakyReLU, two dense layers.

    Channels ``width``, ``width``, 2×``width``, ... 8×``width``; batch norm after every
    convolution but the first; LeakyReLU(0.2); then a dense layer of 1024 units on the
    flattened features and one score. Sized for the training crop (``image_shape``).

    Args:
        image_shape: the high-resolution crop shape (from the dataset).
        width: channels of the first layers (64 in the paper).
    """

    def __init__(self, image_shape: tuple[int, ...], width: PositiveInt = 64) -> None:
        super().__init__()
        if len(image_shape) != 3:
            raise ValueError(f"image_shape must be (C, H, W), got {tuple(image_shape)}")
        channels, height, breadth = (int(s) for s in image_shape)
        layers: list[nn.Module] = []
        previous = channels
        for i in range(8):
            out = width * 2 ** (i // 2)
            stride = 1 if i % 2 == 0 else 2
            layers.append(nn.Conv2d(previous, out, 3, stride=stride, padding=1))
            if i:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.LeakyReLU(0.2))
            previous = out
            if stride == 2:
                height, breadth = (height + 1) // 2, (breadth + 1) // 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(previous * height * breadth, 1024), nn.LeakyReLU(0.2), nn.Linear(1024, 1))

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.head(self.features(images)).squeeze(1)


@hookimpl
def register_generators(register):
    register("srresnet", SRResNet)
    register("rrdb", RRDBNet)
    register("msrresnet", MSRResNet)


@hookimpl
def register_discriminators(register):
    register("vgg-style", VGGStyleDiscriminator)
