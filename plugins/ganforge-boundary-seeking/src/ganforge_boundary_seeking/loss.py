"""The ``boundary-seeking`` loss and the hook that registers it (imported by ``plugin`` when ganforge asks for losses)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganforge import Batch, Loss, hookimpl


class BoundarySeekingLoss(Loss):
    """Boundary-seeking GAN (Hjelm et al., 2018): G pulls D(G(z)) to the decision boundary.

    With D(x) = sigmoid(s(x)), the discriminator minimises the usual cross-entropy
    real_label * softplus(-s(x)) + (1 - real_label) * softplus(s(x)) + softplus(s(G(z))),
    and the generator minimises 1/2 E[(log D(G(z)) - log(1 - D(G(z))))^2] = 1/2 E[s(G(z))^2]:
    an optimal D has D / (1 - D) = p_data / p_g, so samples scored at the boundary s = 0 are
    where the two densities agree. Both objectives are finite for any score.

    Args:
        real_label: target probability for real samples in the discriminator's cross-entropy
            (1.0 = the paper; 0.9 = one-sided label smoothing, Salimans et al., 2016).
    """

    def __init__(self, real_label: float = 1.0) -> None:
        if not 0.5 < real_label <= 1.0:
            raise ValueError(f"real_label must be in (0.5, 1], got {real_label}")
        self.real_label = real_label

    def discriminator_loss(self, batch: Batch) -> Tensor:
        real = self.real_label * F.softplus(-batch.real_scores) + (1 - self.real_label) * F.softplus(batch.real_scores)
        return real.mean() + F.softplus(batch.fake_scores).mean()

    def generator_loss(self, batch: Batch) -> Tensor:
        return 0.5 * batch.fake_scores.pow(2).mean()


@hookimpl
def register_losses(register):
    register("boundary-seeking", BoundarySeekingLoss)
