"""The original minimax GAN loss (Goodfellow et al., 2014), computed on logits."""

from __future__ import annotations

from typing import Annotated

import torch
import torch.nn.functional as F
from torch import Tensor

from ganforge import Batch, Loss, hookimpl
from ganforge.types import Range


class MinimaxLoss(Loss):
    """Minimax / binary cross-entropy GAN loss on discriminator logits.

    Discriminator: BCE(D(x), real_label) + BCE(D(G(z)), 0). Generator, non-saturating:
    BCE(D(G(z)), 1) = -E[log sigmoid(D(G(z)))]; saturating: E[log(1 - sigmoid(D(G(z))))].
    The scores are logits: ``binary_cross_entropy_with_logits`` never overflows.

    Args:
        saturating: use the paper's original saturating generator objective
            (vanishing gradients early on) instead of the non-saturating one.
        real_label: the discriminator's target for real samples; 0.9 is one-sided label smoothing.
        label_noise: probability that a discriminator target is flipped (real gets 0, fake
            gets ``real_label``), the "noisy labels" trick.
    """

    def __init__(self, saturating: bool = False, real_label: Annotated[float, Range(min=0, max=1, min_exclusive=True)] = 1.0, label_noise: Annotated[float, Range(min=0, max=0.5, max_exclusive=True)] = 0.0) -> None:
        self.saturating = saturating
        self.real_label = real_label
        self.label_noise = label_noise

    def _targets(self, scores: Tensor, label: float, flipped_label: float) -> Tensor:
        targets = torch.full_like(scores, label)
        if self.label_noise > 0.0:
            flip = torch.rand(scores.shape, device=scores.device) < self.label_noise
            targets = torch.where(flip, torch.full_like(scores, flipped_label), targets)
        return targets

    def discriminator_loss(self, batch: Batch) -> Tensor:
        real, fake = batch.real_scores, batch.fake_scores
        real_targets = self._targets(real, self.real_label, 0.0)
        fake_targets = self._targets(fake, 0.0, self.real_label)
        return F.binary_cross_entropy_with_logits(real, real_targets) + F.binary_cross_entropy_with_logits(
            fake, fake_targets
        )

    def generator_loss(self, batch: Batch) -> Tensor:
        fake = batch.fake_scores
        if self.saturating:
            # log(1 - sigmoid(s)) = -softplus(s)
            return -F.softplus(fake).mean()
        return F.softplus(-fake).mean()


@hookimpl
def register_losses(register):
    register("bce", MinimaxLoss)
