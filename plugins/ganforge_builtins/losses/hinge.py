"""Hinge GAN loss (Lim & Ye, 2017), as used by SNGAN and BigGAN."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganforge import Batch, Loss, hookimpl


class HingeLoss(Loss):
    """Hinge loss: D minimises E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]; G minimises -E[D(G(z))]."""

    def discriminator_loss(self, batch: Batch) -> Tensor:
        return F.relu(1 - batch.real_scores).mean() + F.relu(1 + batch.fake_scores).mean()

    def generator_loss(self, batch: Batch) -> Tensor:
        return -batch.fake_scores.mean()


@hookimpl
def register_losses(register):
    register("hinge", HingeLoss)
