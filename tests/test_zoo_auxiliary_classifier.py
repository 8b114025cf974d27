"""AC-GAN's auxiliary classifier and TAC-GAN's twin: dcgan's class heads, the term's value on
both sides, the direction it pushes the generator, its errors, and a conditional run with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge import Batch, DiscriminatorOutput
from ganforge.errors import GanforgeError
from ganforge.plugins import get_plugins
from ganforge.spec import build_component
from ganforge.spec.resolve import SpecErrors
from ganforge.testing import check_discriminator
from ganforge_builtins.losses.auxiliary_classifier import AuxiliaryClassifierLoss
from ganforge_builtins.networks.dcgan import DCGANDiscriminator

from .conftest import invoke


class LogitsOfImages(nn.Module):
    """A discriminator whose class logits are the images themselves, one row per sample, and
    whose twin logits are the same rows reversed."""

    def forward(self, images: Tensor, labels: Tensor | None = None) -> DiscriminatorOutput:
        return DiscriminatorOutput(images.sum(dim=1), {"class_logits": images, "twin_class_logits": images.flip(1)})


def batch_of(phase: str, real: Tensor, fake: Tensor, labels: Tensor | None) -> Batch:
    return Batch(
        phase=phase,  # type: ignore[arg-type]
        real=real,
        fake=fake,
        latent=torch.zeros(fake.shape[0], 1),
        labels=labels,
        discriminator=LogitsOfImages(),
        generator=nn.Identity(),
    )


def test_the_class_head_returns_one_logit_per_class() -> None:
    torch.manual_seed(0)
    discriminator = DCGANDiscriminator((1, 28, 28), width=8, num_classes=5, conditioning="projection", class_head=True)
    output = discriminator(torch.randn(3, 1, 28, 28), torch.tensor([0, 2, 4]))
    assert isinstance(output, DiscriminatorOutput)
    assert output.scores.shape == (3,) and output.extras["class_logits"].shape == (3, 5)
    with pytest.raises(ValueError, match="class_head needs num_classes"):
        DCGANDiscriminator((1, 28, 28), width=8, class_head=True)
    twinned = DCGANDiscriminator((1, 28, 28), width=8, num_classes=5, conditioning="projection", class_head=True, twin_head=True)
    twin_output = twinned(torch.randn(3, 1, 28, 28), torch.tensor([0, 2, 4]))
    assert isinstance(twin_output, DiscriminatorOutput) and twin_output.extras["twin_class_logits"].shape == (3, 5)
    assert not torch.equal(twin_output.extras["twin_class_logits"], twin_output.extras["class_logits"])
    with pytest.raises(ValueError, match="twin_head needs class_head"):
        DCGANDiscriminator((1, 28, 28), width=8, num_classes=5, twin_head=True)


def test_the_head_leaves_the_scores_as_they_were() -> None:
    plain = DCGANDiscriminator((1, 28, 28), width=8, num_classes=5, conditioning="projection").eval()
    nn.init.normal_(plain.projection.weight)  # type: ignore[union-attr]  # zero at init: make the projection count
    headed = DCGANDiscriminator((1, 28, 28), width=8, num_classes=5, conditioning="projection", class_head=True).eval()
    missing, unexpected = headed.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(missing) == ["class_head.bias", "class_head.weight"] and not unexpected
    images, labels = torch.randn(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    output = headed(images, labels)
    assert isinstance(output, DiscriminatorOutput)
    assert torch.equal(plain(images, labels), output.scores)


def test_value_is_cross_entropy_on_reals_for_d_and_on_fakes_for_g() -> None:
    torch.manual_seed(0)
    real, fake, labels = torch.randn(6, 4), torch.randn(6, 4), torch.tensor([0, 1, 2, 3, 0, 1])
    d_batch = batch_of("discriminator", real, fake, labels)
    assert AuxiliaryClassifierLoss(weight=2.0).discriminator_loss(d_batch).item() == pytest.approx(2.0 * F.cross_entropy(real, labels).item())
    assert d_batch.logged["accuracy"].item() == pytest.approx((real.argmax(1) == labels).float().mean().item())
    both = AuxiliaryClassifierLoss(weight=2.0, fake_weight=0.5).discriminator_loss(batch_of("discriminator", real, fake, labels))
    assert both.item() == pytest.approx(2.0 * F.cross_entropy(real, labels).item() + 0.5 * F.cross_entropy(fake, labels).item())
    g_value = AuxiliaryClassifierLoss(weight=2.0).generator_loss(batch_of("generator", real, fake, labels))
    assert g_value.item() == pytest.approx(2.0 * F.cross_entropy(fake, labels).item())


def test_the_twin_is_trained_on_fakes_and_subtracted_for_the_generator() -> None:
    torch.manual_seed(0)
    real, fake, labels = torch.randn(6, 4), torch.randn(6, 4), torch.tensor([0, 1, 2, 3, 0, 1])
    loss = AuxiliaryClassifierLoss(weight=2.0, twin_weight=1.5)
    d_batch = batch_of("discriminator", real, fake, labels)
    expected_d = 2.0 * F.cross_entropy(real, labels) + 1.5 * F.cross_entropy(fake.flip(1), labels)
    assert loss.discriminator_loss(d_batch).item() == pytest.approx(expected_d.item())
    assert d_batch.logged["twin_accuracy"].item() == pytest.approx((fake.flip(1).argmax(1) == labels).float().mean().item())
    expected_g = 2.0 * F.cross_entropy(fake, labels) - 1.5 * F.cross_entropy(fake.flip(1), labels)
    assert loss.generator_loss(batch_of("generator", real, fake, labels)).item() == pytest.approx(expected_g.item())


def test_with_equal_weights_a_twin_that_agrees_with_the_head_leaves_no_pull() -> None:
    """TAC-GAN's point: the generator is pushed only where the class head (trained on reals)
    and the twin (trained on fakes) disagree, not towards the most typical item of a class."""
    fake = torch.randn(2, 3, requires_grad=True)
    labels = torch.tensor([1, 2])
    batch = Batch(
        phase="generator", real=torch.zeros(2, 3), fake=fake, latent=torch.zeros(2, 1), labels=labels,
        discriminator=lambda images, labels=None: DiscriminatorOutput(images.sum(1), {"class_logits": images, "twin_class_logits": images}),
        generator=nn.Identity(),
    )
    value = AuxiliaryClassifierLoss(weight=3.0, twin_weight=3.0).generator_loss(batch)
    value.backward()
    assert value.item() == pytest.approx(0.0) and fake.grad is not None
    assert torch.equal(fake.grad, torch.zeros_like(fake.grad))
    uncorrected = fake.detach().requires_grad_()
    AuxiliaryClassifierLoss(weight=3.0).generator_loss(batch_of("generator", torch.zeros(2, 3), uncorrected, labels)).backward()
    assert uncorrected.grad is not None and uncorrected.grad.abs().sum() > 0


def test_minimising_it_moves_the_fakes_towards_the_class_asked_for() -> None:
    fake = torch.zeros(2, 3, requires_grad=True)
    labels = torch.tensor([1, 2])
    AuxiliaryClassifierLoss().generator_loss(batch_of("generator", torch.zeros(2, 3), fake, labels)).backward()
    assert fake.grad is not None
    step = -fake.grad
    assert step[0].argmax().item() == 1 and step[1].argmax().item() == 2


def test_errors_name_the_fix() -> None:
    labels = torch.tensor([0, 1])
    headless = Batch(
        phase="discriminator", real=torch.zeros(2, 3), fake=torch.zeros(2, 3), latent=torch.zeros(2, 1),
        labels=labels, discriminator=lambda images, labels=None: images.sum(1), generator=nn.Identity(),
    )
    with pytest.raises(GanforgeError, match="class_head: true"):
        AuxiliaryClassifierLoss().discriminator_loss(headless)
    with pytest.raises(GanforgeError, match="labelled data"):
        AuxiliaryClassifierLoss().generator_loss(batch_of("generator", torch.zeros(2, 3), torch.zeros(2, 3), None))
    with pytest.raises(SpecErrors, match="expected float > 0, got 0.0 .* parameter 'weight'"):
        build_component(get_plugins().registry, "loss", {"name": "auxiliary-classifier", "weight": 0.0})
    with pytest.raises(SpecErrors, match="expected float >= 0, got -1.0 .* parameter 'twin_weight'"):
        build_component(get_plugins().registry, "loss", {"name": "auxiliary-classifier", "twin_weight": -1.0})
    single_headed = DCGANDiscriminator((1, 28, 28), width=8, num_classes=2, conditioning="projection", class_head=True)
    images = torch.randn(2, 1, 28, 28)
    untwinned = Batch(
        phase="discriminator", real=images, fake=images, latent=torch.zeros(2, 1),
        labels=labels, discriminator=single_headed, generator=nn.Identity(),
    )
    with pytest.raises(GanforgeError, match="twin_head: true"):
        AuxiliaryClassifierLoss(twin_weight=1.0).discriminator_loss(untwinned)


def test_the_headed_discriminator_passes_the_conformance_kit() -> None:
    """(The term itself is checked with it by test_plugkit_builtins.)"""
    check_discriminator(DCGANDiscriminator, width=8, num_classes=3, conditioning="projection", class_head=True)
    check_discriminator(DCGANDiscriminator, width=8, num_classes=3, conditioning="projection", class_head=True, twin_head=True)


def test_a_conditional_run_trains_the_head(tmp_path: Path) -> None:
    spec = tmp_path / "ac.yaml"
    spec.write_text(
        "seed: 0\n"
        "generator: {name: dcgan, latent_dim: 8, width: 8, num_classes: 3}\n"
        "discriminator: {name: dcgan, width: 8, num_classes: 3, conditioning: projection, class_head: true}\n"
        "loss: {name: bce}\npenalties:\n  - {name: auxiliary-classifier, weight: 1.0}\n"
        "data: {name: synthetic, size: 48, image_size: 28, num_classes: 3, batch_size: 16}\n"
        "optimizers:\n  discriminator: {name: Adam, lr: 2.0e-3}\n"
        "train: {steps: 30, log_every: 1}\n"
    )
    result = invoke("run", str(spec), "--out", str(tmp_path / "run"), "--quiet")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    accuracy = [row["loss/d/auxiliary-classifier/accuracy"] for row in rows if "loss/d/auxiliary-classifier/accuracy" in row]
    assert len(accuracy) == 30
    assert sum(accuracy[-5:]) / 5 > sum(accuracy[:5]) / 5 + 0.2, accuracy
    assert all(row.get("loss/g/auxiliary-classifier", 0) >= 0 for row in rows)
