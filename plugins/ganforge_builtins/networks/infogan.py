"""InfoGAN (Chen et al., 2016): structured latent codes, a Q head on the discriminator trunk
that recovers them, and the mutual-information term that makes the codes meaningful."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge import Batch, Discriminator, DiscriminatorOutput, Generator, Loss, hookimpl
from ganforge.errors import GanforgeError
from ganforge.interfaces import truncate_by_redrawing
from ganforge.types import NonNegativeFloat, NonNegativeInt, PositiveInt, Range
from ganforge_builtins.networks.dcgan import init_dcgan_weights

SUPPORTED_SIZES = (28, 32)
TRUNK_FEATURES = 1024
#: a categorical code's number of values: at least two to choose between.
CodeValues = Annotated[int, Range(min=2)]


@dataclass(frozen=True)
class CodeLayout:
    """Where the codes sit in the latent vector: [noise | one-hot categoricals | continuous]."""

    noise_dim: int
    categorical: tuple[int, ...]
    continuous: int

    @property
    def categorical_dim(self) -> int:
        return sum(self.categorical)

    @property
    def latent_dim(self) -> int:
        return self.noise_dim + self.categorical_dim + self.continuous

    def categorical_codes(self, latent: Tensor) -> list[Tensor]:
        """The one-hot blocks of ``latent``, one ``(N, k)`` tensor per categorical code."""
        blocks, start = [], self.noise_dim
        for k in self.categorical:
            blocks.append(latent[:, start : start + k])
            start += k
        return blocks

    def continuous_codes(self, latent: Tensor) -> Tensor:
        return latent[:, self.noise_dim + self.categorical_dim :]


def _layout(noise_dim: int, categorical: Sequence[int], continuous: int) -> CodeLayout:
    if not categorical and continuous == 0:
        raise ValueError("InfoGAN needs at least one latent code: set categorical and/or continuous")
    return CodeLayout(noise_dim, tuple(categorical), continuous)


def _check_size(image_shape: tuple[int, int, int]) -> int:
    if len(image_shape) != 3 or image_shape[1] != image_shape[2] or image_shape[1] not in SUPPORTED_SIZES:
        raise ValueError(f"InfoGAN supports square images of size {SUPPORTED_SIZES}, got {tuple(image_shape)}")
    return image_shape[1] // 4


class InfoGANGenerator(Generator):
    """InfoGAN generator (the paper's MNIST network) whose latent carries categorical and continuous codes.

    The latent vector is [noise ~ N(0, I) | one-hot categorical codes | continuous codes ~ U(-1, 1)].
    The generator brings the mutual-information term (see ``loss_terms``); the discriminator must be
    ``infogan`` with the same ``categorical`` and ``continuous``.

    Args:
        image_shape: (channels, size, size) from the dataset; size 28 or 32.
        noise_dim: size of the incompressible Gaussian noise.
        categorical: number of values of each categorical code, e.g. [10].
        continuous: number of continuous codes.
        width: channels of the last hidden layer.
        categorical_weight: lambda for the categorical codes' cross-entropy.
        continuous_weight: lambda for the continuous codes' Gaussian negative log-likelihood.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        noise_dim: PositiveInt = 62,
        categorical: tuple[CodeValues, ...] = (10,),
        continuous: NonNegativeInt = 2,
        width: PositiveInt = 64,
        categorical_weight: NonNegativeFloat = 1.0,
        continuous_weight: NonNegativeFloat = 0.1,
    ) -> None:
        super().__init__()
        base = _check_size(image_shape)
        self.layout = _layout(noise_dim, categorical, continuous)
        self.latent_dim = self.layout.latent_dim
        self.image_shape = tuple(image_shape)
        self.base, self.width = base, width
        self.information = MutualInformation(self.layout, categorical_weight, continuous_weight)
        self.fc = nn.Sequential(
            nn.Linear(self.latent_dim, TRUNK_FEATURES),
            nn.BatchNorm1d(TRUNK_FEATURES),
            nn.ReLU(True),
            nn.Linear(TRUNK_FEATURES, 2 * width * base * base),
            nn.BatchNorm1d(2 * width * base * base),
            nn.ReLU(True),
        )
        self.conv = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1),
            nn.BatchNorm2d(width),
            nn.ReLU(True),
            nn.ConvTranspose2d(width, image_shape[0], 4, 2, 1),
            nn.Tanh(),
        )
        self.apply(init_dcgan_weights)

    def sample_latent(
        self, n: int, device: torch.device | str = "cpu", generator: torch.Generator | None = None
    ) -> Tensor:
        """[noise | one-hot uniform categorical codes | U(-1, 1) continuous codes]."""
        parts = [torch.randn(n, self.layout.noise_dim, device=device, generator=generator)]
        for k in self.layout.categorical:
            values = torch.randint(k, (n,), device=device, generator=generator)
            parts.append(F.one_hot(values, k).float())
        parts.append(torch.rand(n, self.layout.continuous, device=device, generator=generator) * 2 - 1)
        return torch.cat(parts, dim=1)

    def truncate(self, latent: Tensor, psi: float, generator: torch.Generator | None = None, labels: Tensor | None = None) -> Tensor:
        """Truncates the Gaussian noise only (entries redrawn into [-psi, psi]); the codes,
        which choose what the sample shows, stay as drawn."""
        dim = self.layout.noise_dim
        noise = truncate_by_redrawing(latent[:, :dim], psi, lambda n: torch.randn(n, dim, device=latent.device, generator=generator))
        return torch.cat([noise, latent[:, self.layout.noise_dim :]], dim=1)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        h = self.fc(z).view(z.shape[0], 2 * self.width, self.base, self.base)
        return self.conv(h)

    def loss_terms(self) -> Sequence[Loss]:
        return (self.information,)


