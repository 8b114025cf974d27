"""Zoo losses: values against their formulas on fixed scores, and gradients reaching only the
network each side trains."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganforge import Batch, Loss
from ganforge.plugins import Plugins
from ganforge.spec import build_component
from ganforge.spec.resolve import SpecErrors
from ganforge_builtins.losses.hinge import HingeLoss
from ganforge_builtins.losses.lsgan import LeastSquaresLoss
from ganforge_builtins.losses.minimax import MinimaxLoss
from ganforge_builtins.losses.r1 import R1Penalty
from ganforge_builtins.losses.relativistic import RelativisticAverageLeastSquaresLoss, RelativisticAverageStandardLoss
from ganforge_builtins.losses.wasserstein import WassersteinGPLoss, WassersteinLoss

REAL = [1.5, -0.5, 3.0, 0.0]
FAKE = [-2.0, 0.5, 1.0, -0.25]


def identity_critic(images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """A 'discriminator' whose score is the one-number sample itself, so scores are fixed."""
    return images.flatten()


def score_batch(phase: str = "discriminator", real: list[float] = REAL, fake: list[float] = FAKE) -> Batch:
    real_t = torch.tensor(real).unsqueeze(1)
    fake_t = torch.tensor(fake).unsqueeze(1)
    return Batch(phase=phase, real=real_t, fake=fake_t, latent=torch.zeros(len(fake), 1), discriminator=identity_critic, generator=nn.Identity())


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def log_sigmoid(s: float) -> float:
    return -math.log1p(math.exp(-s))


def bce(s: float, target: float) -> float:
    return -(target * log_sigmoid(s) + (1 - target) * log_sigmoid(-s))


def value(loss: torch.Tensor | None) -> float:
    assert loss is not None and loss.dim() == 0
    return loss.item()


# ---- values against the formulas -------------------------------------------------------------


@pytest.mark.parametrize("real_label", [1.0, 0.9])
def test_bce_discriminator_formula(real_label):
    expected = mean(bce(r, real_label) for r in REAL) + mean(bce(f, 0.0) for f in FAKE)
    assert value(MinimaxLoss(real_label=real_label).discriminator_loss(score_batch())) == pytest.approx(expected, rel=1e-6)


def test_bce_generator_formulas():
    non_saturating = mean(-log_sigmoid(f) for f in FAKE)
    saturating = mean(math.log(1 - 1 / (1 + math.exp(-f))) for f in FAKE)
    batch = score_batch("generator")
    assert value(MinimaxLoss().generator_loss(batch)) == pytest.approx(non_saturating, rel=1e-6)
    assert value(MinimaxLoss(saturating=True).generator_loss(batch)) == pytest.approx(saturating, rel=1e-6)


def test_bce_is_finite_on_huge_logits():
    batch = score_batch(real=[-1e4, 1e4], fake=[1e4, -1e4])
    d_loss = value(MinimaxLoss().discriminator_loss(batch))
    assert math.isfinite(d_loss) and d_loss == pytest.approx(1e4, rel=1e-6)
    assert math.isfinite(value(MinimaxLoss(saturating=True).generator_loss(batch)))


def test_bce_label_noise_flips_targets_with_its_probability():
    torch.manual_seed(0)
    n, p, r, f = 40_000, 0.2, 0.7, -0.4
    batch = score_batch(real=[r] * n, fake=[f] * n)
    expected = (1 - p) * bce(r, 0.9) + p * bce(r, 0.0) + (1 - p) * bce(f, 0.0) + p * bce(f, 0.9)
    got = value(MinimaxLoss(real_label=0.9, label_noise=p).discriminator_loss(batch))
    assert got == pytest.approx(expected, abs=0.01)
    assert got != pytest.approx(bce(r, 0.9) + bce(f, 0.0), abs=0.05)


def test_wgan_formulas_and_clipping():
    loss = WassersteinLoss(clip=0.05)
    assert value(loss.discriminator_loss(score_batch())) == pytest.approx(-(mean(REAL) - mean(FAKE)))
    assert value(loss.generator_loss(score_batch("generator"))) == pytest.approx(-mean(FAKE))
    critic = nn.Linear(3, 2)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[1.0, -1.0, 0.01], [0.2, -0.03, 0.0]]))
        critic.bias.copy_(torch.tensor([-0.5, 0.04]))
    loss.after_discriminator_step(critic)
    assert critic.weight.flatten().tolist() == pytest.approx([0.05, -0.05, 0.01, 0.05, -0.03, 0.0])
    assert critic.bias.tolist() == pytest.approx([-0.05, 0.04])


def linear_critic(weights: list[float]) -> nn.Module:
    """C(x) = w . x + 1: its input gradient is w everywhere, so gradient penalties are known exactly."""
    critic = nn.Linear(len(weights), 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([weights]))
        critic.bias.fill_(1.0)
    return critic


def critic_batch(critic: nn.Module, phase: str = "discriminator") -> Batch:
    torch.manual_seed(1)
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    return Batch(phase=phase, real=real, fake=fake, latent=torch.zeros(16, 1), discriminator=lambda x, y=None: critic(x).flatten(), generator=nn.Identity())


def test_wgan_gp_formula_on_a_linear_critic():
    critic = linear_critic([3.0, 4.0])  # ||w|| = 5, penalty (5 - 1)^2 = 16
    batch = critic_batch(critic)
    wasserstein = (critic(batch.real).mean() - critic(batch.fake).mean()).item()
    assert value(WassersteinGPLoss(gp_weight=10.0).discriminator_loss(batch)) == pytest.approx(-wasserstein + 160.0, rel=1e-5)
    assert value(WassersteinGPLoss().generator_loss(critic_batch(critic, "generator"))) == pytest.approx(
        -critic(batch.fake).mean().item(), rel=1e-6
    )


def test_wgan_gp_penalises_gradients_at_interpolates():
    # C(x) = ||x||^2 / 2 has gradient x: the penalty is (||x_hat|| - 1)^2 at the interpolates, which
    # lies between its value at the real samples (norm 0 -> 1) and at the fakes (norm 1 -> 0).
    real, fake = torch.zeros(64, 2), torch.tensor([[0.6, 0.8]]).repeat(64, 1)
    batch = Batch(phase="discriminator", real=real, fake=fake, latent=torch.zeros(64, 1), discriminator=lambda x, y=None: 0.5 * x.pow(2).sum(1), generator=nn.Identity())
    torch.manual_seed(0)
    penalty = value(WassersteinGPLoss(gp_weight=1.0).discriminator_loss(batch)) - (0.5 - 0.0)
    torch.manual_seed(0)
    mix = torch.rand(64, 1)  # the same draw as the loss: x_hat = mix * 0 + (1 - mix) * fake, ||x_hat|| = 1 - mix
    assert penalty == pytest.approx(mix.pow(2).mean().item(), rel=1e-4)


@pytest.mark.parametrize("gamma", [1.0, 10.0])
def test_r1_formula_on_a_linear_critic(gamma):
    batch = critic_batch(linear_critic([3.0, 4.0]))
    assert value(R1Penalty(gamma=gamma).discriminator_loss(batch)) == pytest.approx(gamma / 2 * 25.0, rel=1e-5)
    assert R1Penalty().generator_loss(batch) is None


def test_hinge_formulas():
    d = mean(max(0.0, 1 - r) for r in REAL) + mean(max(0.0, 1 + f) for f in FAKE)
    assert value(HingeLoss().discriminator_loss(score_batch())) == pytest.approx(d)
    assert value(HingeLoss().generator_loss(score_batch("generator"))) == pytest.approx(-mean(FAKE))


def test_rasgan_formulas():
    real_rel = [r - mean(FAKE) for r in REAL]
    fake_rel = [f - mean(REAL) for f in FAKE]
    d = 0.5 * (mean(bce(s, 1.0) for s in real_rel) + mean(bce(s, 0.0) for s in fake_rel))
    g = 0.5 * (mean(bce(s, 0.0) for s in real_rel) + mean(bce(s, 1.0) for s in fake_rel))
    loss = RelativisticAverageStandardLoss()
    assert value(loss.discriminator_loss(score_batch())) == pytest.approx(d, rel=1e-6)
    assert value(loss.generator_loss(score_batch("generator"))) == pytest.approx(g, rel=1e-6)


def test_ralsgan_formulas():
    real_rel = [r - mean(FAKE) for r in REAL]
    fake_rel = [f - mean(REAL) for f in FAKE]
    d = 0.5 * (mean((s - 1) ** 2 for s in real_rel) + mean((s + 1) ** 2 for s in fake_rel))
    g = 0.5 * (mean((s + 1) ** 2 for s in real_rel) + mean((s - 1) ** 2 for s in fake_rel))
    loss = RelativisticAverageLeastSquaresLoss()
    assert value(loss.discriminator_loss(score_batch())) == pytest.approx(d, rel=1e-6)
    assert value(loss.generator_loss(score_batch("generator"))) == pytest.approx(g, rel=1e-6)


@pytest.mark.parametrize(
    "fragment, message",
    [
        ({"name": "bce", "real_label": 1.5}, "real_label"),
        ({"name": "bce", "label_noise": 0.7}, "label_noise"),
        ({"name": "wgan", "clip": 0.0}, "clip"),
        ({"name": "wgan-gp", "gp_weight": -1.0}, "gp_weight"),
        ({"name": "r1", "gamma": -1.0}, "gamma"),
    ],
)
def test_bad_parameters_are_refused(fragment, message, plugins: Plugins):
    with pytest.raises(SpecErrors, match=f"parameter '{message}'"):
        build_component(plugins.registry, "loss", fragment)


# ---- gradients reach the right network only ---------------------------------------------------

ALL_LOSSES = {
    "bce": MinimaxLoss,
    "bce-saturating": lambda: MinimaxLoss(saturating=True, real_label=0.9, label_noise=0.1),
    "wgan": WassersteinLoss,
    "wgan-gp": WassersteinGPLoss,
    "rasgan": RelativisticAverageStandardLoss,
    "ralsgan": RelativisticAverageLeastSquaresLoss,
    "hinge": HingeLoss,
    "lsgan": LeastSquaresLoss,
    "r1": R1Penalty,
}


def tiny_networks() -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    generator = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    discriminator = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), nn.Flatten(0))
    return generator, discriminator


def phase_gradients(loss: Loss, phase: str) -> tuple[list, list]:
    """Run one phase the way the trainer does and return (generator grads, discriminator grads)."""
    generator, discriminator = tiny_networks()
    z, real = torch.randn(16, 4), torch.randn(16, 2)
    if phase == "discriminator":
        with torch.no_grad():
            fake = generator(z)
        total = loss.discriminator_loss(Batch(phase=phase, real=real, fake=fake, latent=z, discriminator=lambda x, y=None: discriminator(x), generator=generator))
    else:
        discriminator.requires_grad_(False)
        fake = generator(z)
        total = loss.generator_loss(Batch(phase=phase, real=real, fake=fake, latent=z, discriminator=lambda x, y=None: discriminator(x), generator=generator))
    if total is not None:
        total.backward()
    return [p.grad for p in generator.parameters()], [p.grad for p in discriminator.parameters()]


def trained(grads: list, penalty_only: bool = False) -> bool:
    """Every parameter got a finite gradient, and not all of them are zero (a last-layer bias
    legitimately gets zero from losses linear in E[real] - E[fake]). A pure input-gradient
    penalty never reaches the last bias, which does not change input gradients."""
    if penalty_only:
        grads = grads[:-1]
    return all(g is not None and torch.isfinite(g).all() for g in grads) and sum(g.abs().sum() for g in grads) > 0


@pytest.mark.parametrize("name", ALL_LOSSES)
def test_discriminator_loss_trains_only_the_discriminator(name):
    g_grads, d_grads = phase_gradients(ALL_LOSSES[name](), "discriminator")
    assert all(g is None for g in g_grads)
    assert trained(d_grads, penalty_only=name == "r1")


@pytest.mark.parametrize("name", [n for n in ALL_LOSSES if n != "r1"])
def test_generator_loss_trains_only_the_generator(name):
    g_grads, d_grads = phase_gradients(ALL_LOSSES[name](), "generator")
    assert trained(g_grads)
    assert all(g is None for g in d_grads)


def test_r1_has_no_generator_side():
    g_grads, d_grads = phase_gradients(R1Penalty(), "generator")
    assert all(g is None for g in g_grads + d_grads)


def test_losses_are_registered_through_entry_points():
    names = Plugins.create().registry.names("loss")
    assert {"bce", "wgan", "wgan-gp", "lsgan", "ralsgan", "rasgan", "hinge", "r1"} <= set(names)
