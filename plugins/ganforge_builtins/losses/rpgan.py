"""The relativistic pairing GAN loss (RpGAN), as R3GAN uses it (Huang et al., 2024), registered as `rpgan`."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganforge import Batch, Loss, hookimpl


def _paired(batch: Batch) -> tuple[Tensor, Tensor]:
    real, fake = batch.real_scores, batch.fake_scores
    if real.shape != fake.shape:
        raise ValueError(f"rpgan pairs each real score with one fake score, got {tuple(real.shape)} real and {tuple(fake.shape)} fake scores")
    return real, fake


class RelativisticPairingLoss(Loss):
    """Relativistic pairing loss (RpGAN, R3GAN): D minimises softplus(D(G(z)) - D(x)), G softplus(D(x) - D(G(z))).

    Each real sample ``x_i`` is paired with the fake ``G(z_i)`` of the same batch position:
    D: E[softplus(-(D(x_i) - D(G(z_i))))], G: E[softplus(-(D(G(z_i)) - D(x_i)))]. Huang et al.
    ("The GAN is dead; long live the GAN! A Modern GAN Baseline", 2024) show it needs both
    zero-centred penalties to converge: add ``r1`` and ``r2`` with the same gamma. In the
    generator phase the real scores carry no gradient, so only the generator is trained.
    """

    def discriminator_loss(self, batch: Batch) -> Tensor:
        real, fake = _paired(batch)
        return F.softplus(fake - real).mean()

    def generator_loss(self, batch: Batch) -> Tensor:
        real, fake = _paired(batch)
        return F.softplus(real - fake).mean()


@hookimpl
def register_losses(register):
    register("rpgan", RelativisticPairingLoss)
