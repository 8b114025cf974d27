"""Tests of the boundary-seeking loss: the kit, the formula, and the installed plugin."""

from __future__ import annotations

import math

import pytest
import torch
from ganforge_boundary_seeking.loss import BoundarySeekingLoss
from ganforge_boundary_seeking.plugin import plugin

from ganforge import Batch
from ganforge.plugins import Plugins, get_plugins
from ganforge.testing import batch_from_scores, check_loss, check_plugin


def batch(phase: str, real: list[float], fake: list[float]) -> Batch:
    """A batch whose real and fake scores are the given numbers."""
    return batch_from_scores(real, fake, phase)


def test_conformance() -> None:
    check_loss(BoundarySeekingLoss)
    check_loss(BoundarySeekingLoss, real_label=0.9)


def test_generator_loss_is_half_the_squared_logit() -> None:
    assert float(BoundarySeekingLoss().generator_loss(batch("generator", [0.0, 0.0], [2.0, -1.0]))) == pytest.approx(0.5 * (4 + 1) / 2)


def test_generator_loss_is_zero_on_the_boundary() -> None:
    scores = batch("generator", [0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    fake = scores.fake
    value = BoundarySeekingLoss().generator_loss(scores)
    value.backward()
    assert float(value.detach()) == 0.0 and torch.equal(fake.grad, torch.zeros(3, 1))


def test_discriminator_loss_is_cross_entropy() -> None:
    value = BoundarySeekingLoss().discriminator_loss(batch("discriminator", [1.0], [-2.0]))
    assert float(value) == pytest.approx(math.log1p(math.exp(-1.0)) + math.log1p(math.exp(-2.0)))
    smoothed = BoundarySeekingLoss(real_label=0.9).discriminator_loss(batch("discriminator", [1.0], [-2.0]))
    expected = 0.9 * math.log1p(math.exp(-1.0)) + 0.1 * math.log1p(math.exp(1.0)) + math.log1p(math.exp(-2.0))
    assert float(smoothed) == pytest.approx(expected)


def test_rejects_a_real_label_that_inverts_the_classes() -> None:
    with pytest.raises(ValueError, match="real_label"):
        BoundarySeekingLoss(real_label=0.3)


def test_registers_under_its_name() -> None:
    plugins = Plugins.create(entry_points=False)
    plugins.register(plugin, "boundary-seeking")
    assert plugins.registry.get("loss", "boundary-seeking").factory is BoundarySeekingLoss
    assert not plugins.failures


def test_installed_plugin() -> None:
    """Through the installed entry point, as ganforge loads it (after `pip install .`)."""
    if "boundary-seeking" not in get_plugins().loaded:
        pytest.skip("not installed; run `pip install ./plugins/ganforge-boundary-seeking` first")
    assert get_plugins().loaded["boundary-seeking"].distribution == "ganforge-boundary-seeking"
    check_plugin("boundary-seeking")
