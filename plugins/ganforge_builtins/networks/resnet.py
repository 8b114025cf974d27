"""ResNet generator and spectrally normalised ResNet discriminator (Miyato et al., 2018, SNGAN),
class-conditional through conditional batch norm (G) and a projection head (D)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from ganforge import Discriminator, Generator, hookimpl
from ganforge.types import NonNegativeInt, PositiveInt
from ganforge_builtins.networks.conditioning import ConditionalBatchNorm, classes_or_none, require_labels

#: size -> (base resolution, number of 2x upsamplings)
PLANS = {28: (7, 2), 32: (4, 3), 64: (4, 4)}


def _plan(image_shape: tuple[int, int, int]) -> tuple[int, int]:
    if len(image_shape) != 3 or image_shape[1] != image_shape[2] or image_shape[1] not in PLANS:
        raise ValueError(f"the ResNet GAN supports square images of size {tuple(PLANS)}, got {tuple(image_shape)}")
    return PLANS[image_shape[1]]


class UpBlock(nn.Module):
    """BN-ReLU-upsample-conv-BN-ReLU-conv with an upsample-conv1x1 shortcut."""

    def __init__(self, in_channels: int, out_channels: int, num_classes: int | None) -> None:
        super().__init__()
        self.norm1 = ConditionalBatchNorm(in_channels, num_classes)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.norm2 = ConditionalBatchNorm(out_channels, num_classes)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: Tensor, labels: Tensor | None) -> Tensor:
        h = F.interpolate(F.relu(self.norm1(x, labels)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.norm2(self.conv1(h), labels)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class ResNetGenerator(Generator):
    """SNGAN ResNet generator: linear to 4x4 (7x7 for 28), upsampling residual blocks, tanh.

    Args:
        image_shape: (channels, size, size) from the dataset; size 28, 32 or 64.
        latent_dim: size of the Gaussian latent vector.
        width: channels of every residual block (256 for CIFAR-10 in the paper).
        num_classes: make the generator class-conditional (conditional batch norm).
    """

    def __init__(
        self, image_shape: tuple[int, int, int], latent_dim: PositiveInt = 128, width: PositiveInt = 256, num_classes: NonNegativeInt | None = None
    ) -> None:
        super().__init__()
        self.base, stages = _plan(image_shape)
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        self.num_classes = classes_or_none(num_classes)
        self.width = width
        self.fc = nn.Linear(latent_dim, width * self.base * self.base)
        self.blocks = nn.ModuleList(UpBlock(width, width, self.num_classes) for _ in range(stages))
        self.out = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, image_shape[0], 3, 1, 1), nn.Tanh())

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        labels = require_labels(labels, self.num_classes, z.shape[0], "resnet generator")
        h = self.fc(z).view(z.shape[0], self.width, self.base, self.base)
        for block in self.blocks:
            h = block(h, labels)
        return self.out(h)


class DownBlock(nn.Module):
    """ReLU-conv-ReLU-conv(-avgpool) with a conv1x1(-avgpool) shortcut, spectrally normalised.
    The first block of the network skips the leading ReLU (its input is the image)."""

    def __init__(self, in_channels: int, out_channels: int, downsample: bool, first: bool = False) -> None:
        super().__init__()
        self.conv1 = spectral_norm(nn.Conv2d(in_channels, out_channels, 3, 1, 1))
        self.conv2 = spectral_norm(nn.Conv2d(out_channels, out_channels, 3, 1, 1))
        self.shortcut = (
            spectral_norm(nn.Conv2d(in_channels, out_channels, 1)) if downsample or in_channels != out_channels else None
        )
        self.downsample = downsample
        self.first = first

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(F.relu(self.conv1(x if self.first else F.relu(x))))
        skip = x
        if self.first:
            # SNGAN's optimised first block pools before the 1x1 convolution.
            skip = self.shortcut(F.avg_pool2d(x, 2)) if self.shortcut is not None else x
            return F.avg_pool2d(h, 2) + skip
        if self.shortcut is not None:
            skip = self.shortcut(skip)
        if self.downsample:
            h, skip = F.avg_pool2d(h, 2), F.avg_pool2d(skip, 2)
        return h + skip


class ResNetDiscriminator(Discriminator):
    """SNGAN ResNet discriminator: spectrally normalised residual blocks, sum pooling, projection when conditional.

    The projection head is Miyato & Koyama's (2018).

    Args:
        image_shape: (channels, size, size) from the dataset; size 28, 32 or 64.
        width: channels of every residual block (128 for CIFAR-10 in the paper).
        num_classes: make the discriminator class-conditional (projection of a label embedding).
    """

    def __init__(self, image_shape: tuple[int, int, int], width: PositiveInt = 128, num_classes: NonNegativeInt | None = None) -> None:
        super().__init__()
        _, stages = _plan(image_shape)
        self.num_classes = classes_or_none(num_classes)
        blocks = [DownBlock(image_shape[0], width, downsample=True, first=True)]
        blocks += [DownBlock(width, width, downsample=True) for _ in range(stages - 2)]
        blocks += [DownBlock(width, width, downsample=False) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.linear = spectral_norm(nn.Linear(width, 1))
        self.projection = spectral_norm(nn.Embedding(self.num_classes, width)) if self.num_classes else None

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        labels = require_labels(labels, self.num_classes, images.shape[0], "resnet discriminator")
        features = F.relu(self.blocks(images)).sum(dim=(2, 3))
        scores = self.linear(features).flatten()
        if self.projection is not None:
            scores = scores + (self.projection(labels) * features).sum(dim=1)
        return scores


@hookimpl
def register_generators(register):
    register("resnet", ResNetGenerator)


@hookimpl
def register_discriminators(register):
    register("resnet", ResNetDiscriminator)
