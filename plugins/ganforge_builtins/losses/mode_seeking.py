"""Mode-seeking regularisation (Mao et al., 2019, MSGAN), generator side."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ganforge import Batch, Loss, hookimpl
from ganforge.interfaces import as_generated
from ganforge.types import PositiveFloat


class ModeSeekingLoss(Loss):
    """Mode-seeking term (MSGAN): two latents of one class must give different images.

    The generator is pushed to make two latents of the same class give different images,
    against the within-class collapse of conditional GANs.

    A second batch ``G(z2, labels)`` is drawn with fresh Gaussian latents and the batch's own
    labels (one extra generator pass); with ``ratio = mean|G(z1) - G(z2)| / mean|z1 - z2|``
    the term is ``weight / (ratio + eps)``, as in the authors' code. ``ratio`` is logged as
    ``loss/g/mode-seeking/ratio``. Gaussian latents only (a ``(N, ...)`` tensor).

    Args:
        weight: the term's weight (1 in the paper).
        eps: keeps the term finite when the two batches coincide.
    """

    def __init__(self, weight: PositiveFloat = 1.0, eps: PositiveFloat = 1e-5) -> None:
        self.weight = weight
        self.eps = eps

    def generator_loss(self, batch: Batch) -> Tensor:
        z1 = batch.latent
        if not isinstance(z1, Tensor) or not z1.is_floating_point():
            raise ValueError("mode-seeking needs a Gaussian latent tensor; this generator's latent is structured")
        z2 = torch.randn_like(z1)
        second = as_generated(batch.generator(z2, batch.labels)).samples
        ratio = (batch.fake - second).abs().mean() / (z1 - z2).abs().mean()
        batch.log("ratio", ratio)
        return self.weight / (ratio + self.eps)


@hookimpl
def register_losses(register: Any) -> None:
    register("mode-seeking", ModeSeekingLoss)
