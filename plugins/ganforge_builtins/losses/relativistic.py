"""Relativistic average GAN losses (Jolicoeur-Martineau, 2019): the discriminator judges
whether a real sample is more realistic than the average fake one, and vice versa."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganforge import Batch, Loss, hookimpl


def _relative(batch: Batch) -> tuple[Tensor, Tensor]:
    """(C(x_r) - E[C(x_f)], C(x_f) - E[C(x_r)])."""
    real, fake = batch.real_scores, batch.fake_scores
    return real - fake.mean(), fake - real.mean()


class RelativisticAverageStandardLoss(Loss):
    """RaSGAN: binary cross-entropy on relative logits, averaged over the real and fake terms.

    D: (BCE(C(x_r) - E C(x_f), 1) + BCE(C(x_f) - E C(x_r), 0)) / 2; G swaps the targets.
    The generator's gradient also flows through E[C(x_f)] in the real term.
    """

    def discriminator_loss(self, batch: Batch) -> Tensor:
        real_rel, fake_rel = _relative(batch)
        return 0.5 * (F.softplus(-real_rel).mean() + F.softplus(fake_rel).mean())

    def generator_loss(self, batch: Batch) -> Tensor:
        real_rel, fake_rel = _relative(batch)
        return 0.5 * (F.softplus(real_rel).mean() + F.softplus(-fake_rel).mean())


class RelativisticAverageLeastSquaresLoss(Loss):
    """RaLSGAN: least squares on relative scores, averaged over the real and fake terms.

    D: (E[(C(x_r) - E C(x_f) - 1)^2] + E[(C(x_f) - E C(x_r) + 1)^2]) / 2; G swaps the signs.
    """

    def discriminator_loss(self, batch: Batch) -> Tensor:
        real_rel, fake_rel = _relative(batch)
        return 0.5 * ((real_rel - 1).pow(2).mean() + (fake_rel + 1).pow(2).mean())

    def generator_loss(self, batch: Batch) -> Tensor:
        real_rel, fake_rel = _relative(batch)
        return 0.5 * ((real_rel + 1).pow(2).mean() + (fake_rel - 1).pow(2).mean())


@hookimpl
def register_losses(register):
    register("rasgan", RelativisticAverageStandardLoss)
    register("ralsgan", RelativisticAverageLeastSquaresLoss)
