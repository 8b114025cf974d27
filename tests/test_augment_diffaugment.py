"""The diffaugment augment: the authors' formulas checked pixel by pixel against a loop
reference that makes the same random draws, gradients, conformance."""

from __future__ import annotations

import pytest
import torch

from ganforge.plugins import Plugins
from ganforge.spec import build_component
from ganforge.spec.resolve import SpecErrors
from ganforge.testing import check_augment
from ganforge_builtins.augments.diffaugment import DiffAugment, cut, translate


def images(n: int = 6, shape: tuple[int, int, int] = (3, 8, 8), seed: int = 0) -> torch.Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def reference(x: torch.Tensor, seed: int, color: bool, translation: bool, cutout: bool) -> torch.Tensor:
    """DiffAugment_pytorch.py's policy 'color,translation,cutout', one pixel at a time, drawing
    the same random numbers in the same order."""
    torch.manual_seed(seed)
    n, channels, height, width = x.shape
    x = x.clone()
    if color:
        brightness = torch.rand(n, 1, 1, 1) - 0.5
        for i in range(n):
            x[i] += brightness[i, 0, 0, 0]
        saturation = torch.rand(n, 1, 1, 1) * 2
        for i in range(n):
            for r in range(height):
                for c in range(width):
                    mean = x[i, :, r, c].mean()
                    x[i, :, r, c] = (x[i, :, r, c] - mean) * saturation[i, 0, 0, 0] + mean
        contrast = torch.rand(n, 1, 1, 1) + 0.5
        for i in range(n):
            mean = x[i].mean()
            x[i] = (x[i] - mean) * contrast[i, 0, 0, 0] + mean
    if translation:
        sy, sx = int(height * 0.125 + 0.5), int(width * 0.125 + 0.5)
        ty = torch.randint(-sy, sy + 1, size=[n, 1, 1])
        tx = torch.randint(-sx, sx + 1, size=[n, 1, 1])
        out = torch.zeros_like(x)
        for i in range(n):
            for r in range(height):
                for c in range(width):
                    rr, cc = r + int(ty[i]), c + int(tx[i])
                    if 0 <= rr < height and 0 <= cc < width:
                        out[i, :, r, c] = x[i, :, rr, cc]
        x = out
    if cutout:
        size_y, size_x = int(height * 0.5 + 0.5), int(width * 0.5 + 0.5)
        cy = torch.randint(0, height + (1 - size_y % 2), size=[n, 1, 1])
        cx = torch.randint(0, width + (1 - size_x % 2), size=[n, 1, 1])
        for i in range(n):
            for r in range(int(cy[i]) - size_y // 2, int(cy[i]) - size_y // 2 + size_y):
                for c in range(int(cx[i]) - size_x // 2, int(cx[i]) - size_x // 2 + size_x):
                    if 0 <= r < height and 0 <= c < width:
                        x[i, :, r, c] = 0
    return x


@pytest.mark.parametrize("policy", [(True, False, False), (False, True, False), (False, False, True), (True, True, True)])
@pytest.mark.parametrize("shape", [(3, 8, 8), (1, 9, 6)])
def test_matches_the_authors_formulas(policy: tuple[bool, bool, bool], shape: tuple[int, int, int]) -> None:
    color, translation, cutout = policy
    x = images(shape=shape)
    torch.manual_seed(3)
    out = DiffAugment(color=color, translation=translation, cutout=cutout)(x)
    assert torch.allclose(out, reference(x, 3, color, translation, cutout), atol=1e-6)


def test_translation_moves_by_the_given_offset_and_fills_zeros() -> None:
    x = torch.arange(16.0).view(1, 1, 4, 4).repeat(2, 1, 1, 1)
    out = translate(x, torch.tensor([1, -1]), torch.tensor([0, 2]))
    # sample 0: row r shows row r + 1, the last row is empty
    assert torch.equal(out[0, 0], torch.tensor([[4.0, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14, 15], [0, 0, 0, 0]]))
    # sample 1: row r shows row r - 1, column c shows column c + 2
    assert torch.equal(out[1, 0], torch.tensor([[0.0, 0, 0, 0], [2, 3, 0, 0], [6, 7, 0, 0], [10, 11, 0, 0]]))


def test_drawn_translations_are_shifts_within_an_eighth() -> None:
    x = images(n=16, shape=(1, 16, 16)) + 2  # no zero pixels, so the filled ones are recognisable
    torch.manual_seed(0)
    out = DiffAugment(color=False, cutout=False)(x)
    shifts = set()
    for i in range(16):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if torch.equal(out[i:i + 1], translate(x[i:i + 1], torch.tensor([dy]), torch.tensor([dx])))]  # fmt: skip
        assert len(found) == 1, f"sample {i} is no shift of at most 2 pixels"
        shifts.add(found[0])
    assert len(shifts) > 4  # drawn per sample


def test_cutout_zeroes_the_square_and_nothing_else() -> None:
    x = torch.ones(3, 2, 6, 6)
    out = cut(x, torch.tensor([1, -2, 4]), torch.tensor([2, 0, 4]), (3, 3))
    expected = torch.ones(3, 6, 6)
    expected[0, 1:4, 2:5] = 0
    expected[1, 0:1, 0:3] = 0  # clipped at the top
    expected[2, 4:6, 4:6] = 0  # clipped at the bottom right
    assert torch.equal(out, expected.unsqueeze(1).expand(3, 2, 6, 6))


def test_drawn_cutouts_are_half_size_squares() -> None:
    torch.manual_seed(1)
    out = DiffAugment(color=False, translation=False)(torch.ones(32, 1, 8, 8))
    for sample in out[:, 0]:
        rows, cols = (sample == 0).any(1).nonzero().flatten(), (sample == 0).any(0).nonzero().flatten()
        assert int((sample == 0).sum()) == len(rows) * len(cols)  # one rectangle
        assert len(rows) == 4 or rows.min() == 0 or rows.max() == 7  # full size unless clipped
        assert len(cols) == 4 or cols.min() == 0 or cols.max() == 7


def test_gradients_reach_the_input() -> None:
    x = images().requires_grad_(True)
    torch.manual_seed(0)
    DiffAugment()(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    y = images().requires_grad_(True)
    translate(y, torch.tensor([1] * 6), torch.tensor([0] * 6)).sum().backward()
    assert torch.equal(y.grad[:, :, 0], torch.zeros(6, 3, 8)) and torch.equal(y.grad[:, :, 1:], torch.ones(6, 3, 7, 8))


def test_switched_off_is_the_identity() -> None:
    x = images()
    assert torch.equal(DiffAugment(color=False, translation=False, cutout=False)(x), x)


def test_bad_ratios_are_refused(plugins: Plugins) -> None:
    with pytest.raises(SpecErrors, match=r"expected float in \[0, 0.5\], got 0.9 .* 'translation_ratio'"):
        build_component(plugins.registry, "augment", {"name": "diffaugment", "translation_ratio": 0.9})
    with pytest.raises(SpecErrors, match=r"expected float in \[0, 1\], got -0.1 .* 'cutout_ratio'"):
        build_component(plugins.registry, "augment", {"name": "diffaugment", "cutout_ratio": -0.1})


def test_registered_and_conformant(plugins: Plugins) -> None:
    assert plugins.registry.get("augment", "diffaugment").factory is DiffAugment
    check_augment(DiffAugment)
    check_augment(DiffAugment, color=False, cutout_ratio=0.25)
