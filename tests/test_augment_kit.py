"""check_augment: each of its checks catches the mistake it is for, in the kit's report style."""

from __future__ import annotations

import random

import pytest
import torch
from torch import Tensor, nn

from ganforge import Augment
from ganforge.testing import CHECKS, ConformanceError, Setup, check_augment, check_component


class Noise(Augment):
    """Adds Gaussian noise whose scale grows with every positive real score seen.

    Args:
        scale: the starting standard deviation of the noise.
    """

    def __init__(self, scale: float = 0.1) -> None:
        super().__init__()
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float64))

    def forward(self, images: Tensor) -> Tensor:
        return images + torch.randn(images.shape, device=images.device).to(images.dtype) * float(self.scale)

    def observe(self, real_scores: Tensor) -> None:
        self.scale += 0.01 * float((real_scores > 0).float().mean())

    def log_values(self) -> dict[str, float]:
        return {"augment/scale": float(self.scale)}


class NotAnAugment(nn.Module):
    """A plain module.

    Args:
        scale: unused.
    """

    def __init__(self, scale: float = 0.1) -> None:
        super().__init__()

    def forward(self, images: Tensor) -> Tensor:
        return images


class Detached(Noise):
    """Noise, computed away from the autograd graph."""

    def forward(self, images: Tensor) -> Tensor:
        return super().forward(images).detach()


class Float32Only(Noise):
    """Noise, returned as float32 whatever the input."""

    def forward(self, images: Tensor) -> Tensor:
        return super().forward(images).float()


class PythonRandom(Noise):
    """Noise scaled by Python's own random module, which torch.manual_seed does not reset."""

    def forward(self, images: Tensor) -> Tensor:
        return images * random.uniform(0.5, 1.5)


class HiddenState(Noise):
    """Noise with its state kept in a plain attribute, so the state dict misses it."""

    def __init__(self, scale: float = 0.1) -> None:
        super().__init__(scale)
        self.hidden = scale

    def forward(self, images: Tensor) -> Tensor:
        return images + torch.randn(images.shape).to(images.dtype) * self.hidden

    def observe(self, real_scores: Tensor) -> None:
        self.hidden += 0.01


class Infinite(Noise):
    """Noise that overflows."""

    def forward(self, images: Tensor) -> Tensor:
        return super().forward(images) / 0.0


class TensorLogs(Noise):
    """Noise logging a tensor."""

    def log_values(self) -> dict[str, float]:
        return {"augment/scale": self.scale}  # type: ignore[dict-item]


def problems(factory: type, **params: object) -> dict[str, str]:
    with pytest.raises(ConformanceError) as caught:
        check_augment(factory, **params)
    assert str(caught.value).startswith(f"augment tests.test_augment_kit.{factory.__name__} fails")
    return dict(caught.value.problems)


def test_a_good_augment_passes() -> None:
    check_augment(Noise)
    check_augment(Noise, setup=Setup(image_shape=(2, 5, 7), batch_size=3), scale=0.5)
    assert CHECKS["augment"] is check_augment


def test_not_an_augment() -> None:
    assert "not a ganforge.Augment subclass" in problems(NotAnAugment)["interface"]


def test_detached_output() -> None:
    assert "does not depend on the input differentiably" in problems(Detached)["gradients"]


def test_dtype_changed() -> None:
    assert "torch.float64 input comes back as torch.float32" in problems(Float32Only)["output"]


def test_randomness_outside_torch() -> None:
    assert "two calls under one torch seed give different images" in problems(PythonRandom)["reproducible"]


def test_state_outside_the_state_dict() -> None:
    assert "some state is not in the state dict" in problems(HiddenState)["state_dict"]


def test_non_finite_values() -> None:
    found = problems(Infinite)
    assert "NaN or infinity" in found["output"]


def test_log_values_must_be_floats() -> None:
    assert "return plain Python floats" in problems(TensorLogs)["observe"]


def test_registered_augments_are_checked_by_name() -> None:
    check_component("augment", "ada", initial_p=1.0)
