"""R3GAN's objective: the relativistic pairing loss and the R2 penalty against their formulas,
gradients reaching the right network, and the conformance kit."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganforge import Batch
from ganforge.plugins import get_plugins
from ganforge.spec import build_component
from ganforge.spec.resolve import SpecErrors
from ganforge.testing import batch_from_scores, check_loss
from ganforge_builtins.losses.r1 import R1Penalty
from ganforge_builtins.losses.r2 import R2Penalty
from ganforge_builtins.losses.rpgan import RelativisticPairingLoss

REAL = [1.5, -0.5, 3.0, 0.0]
FAKE = [-2.0, 0.5, 1.0, -0.25]


def softplus(t: float) -> float:
    return math.log1p(math.exp(t))


def test_rpgan_discriminator_formula() -> None:
    """D minimises E softplus(-(D(x_i) - D(G(z_i)))), each real paired with the fake at its position."""
    expected = sum(softplus(-(r - f)) for r, f in zip(REAL, FAKE)) / len(REAL)
    value = RelativisticPairingLoss().discriminator_loss(batch_from_scores(REAL, FAKE, "discriminator"))
    assert float(value) == pytest.approx(expected, rel=1e-6)


def test_rpgan_generator_formula_and_its_gradient() -> None:
    """G minimises E softplus(-(D(G(z_i)) - D(x_i))); d/d D(G(z_i)) = -sigmoid(D(x_i) - D(G(z_i))) / N."""
    batch = batch_from_scores(REAL, FAKE, "generator")
    value = RelativisticPairingLoss().generator_loss(batch)
    assert float(value.detach()) == pytest.approx(sum(softplus(-(f - r)) for r, f in zip(REAL, FAKE)) / len(REAL), rel=1e-6)
    value.backward()
    expected = [-1 / (1 + math.exp(-(r - f))) / len(REAL) for r, f in zip(REAL, FAKE)]
    assert batch.fake.grad.flatten().tolist() == pytest.approx(expected, rel=1e-5)


def test_rpgan_pairs_scores_instead_of_averaging_them() -> None:
    """Swapping which fake sits next to which real changes the pairing loss (not a mean-based one)."""
    loss = RelativisticPairingLoss()
    paired = float(loss.discriminator_loss(batch_from_scores([2.0, 0.0], [0.0, 2.0])))
    swapped = float(loss.discriminator_loss(batch_from_scores([2.0, 0.0], [2.0, 0.0])))
    assert paired == pytest.approx((softplus(-2.0) + softplus(2.0)) / 2)
    assert swapped == pytest.approx(softplus(0.0))


def test_rpgan_needs_as_many_real_as_fake_scores() -> None:
    with pytest.raises(ValueError, match="pairs each real score with one fake score"):
        RelativisticPairingLoss().discriminator_loss(batch_from_scores([1.0, 2.0], [0.0]))


def quadratic_batch(real: torch.Tensor, fake: torch.Tensor) -> Batch:
    """D(x) = sum(x^2): grad D(x) = 2x, so ||grad D(x)||^2 = 4 ||x||^2."""
    return Batch(
        phase="discriminator", real=real, fake=fake, latent=torch.zeros(len(fake), 1),
        discriminator=lambda images, labels=None: images.pow(2).flatten(1).sum(1), generator=nn.Identity(),
    )  # fmt: skip


def test_r2_is_the_zero_centred_penalty_on_fakes_and_r1_on_reals() -> None:
    real, fake = torch.tensor([[1.0, 2.0], [0.0, -1.0]]), torch.tensor([[3.0, 0.0], [0.5, 0.5]])
    batch = quadratic_batch(real, fake)
    gamma = 0.7
    r2 = (gamma / 2) * float((4 * fake.pow(2).sum(1)).mean())
    r1 = (gamma / 2) * float((4 * real.pow(2).sum(1)).mean())
    assert float(R2Penalty(gamma=gamma).discriminator_loss(batch)) == pytest.approx(r2, rel=1e-6)
    assert float(R1Penalty(gamma=gamma).discriminator_loss(batch)) == pytest.approx(r1, rel=1e-6)
    assert R2Penalty(gamma=gamma).generator_loss(batch) is None  # discriminator side only


def test_r2_trains_the_discriminator_and_leaves_the_generator_alone() -> None:
    generator, critic = nn.Linear(2, 2), nn.Linear(2, 1)
    fake = generator(torch.randn(4, 2)).detach()  # the discriminator phase's fakes
    batch = Batch(phase="discriminator", real=torch.randn(4, 2), fake=fake, latent=torch.zeros(4, 1),
                  discriminator=lambda images, labels=None: torch.tanh(critic(images)).flatten(), generator=generator)  # fmt: skip
    R2Penalty(gamma=1.0).discriminator_loss(batch).backward()
    assert critic.weight.grad is not None and bool(critic.weight.grad.abs().sum() > 0)
    assert generator.weight.grad is None


def test_r2_rejects_a_negative_gamma() -> None:
    with pytest.raises(SpecErrors, match="expected float >= 0, got -1.0 .* parameter 'gamma'"):
        build_component(get_plugins().registry, "loss", {"name": "r2", "gamma": -1.0})


def test_conformance() -> None:
    check_loss(RelativisticPairingLoss)
    check_loss(R2Penalty)
    check_loss(R2Penalty, gamma=0.1)
