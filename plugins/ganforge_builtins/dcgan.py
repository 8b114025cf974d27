"""DCGAN generator and discriminator (Radford et al., 2016) for small square images."""

from __future__ import annotations

from torch import Tensor, nn

from ganforge import Discriminator, Generator, hookimpl

SUPPORTED_SIZES = (28, 32, 56, 64)


def _plan(image_shape: tuple[int, int, int]) -> tuple[int, int]:
    """(base spatial size, number of stride-2 stages) for an image shape."""
    if len(image_shape) != 3:
        raise ValueError(f"DCGAN needs image_shape (channels, height, width), got {image_shape}")
    _, height, width = image_shape
    if height != width or height not in SUPPORTED_SIZES:
        raise ValueError(f"DCGAN supports square images of size {SUPPORTED_SIZES}, got {height}x{width}")
    base = 7 if height % 7 == 0 else 4
    return base, (height // base).bit_length() - 1


class DCGANGenerator(Generator):
    """DCGAN generator: transposed convolutions with batch norm, tanh output."""

    def __init__(self, image_shape: tuple[int, int, int], latent_dim: int = 100, width: int = 64) -> None:
        super().__init__()
        base, stages = _plan(image_shape)
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        channels = width * 2 ** (stages - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, channels, base, 1, 0, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(True),
        ]
        for _ in range(stages - 1):
            layers += [
                nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(channels // 2),
                nn.ReLU(True),
            ]
            channels //= 2
        layers += [nn.ConvTranspose2d(channels, image_shape[0], 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(Discriminator):
    """DCGAN discriminator: strided convolutions, batch norm, leaky ReLU; one score per image."""

    def __init__(self, image_shape: tuple[int, int, int], width: int = 64) -> None:
        super().__init__()
        base, stages = _plan(image_shape)
        layers: list[nn.Module] = [nn.Conv2d(image_shape[0], width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        channels = width
        for _ in range(stages - 1):
            layers += [
                nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(channels * 2),
                nn.LeakyReLU(0.2, True),
            ]
            channels *= 2
        layers.append(nn.Conv2d(channels, 1, base, 1, 0, bias=False))
        self.net = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.net(images).flatten()


def init_dcgan_weights(module: nn.Module) -> None:
    """The DCGAN paper's initialisation: N(0, 0.02) convolutions, N(1, 0.02) batch-norm scales."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


@hookimpl
def register_generators(register):
    register("dcgan", DCGANGenerator)


@hookimpl
def register_discriminators(register):
    register("dcgan", DCGANDiscriminator)
