"""R2 gradient penalty (Mescheder et al., 2018; with R1 in R3GAN, Huang et al., 2024), on generated samples."""

from __future__ import annotations

from torch import Tensor

from ganforge import Batch, hookimpl
from ganforge_builtins.losses._gradients import score_gradient_norms
from ganforge_builtins.losses.r1 import R1Penalty


class R2Penalty(R1Penalty):
    """R2 penalty: (gamma / 2) * E[||grad D(G(z))||^2] on generated samples, discriminator side only.

    The zero-centred penalty on fakes that R3GAN pairs with ``r1`` (same gamma) to make the
    relativistic pairing loss ``rpgan`` converge: ``penalties: [{name: r1, gamma: 0.1},
    {name: r2, gamma: 0.1}]``. The fakes are detached, so it trains only the discriminator.

    Args:
        gamma: the penalty weight.
    """

    def discriminator_loss(self, batch: Batch) -> Tensor:
        return 0.5 * self.gamma * score_gradient_norms(batch, batch.fake).pow(2).mean()


@hookimpl
def register_losses(register):
    register("r2", R2Penalty)
