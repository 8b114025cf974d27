"""Wasserstein GAN losses: weight clipping (Arjovsky et al., 2017) and gradient penalty
(Gulrajani et al., 2017)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganforge import Batch, Loss, hookimpl
from ganforge.types import NonNegativeFloat, PositiveFloat
from ganforge_builtins.losses._gradients import samples_per_score, score_gradient_norms


def wasserstein_critic_loss(batch: Batch) -> Tensor:
    """-(E[C(x)] - E[C(G(z))]): the critic maximises the estimated Wasserstein distance."""
    return batch.fake_scores.mean() - batch.real_scores.mean()


def wasserstein_generator_loss(batch: Batch) -> Tensor:
    """-E[C(G(z))]."""
    return -batch.fake_scores.mean()


class WassersteinLoss(Loss):
    """WGAN: critic -(E[C(x)] - E[C(G(z))]), generator -E[C(G(z))], weights clipped to [-clip, clip].

    Use with RMSprop and several critic steps per generator step (``train.d_steps: 5``).

    Args:
        clip: every critic parameter is clamped to [-clip, clip] after each critic step.
    """

    def __init__(self, clip: PositiveFloat = 0.01) -> None:
        self.clip = clip

    def discriminator_loss(self, batch: Batch) -> Tensor:
        return wasserstein_critic_loss(batch)

    def generator_loss(self, batch: Batch) -> Tensor:
        return wasserstein_generator_loss(batch)

    @torch.no_grad()
    def after_discriminator_step(self, discriminator: nn.Module) -> None:
        for parameter in discriminator.parameters():
            parameter.clamp_(-self.clip, self.clip)


class WassersteinGPLoss(Loss):
    """WGAN-GP: the Wasserstein losses plus gp_weight * (||grad C(x_hat)||_2 - 1)^2 on random interpolates.

    x_hat = e x + (1 - e) G(z) with e ~ U(0, 1) per sample. The critic should not use batch
    normalisation (the penalty is per sample); use ``norm: layer`` or ``none``.

    Args:
        gp_weight: the penalty weight lambda.
    """

    def __init__(self, gp_weight: NonNegativeFloat = 10.0) -> None:
        self.gp_weight = gp_weight

    def discriminator_loss(self, batch: Batch) -> Tensor:
        return wasserstein_critic_loss(batch) + self.gp_weight * gradient_penalty(batch)

    def generator_loss(self, batch: Batch) -> Tensor:
        return wasserstein_generator_loss(batch)


def gradient_penalty(batch: Batch) -> Tensor:
    """E[(||grad C(x_hat)||_2 - 1)^2] on interpolates between real and fake samples (between
    real and fake packs, one weight and one gradient norm per pack, for a packing critic)."""
    real, fake = batch.real.detach(), batch.fake.detach()
    if real.shape != fake.shape:
        raise ValueError(f"gradient penalty needs real and fake batches of one shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    # One mixing weight per score: a packing discriminator (PacGAN) sees a pack as one point, so
    # its interpolate lies on the segment between a real pack and a fake pack.
    per = samples_per_score(batch)
    mix = torch.rand((real.shape[0] // per,) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    mix = mix.repeat_interleave(per, dim=0) if per > 1 else mix
    interpolates = mix * real + (1 - mix) * fake
    return (score_gradient_norms(batch, interpolates) - 1).pow(2).mean()


@hookimpl
def register_losses(register):
    register("wgan", WassersteinLoss)
    register("wgan-gp", WassersteinGPLoss)
