"""Generator and discriminator interfaces.

Images flow through ganforge as float tensors in [-1, 1], shape ``(N, *image_shape)``.
Class labels, when a model is conditional, are int64 tensors of shape ``(N,)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from ganforge.interfaces.loss import Loss


class Generator(nn.Module):
    """Maps latent vectors (and class labels, when conditional) to samples in [-1, 1].

    Subclasses set ``latent_dim``, ``image_shape`` and ``num_classes`` (``None`` when
    unconditional) and implement :meth:`forward`.
    """

    latent_dim: int
    image_shape: tuple[int, ...]
    num_classes: int | None = None

    def sample_latent(
        self, n: int, device: torch.device | str = "cpu", generator: torch.Generator | None = None
    ) -> Tensor:
        """Draw ``n`` latent vectors. Override for structured latents (e.g. InfoGAN codes)."""
        return torch.randn(n, self.latent_dim, device=device, generator=generator)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def loss_terms(self) -> Sequence[Loss]:
        """Extra objectives this network brings along (e.g. InfoGAN's mutual information)."""
        return ()


@dataclass
class DiscriminatorOutput:
    """Scores of shape ``(N,)`` plus named auxiliary outputs (e.g. an InfoGAN Q head)."""

    scores: Tensor
    extras: dict[str, Tensor] = field(default_factory=dict)


class Discriminator(nn.Module):
    """Scores samples: higher means "more real" for every built-in loss.

    ``forward(images, labels)`` returns scores of shape ``(N,)``, or a
    :class:`DiscriminatorOutput` when the network has auxiliary heads that share its trunk.
    """

    num_classes: int | None = None

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor | DiscriminatorOutput:  # pragma: no cover
        raise NotImplementedError

    def loss_terms(self) -> Sequence[Loss]:
        """Extra objectives this network brings along."""
        return ()


def as_output(result: Tensor | DiscriminatorOutput) -> DiscriminatorOutput:
    """Normalise what a discriminator returned into a :class:`DiscriminatorOutput`."""
    if isinstance(result, DiscriminatorOutput):
        return result
    return DiscriminatorOutput(result)
