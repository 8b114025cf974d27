"""Gradients of discriminator scores with respect to its inputs, for gradient penalties.

Not a plugin: helpers shared by the WGAN-GP, R1 and R2 penalties.
"""

from __future__ import annotations

from torch import Tensor

from ganforge import Batch


def score_gradient_norms(batch: Batch, images: Tensor) -> Tensor:
    """Per-score L2 norms of d score / d input, differentiable (``create_graph``) so that a
    penalty on them trains the discriminator: ``(N,)`` for a discriminator that scores each
    sample, ``(N / pack,)`` for one that scores packs of consecutive samples (PacGAN), whose
    gradient is the whole pack's. The scores go through ``batch.score`` (augmented like every
    discriminator input) and ``batch.gradients`` (safe under fp16)."""
    images = images.detach().requires_grad_(True)
    scores = batch.score(images).scores
    gradients = batch.gradients(scores, images)
    # The epsilon keeps the norm differentiable where a gradient is exactly zero.
    return (gradients.reshape(scores.shape[0], -1).float().pow(2).sum(dim=1) + 1e-12).sqrt()


def samples_per_score(batch: Batch) -> int:
    """How many consecutive samples share one score (``pack`` for PacGAN, else 1), from the
    real scores the loss computes anyway."""
    n, scores = batch.real.shape[0], batch.real_scores.shape[0]
    if scores < 1 or n % scores:
        raise ValueError(f"the discriminator gave {scores} scores for {n} samples; it must give one per sample or one per pack")
    return n // scores