class InfoGANDiscriminator(Discriminator):
    """InfoGAN discriminator: a convolutional trunk shared by the score and the Q head that predicts the codes.

    The Q head's outputs are in ``extras``: ``q_logits``, ``q_mean``, ``q_log_var``.

    Args:
        image_shape: (channels, size, size) from the dataset; size 28 or 32.
        categorical: number of values of each categorical code (as the generator's).
        continuous: number of continuous codes (as the generator's).
        width: channels of the first convolution.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        categorical: tuple[CodeValues, ...] = (10,),
        continuous: NonNegativeInt = 2,
        width: PositiveInt = 64,
    ) -> None:
        super().__init__()
        base = _check_size(image_shape)
        self.layout = _layout(0, categorical, continuous)
        self.trunk = nn.Sequential(
            nn.Conv2d(image_shape[0], width, 4, 2, 1),
            nn.LeakyReLU(0.1, True),
            nn.Conv2d(width, 2 * width, 4, 2, 1),
            nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(0.1, True),
            nn.Flatten(),
            nn.Linear(2 * width * base * base, TRUNK_FEATURES),
            nn.BatchNorm1d(TRUNK_FEATURES),
            nn.LeakyReLU(0.1, True),
        )
        self.score = nn.Linear(TRUNK_FEATURES, 1)
        self.q_head = nn.Sequential(
            nn.Linear(TRUNK_FEATURES, 128),
            nn.BatchNorm1d(128),
            nn.LeakyReLU(0.1, True),
            nn.Linear(128, self.layout.categorical_dim + 2 * self.layout.continuous),
        )
        self.apply(init_dcgan_weights)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> DiscriminatorOutput:
        h = self.trunk(images)
        q = self.q_head(h)
        k = self.layout.categorical_dim
        mean, log_var = q[:, k:].chunk(2, dim=1) if self.layout.continuous else (q[:, k:], q[:, k:])
        return DiscriminatorOutput(
            self.score(h).flatten(),
            {"q_logits": q[:, :k], "q_mean": mean, "q_log_var": log_var.clamp(-8.0, 8.0)},
        )


class MutualInformation(Loss):
    """InfoGAN's variational lower bound on I(c; G(z, c)), as a loss on both networks.

    lambda_cat * cross-entropy(Q's logits, categorical codes) + lambda_cont * Gaussian negative
    log-likelihood of the continuous codes under Q's mean and log-variance, on the fake batch.
    It trains the Q head and trunk in the discriminator phase and the generator in the generator phase.
    """

    name = "mutual-information"  # how the trainer labels this term's losses in metrics.jsonl

    def __init__(self, layout: CodeLayout, categorical_weight: NonNegativeFloat = 1.0, continuous_weight: NonNegativeFloat = 0.1) -> None:
        self.layout = layout
        self.categorical_weight = categorical_weight
        self.continuous_weight = continuous_weight

    def _loss(self, batch: Batch) -> Tensor:
        extras = batch.fake_output.extras
        if "q_logits" not in extras:
            raise GanforgeError("the infogan generator needs the infogan discriminator (its Q head predicts the codes)")
        logits, mean, log_var = extras["q_logits"], extras["q_mean"], extras["q_log_var"]
        codes = self.layout.continuous_codes(batch.latent)
        if logits.shape[1] != self.layout.categorical_dim or mean.shape[1] != codes.shape[1]:
            raise GanforgeError(
                f"infogan generator and discriminator disagree on the codes: the generator has "
                f"categorical={list(self.layout.categorical)}, continuous={self.layout.continuous}; "
                "give both the same `categorical` and `continuous`"
            )
        total = logits.new_zeros(())
        start = 0
        for one_hot in self.layout.categorical_codes(batch.latent):
            k = one_hot.shape[1]
            total = total + self.categorical_weight * F.cross_entropy(logits[:, start : start + k], one_hot.argmax(1))
            start += k
        if self.layout.continuous:
            nll = 0.5 * (math.log(2 * math.pi) + log_var + (codes - mean).pow(2) * torch.exp(-log_var))
            total = total + self.continuous_weight * nll.sum(dim=1).mean()
        return total

    def discriminator_loss(self, batch: Batch) -> Tensor:
        return self._loss(batch)

    def generator_loss(self, batch: Batch) -> Tensor:
        return self._loss(batch)


@hookimpl
def register_generators(register):
    register("infogan", InfoGANGenerator)


@hookimpl
def register_discriminators(register):
    register("infogan", InfoGANDiscriminator)
