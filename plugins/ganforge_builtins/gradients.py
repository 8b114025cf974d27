"""Gradients of discriminator scores with respect to its inputs, for gradient penalties.

Not a plugin: a helper shared by the WGAN-GP and R1 penalties.
"""

from __future__ import annotations

from torch import Tensor

from ganforge import Batch


def score_gradient_norms(batch: Batch, images: Tensor) -> Tensor:
    """Per-sample L2 norms ``(N,)`` of d score / d image, differentiable (``create_graph``)
    so that a penalty on them trains the discriminator. The scores go through ``batch.score``
    (augmented like every discriminator input) and ``batch.gradients`` (safe under fp16)."""
    images = images.detach().requires_grad_(True)
    gradients = batch.gradients(batch.score(images).scores, images)
    # The epsilon keeps the norm differentiable where a gradient is exactly zero.
    return (gradients.flatten(1).float().pow(2).sum(dim=1) + 1e-12).sqrt()
