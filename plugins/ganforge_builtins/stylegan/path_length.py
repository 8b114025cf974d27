"""Path-length regularisation (Karras et al., 2020, StyleGAN 2), generator side."""

from __future__ import annotations

import math
from typing import Annotated

import torch
from torch import Tensor

from ganforge import Batch, Loss, hookimpl
from ganforge.interfaces import as_generated
from ganforge.types import NonNegativeFloat, Range


class PathLengthPenalty(Loss):
    """Path-length regularisation (StyleGAN 2): weight * E[(|J_w^T y| - a)^2], generator side only.

    y is Gaussian image-space noise scaled by 1/sqrt(H W), J_w the Jacobian of the images with
    respect to the per-layer styles w+ (``batch.fake_extras["ws"]``, which ``stylegan`` gives
    in training); the length of each sample is sqrt(mean over layers of |J^T y|^2), and ``a``
    is the running mean of the lengths, ``a <- lerp(a, mean length, decay)``, kept in the
    checkpoint. A generator without ``ws`` is differentiated with respect to its latent
    input instead (one extra forward pass). Add it as ``{name: path-length, every: 4}``
    (lazy regularisation: every 4th generator update, weight x4).

    Args:
        weight: the penalty weight (2 in the paper).
        decay: how fast the running mean of the path lengths follows new batches (0.01).
    """

    def __init__(self, weight: NonNegativeFloat = 2.0, decay: Annotated[float, Range(min=0, max=1, min_exclusive=True)] = 0.01) -> None:
        self.weight = weight
        self.decay = decay
        self.pl_mean = torch.zeros(())

    def lengths(self, batch: Batch) -> Tensor:
        """Per-sample path lengths ``(N,)``, differentiable with respect to the generator."""
        inputs = batch.fake_extras.get("ws")
        fake = batch.fake
        if inputs is None:
            inputs = batch.latent.detach().requires_grad_(True)
            fake = as_generated(batch.generator(inputs, batch.labels)).samples
        noise = torch.randn_like(fake) / math.sqrt(fake.shape[2] * fake.shape[3] if fake.ndim == 4 else fake[0].numel())
        grads = batch.gradients(fake * noise, inputs).float()
        squares = grads.square().sum(dim=-1)
        if squares.ndim > 1:  # w+: the mean over the style layers
            squares = squares.flatten(1).mean(dim=1)
        return squares.sqrt()

    def generator_loss(self, batch: Batch) -> Tensor:
        lengths = self.lengths(batch)
        mean = self.pl_mean.to(lengths.device).lerp(lengths.mean(), self.decay)
        self.pl_mean = mean.detach()
        batch.log("length", lengths.mean())
        batch.log("mean", mean)
        return (lengths - mean).square().mean() * self.weight

    def state_dict(self) -> dict[str, Tensor]:
        return {"pl_mean": self.pl_mean.detach().clone()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.pl_mean = state["pl_mean"].detach().clone()


@hookimpl
def register_losses(register):
    register("path-length", PathLengthPenalty)
