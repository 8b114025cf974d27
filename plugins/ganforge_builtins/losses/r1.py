"""R1 gradient penalty (Mescheder et al., 2018), usable with any adversarial loss."""

from __future__ import annotations

from torch import Tensor

from ganforge import Batch, Loss, hookimpl
from ganforge.types import NonNegativeFloat
from ganforge_builtins.losses._gradients import score_gradient_norms


class R1Penalty(Loss):
    """R1 penalty: (gamma / 2) * E[||grad D(x)||^2] on real samples, discriminator side only.

    Add it under ``penalties: [{name: r1, gamma: 10.0}]``.

    Args:
        gamma: the penalty weight.
    """

    def __init__(self, gamma: NonNegativeFloat = 10.0) -> None:
        self.gamma = gamma

    def discriminator_loss(self, batch: Batch) -> Tensor:
        return 0.5 * self.gamma * score_gradient_norms(batch, batch.real).pow(2).mean()


@hookimpl
def register_losses(register):
    register("r1", R1Penalty)
