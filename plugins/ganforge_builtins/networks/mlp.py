"""Fully connected generator and discriminator, as in the original MNIST GAN."""

from __future__ import annotations

import math
from typing import Annotated, Literal

import torch
from torch import Tensor, nn

from ganforge import Discriminator, Generator, hookimpl
from ganforge.types import NonNegativeInt, PositiveInt, Range
from ganforge_builtins.networks.conditioning import classes_or_none, one_hot, require_labels


def _stack(sizes: list[int], dropout: float) -> list[nn.Module]:
    """Linear + LeakyReLU(0.2) (+ dropout) for every consecutive pair of ``sizes``."""
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), nn.LeakyReLU(0.2, inplace=True)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return layers


def _check(hidden: tuple[int, ...]) -> None:
    if not hidden:  # the sizes' range is their hint's
        raise ValueError("hidden must be a non-empty list of layer sizes")


class MLPGenerator(Generator):
    """MLP generator: leaky-ReLU hidden layers, tanh (or linear) output, for images or 2-D points.

    Args:
        image_shape: the sample shape, from the dataset (an image or e.g. ``(2,)`` for points).
        latent_dim: size of the Gaussian latent vector.
        hidden: hidden layer sizes.
        dropout: dropout after each hidden layer.
        num_classes: make the generator class-conditional (one-hot labels joined to z).
        output: ``tanh`` bounds samples to [-1, 1] (images); ``linear`` leaves them unbounded,
            which keeps gradients alive on toy 2-D data where an unbounded critic (WGAN) can
            push tanh into saturation.
    """

    def __init__(
        self,
        image_shape: tuple[int, ...],
        latent_dim: PositiveInt = 100,
        hidden: tuple[PositiveInt, ...] = (256, 512, 1024),
        dropout: Annotated[float, Range(min=0, max=1, max_exclusive=True)] = 0.0,
        num_classes: NonNegativeInt | None = None,
        output: Literal["tanh", "linear"] = "tanh",
    ) -> None:
        super().__init__()
        _check(tuple(hidden))
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        self.num_classes = classes_or_none(num_classes)
        sizes = [latent_dim + (self.num_classes or 0), *hidden]
        last = [nn.Tanh()] if output == "tanh" else []
        self.net = nn.Sequential(*_stack(sizes, dropout), nn.Linear(sizes[-1], math.prod(self.image_shape)), *last)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        labels = require_labels(labels, self.num_classes, z.shape[0], "mlp generator")
        if labels is not None:
            z = torch.cat([z, one_hot(labels, self.num_classes, z)], dim=1)
        return self.net(z).view(z.shape[0], *self.image_shape)


class MLPDiscriminator(Discriminator):
    """MLP discriminator: leaky-ReLU hidden layers with dropout, one logit per sample.

    Args:
        image_shape: the sample shape, from the dataset.
        hidden: hidden layer sizes.
        dropout: dropout after each hidden layer.
        num_classes: make the discriminator class-conditional (one-hot labels joined to the input).
    """

    def __init__(
        self,
        image_shape: tuple[int, ...],
        hidden: tuple[PositiveInt, ...] = (512, 256),
        dropout: Annotated[float, Range(min=0, max=1, max_exclusive=True)] = 0.3,
        num_classes: NonNegativeInt | None = None,
    ) -> None:
        super().__init__()
        _check(tuple(hidden))
        self.num_classes = classes_or_none(num_classes)
        sizes = [math.prod(image_shape) + (self.num_classes or 0), *hidden]
        self.net = nn.Sequential(*_stack(sizes, dropout), nn.Linear(sizes[-1], 1))

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        x = images.flatten(1)
        labels = require_labels(labels, self.num_classes, x.shape[0], "mlp discriminator")
        if labels is not None:
            x = torch.cat([x, one_hot(labels, self.num_classes, x)], dim=1)
        return self.net(x).flatten()


@hookimpl
def register_generators(register):
    register("mlp", MLPGenerator)


@hookimpl
def register_discriminators(register):
    register("mlp", MLPDiscriminator)
