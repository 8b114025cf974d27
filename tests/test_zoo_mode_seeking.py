"""The mode-seeking term (MSGAN): its value, the direction it pushes, and a conditional run with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from ganforge import Batch
from ganforge.plugins import get_plugins
from ganforge.spec import build_component
from ganforge.spec.resolve import SpecErrors
from ganforge.testing import TinyGenerator, check_loss
from ganforge_builtins.losses.mode_seeking import ModeSeekingLoss

from .conftest import invoke


class Scaled(nn.Module):
    """G(z, y) = scale * (z @ W) + y: the images' spread grows with ``scale``."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(0.5))
        self.register_buffer("w", torch.randn(4, 12))

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        out = self.scale * (z @ self.w)
        if labels is not None:
            out = out + labels[:, None].float()
        return out.view(-1, 3, 2, 2)


def batch_of(generator: nn.Module, latent: Tensor, labels: Tensor | None = None) -> Batch:
    fake = generator(latent, labels)
    return Batch(phase="generator", real=torch.zeros_like(fake), fake=fake, latent=latent, discriminator=None, generator=generator, labels=labels)


def test_value_is_weight_over_image_distance_per_latent_distance() -> None:
    torch.manual_seed(0)
    generator, z1, labels = Scaled(), torch.randn(6, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    batch = batch_of(generator, z1, labels)
    torch.manual_seed(7)
    value = ModeSeekingLoss(weight=2.0).generator_loss(batch)
    torch.manual_seed(7)
    z2 = torch.randn_like(z1)
    ratio = (generator(z1, labels) - generator(z2, labels)).abs().mean() / (z1 - z2).abs().mean()
    assert value.item() == pytest.approx(2.0 / (ratio.item() + 1e-5), rel=1e-6)
    assert batch.logged["ratio"].item() == pytest.approx(ratio.item(), rel=1e-6)


def test_minimising_it_spreads_the_samples_of_one_class() -> None:
    torch.manual_seed(0)
    generator, labels = Scaled(), torch.full((8,), 3)
    value = ModeSeekingLoss().generator_loss(batch_of(generator, torch.randn(8, 4), labels))
    value.backward()
    assert generator.scale.grad is not None and generator.scale.grad.item() < 0  # a step down the gradient raises the scale


def test_a_structured_latent_is_refused() -> None:
    generator = TinyGenerator((1, 8, 8))
    batch = batch_of(generator, torch.randn(2, generator.latent_dim))
    batch.latent = torch.zeros(2, generator.latent_dim, dtype=torch.long)  # type: ignore[misc]
    with pytest.raises(ValueError, match="Gaussian latent"):
        ModeSeekingLoss().generator_loss(batch)
    with pytest.raises(SpecErrors, match="expected float > 0, got 0.0"):
        build_component(get_plugins().registry, "loss", {"name": "mode-seeking", "weight": 0.0})


def test_it_passes_the_conformance_kit() -> None:
    check_loss(ModeSeekingLoss, weight=1.0)


def test_a_conditional_run_logs_the_ratio(tmp_path: Path) -> None:
    spec = tmp_path / "ms.yaml"
    spec.write_text(
        "generator: {name: dcgan, latent_dim: 8, width: 8, num_classes: 3, conditioning: concat+batch-norm}\n"
        "discriminator: {name: dcgan, width: 8, num_classes: 3, conditioning: projection}\n"
        "loss: {name: bce}\npenalties:\n  - {name: mode-seeking, weight: 1.0}\n"
        "data: {name: synthetic, size: 32, image_size: 28, num_classes: 3, batch_size: 8}\n"
        "train: {steps: 2, log_every: 1}\n"
    )
    result = invoke("run", str(spec), "--out", str(tmp_path / "run"), "--quiet")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    ratios = [row["loss/g/mode-seeking/ratio"] for row in rows if "loss/g/mode-seeking/ratio" in row]
    assert len(ratios) == 2 and all(r > 0 for r in ratios)
