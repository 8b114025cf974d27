"""Least-squares GAN loss (Mao et al., 2017)."""

from __future__ import annotations

from torch import Tensor

from ganforge import Batch, Loss, hookimpl


class LeastSquaresLoss(Loss):
    """LSGAN: D pulls real scores to b and fake scores to a; G pulls fake scores to c.

    The paper's two codings: (a, b, c) = (0, 1, 1) and (-1, 1, 0).
    """

    def __init__(self, a: float = 0.0, b: float = 1.0, c: float = 1.0) -> None:
        self.a, self.b, self.c = a, b, c

    def discriminator_loss(self, batch: Batch) -> Tensor:
        real = (batch.real_scores - self.b).pow(2).mean()
        fake = (batch.fake_scores - self.a).pow(2).mean()
        return 0.5 * (real + fake)

    def generator_loss(self, batch: Batch) -> Tensor:
        return 0.5 * (batch.fake_scores - self.c).pow(2).mean()


@hookimpl
def register_losses(register):
    register("lsgan", LeastSquaresLoss)
