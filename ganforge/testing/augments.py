"""Conformance of augmentations: shape and dtype kept, differentiable, reproducible under a
seed, finite, and state (ADA's p) that a state dict restores exactly."""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable

import torch
from torch import Tensor

from ganforge.interfaces import Augment
from ganforge.testing.constructor import Setup, check_constructor, construct
from ganforge.testing.failures import Checker, Problem, expect

#: Image shapes tried when ``Setup.image_shape`` is not given: colour and grey.
AUGMENT_IMAGE_SHAPES: tuple[tuple[int, int, int], ...] = ((3, 16, 16), (1, 12, 12))
#: ``observe`` calls made before the state-dict check, enough for an adaptive augment
#: (ADA adjusts every 4 updates by default) to move its state.
OBSERVATIONS = 16


def check_augment(factory: Callable[..., Augment], /, *, setup: Setup | None = None, **params: Any) -> None:
    """Check an augmentation class built with ``params``; raises
    :class:`~ganforge.testing.ConformanceError` listing every failed check.

    On seeded images in [-1, 1] (``setup.image_shape``, else a colour and a grey shape) it
    checks that ``forward`` keeps the shape, dtype and device and gives finite values; that
    gradients reach the input; that the same torch seed gives the same output; that
    ``observe`` accepts real scores and ``log_values`` returns finite floats; and that after
    some ``observe`` calls, a second instance loaded with the state dict behaves exactly
    alike, now and after further updates. Example: ``check_augment(DiffAugment, cutout=False)``.
    """
    setup = setup or Setup()
    checker = Checker("augment", factory)
    check_constructor(checker, factory)
    augment, kwargs = construct(checker, factory, params, setup)
    found = len(checker.problems)
    with checker.check("interface"):
        expect(isinstance(augment, Augment), f"builds a {type(augment).__name__}, not a ganforge.Augment subclass")
    if len(checker.problems) > found:  # the other checks would only repeat it
        checker.finish()
    device = torch.device(setup.device)
    augment.to(device)
    n = max(setup.batch_size, 4)
    shapes = (tuple(setup.image_shape),) if setup.image_shape else AUGMENT_IMAGE_SHAPES
    batches = [_images(n, shape, setup.seed, device) for shape in shapes]

    with checker.check("output"):
        for images in batches:
            for dtype in (torch.float32, torch.float64):
                x = images.to(dtype)
                torch.manual_seed(setup.seed)
                out = augment(x)
                expect(isinstance(out, Tensor), f"forward must return a tensor, got {type(out).__name__}")
                expect(out.shape == x.shape, f"augmented images have shape {tuple(out.shape)}, the input {tuple(x.shape)}")
                expect(out.dtype == dtype, f"a {dtype} input comes back as {out.dtype}; keep the input's dtype")
                expect(out.device.type == device.type, f"augmented images are on {out.device}, the input on {device}")
                expect(bool(torch.isfinite(out).all()), f"augmented {tuple(x.shape[1:])} images contain NaN or infinity")
    with checker.check("gradients"):
        for images in batches:
            x = images.clone().requires_grad_(True)
            weights = torch.rand(x.shape, generator=torch.Generator().manual_seed(setup.seed + 1)).to(device)
            torch.manual_seed(setup.seed)
            out = augment(x)
            expect(out.requires_grad, "the output does not depend on the input differentiably (detached, or computed under no_grad)")
            (out * weights).sum().backward()
            grad = x.grad
            expect(grad is not None and bool(grad.abs().sum() > 0), "no gradient reaches the input: the generator could not learn through the augmentation")
            expect(grad is not None and bool(torch.isfinite(grad).all()), "the gradient with respect to the input is not finite")
    with checker.check("reproducible"):
        for images in batches:
            expect(torch.equal(_run(augment, images, setup.seed), _run(augment, images, setup.seed)), "two calls under one torch seed give different images: draw randomness from torch's global generator only")
    with checker.check("observe"):
        for scores in _scores(n, device):
            result = augment.observe(scores)
            expect(result is None, f"observe must return None, got {type(result).__name__}")
        _expect_log_values(augment.log_values())
    with checker.check("state_dict"):
        first, _ = construct(checker, factory, kwargs, setup)
        first.to(device)
        for scores in _scores(n, device):
            first.observe(scores)
        twin, _ = construct(checker, factory, kwargs, setup, seed=setup.seed + 1)
        twin.to(device)
        try:
            twin.load_state_dict(first.state_dict())
        except RuntimeError as exc:
            raise Problem(f"its own state dict does not load back: {str(exc).splitlines()[0]}") from exc
        _expect_alike(first, twin, batches, setup.seed, "after load_state_dict")
        for scores in reversed(_scores(n, device)):
            first.observe(scores)
            twin.observe(scores)
        _expect_alike(first, twin, batches, setup.seed, "after load_state_dict and the same observe calls")
    checker.finish()


def _images(n: int, shape: tuple[int, ...], seed: int, device: torch.device) -> Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed)).mul(2).sub(1).to(device)


def _run(augment: Augment, images: Tensor, seed: int) -> Tensor:
    torch.manual_seed(seed)
    with torch.no_grad():
        out: Tensor = augment(images)
    return out


def _scores(n: int, device: torch.device) -> list[Tensor]:
    """Real scores of a discriminator that grows confident, then one that is wrong or unsure."""
    positive = [torch.linspace(0.5, 3.0, n, device=device)] * (OBSERVATIONS // 2)
    mixed = [torch.linspace(-2.0, 1.0, n, device=device), torch.zeros(n, device=device)] * (OBSERVATIONS // 4)
    return positive + mixed


def _expect_log_values(values: Any) -> None:
    expect(isinstance(values, dict), f"log_values must return a dict of name -> number, got {values!r}")
    for name, value in values.items():
        expect(isinstance(name, str), f"log_values names must be strings, got {name!r}")
        is_number = isinstance(value, numbers.Real) and not isinstance(value, bool) and not isinstance(value, Tensor)
        expect(is_number, f"log_values '{name}' is a {type(value).__name__}; return plain Python floats (float(x))")
        expect(math.isfinite(value), f"log_values '{name}' is {value}")


def _expect_alike(first: Augment, twin: Augment, batches: list[Tensor], seed: int, when: str) -> None:
    a, b = first.state_dict(), twin.state_dict()
    differ = [k for k in a if k not in b or not torch.equal(a[k], b[k])]
    expect(not differ, f"{when}, the state differs: {', '.join(differ[:5])}")
    expect(first.log_values() == twin.log_values(), f"{when}, log_values differ: {first.log_values()} and {twin.log_values()}")
    for images in batches:
        expect(torch.equal(_run(first, images, seed), _run(twin, images, seed)), f"{when}, the same seed gives different images: some state is not in the state dict (keep it in buffers)")
