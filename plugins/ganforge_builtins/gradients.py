"""Gradients of discriminator scores with respect to its inputs, for gradient penalties.

Not a plugin: a helper shared by the WGAN-GP and R1 penalties.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganforge import Batch


def score_gradient_norms(batch: Batch, images: Tensor) -> Tensor:
    """Per-sample L2 norms ``(N,)`` of d score / d image, differentiable (``create_graph``)
    so that a penalty on them trains the discriminator."""
    images = images.detach().requires_grad_(True)
    scores = batch.score(images).scores
    (gradients,) = torch.autograd.grad(scores.sum(), images, create_graph=True)
    # The epsilon keeps the norm differentiable where a gradient is exactly zero.
    return (gradients.flatten(1).pow(2).sum(dim=1) + 1e-12).sqrt()
