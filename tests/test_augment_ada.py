"""The ada augment: identity at p = 0, exact flips, rotations and translations, the colour
formulas, the p update from E[sign D(real)], and state that a state dict restores exactly."""

from __future__ import annotations

import pytest
import torch

from ganforge.plugins import Plugins
from ganforge.spec import build_component
from ganforge.spec.resolve import SpecErrors
from ganforge.testing import check_augment
from ganforge_builtins.augments.ada import ADA, rotate90, translate_reflect


def images(n: int = 16, shape: tuple[int, int, int] = (3, 8, 8), seed: int = 0) -> torch.Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


ONLY = {"xflip": False, "rotate90": False, "translation": False, "color": False}


def only(transform: str, **params: object) -> ADA:
    return ADA(**{**ONLY, transform: True, **params})  # type: ignore[arg-type]


def test_p_zero_is_the_identity_and_stays_zero_for_unsure_discriminators() -> None:
    ada = ADA(interval=2)
    x = images()
    assert torch.equal(ada(x), x)
    for _ in range(8):
        ada.observe(-torch.ones(16))  # r_t = -1 < 0.6: p would fall, and is clamped at 0
    assert float(ada.p) == 0.0 and torch.equal(ada(x), x)
    assert ada.log_values() == {"augment/p": 0.0, "augment/rt": -1.0}


def test_p_rises_by_the_paper_step_for_positive_scores() -> None:
    ada = ADA(interval=4, speed_kimg=0.5)  # p moves by 1 per 500 images
    assert ada.log_values() == {"augment/p": 0.0}  # no r_t before the first adjustment
    for step in range(1, 9):
        ada.observe(torch.linspace(0.1, 2.0, 10))
        expected = 0.0 if step < 4 else (40 / 500 if step < 8 else 80 / 500)  # batch 10 × interval 4 per adjustment
        assert float(ada.p) == pytest.approx(expected, abs=1e-15)
    assert ada.log_values() == {"augment/p": pytest.approx(0.16), "augment/rt": 1.0}


def test_p_follows_the_sign_of_rt_minus_target() -> None:
    ada = ADA(initial_p=0.5, interval=1, speed_kimg=0.01)  # 10 images move p by 1
    ada.observe(torch.tensor([1.0, 1.0, -1.0, 1.0]))  # r_t = 0.5 < 0.6: p falls by 4 / 10
    assert float(ada.p) == pytest.approx(0.1) and float(ada.rt) == 0.5
    ada.observe(torch.tensor([1.0, 1.0, 1.0, 0.0]))  # r_t = 0.75 > 0.6: p rises
    assert float(ada.p) == pytest.approx(0.5)
    for _ in range(5):
        ada.observe(torch.ones(4))
    assert float(ada.p) == 1.0  # clamped at 1


def test_fixed_p_ignores_scores() -> None:
    ada = ADA(initial_p=0.3, target=None, interval=1)
    for _ in range(4):
        ada.observe(torch.ones(8))
    assert float(ada.p) == 0.3 and ada.log_values() == {"augment/p": 0.3}


def test_flips_are_exact_and_happen_half_the_time_at_p_one() -> None:
    x = images(n=64)
    torch.manual_seed(0)
    out = only("xflip", initial_p=1.0)(x)
    flipped = [bool(torch.equal(o, s.flip(2))) for o, s in zip(out, x)]
    same = [bool(torch.equal(o, s)) for o, s in zip(out, x)]
    assert all(f != s for f, s in zip(flipped, same))  # each sample is exactly one of the two
    assert 16 < sum(flipped) < 48


def test_rotations_are_exact_quarter_turns() -> None:
    x = images(n=64)
    torch.manual_seed(0)
    out = only("rotate90", initial_p=1.0)(x)
    turns = [[k for k in range(4) if torch.equal(o, torch.rot90(s, k, dims=(1, 2)))] for o, s in zip(out, x)]
    assert all(len(t) == 1 for t in turns)
    assert {t[0] for t in turns} == {0, 1, 2, 3}
    assert torch.equal(rotate90(x[:2], torch.tensor([1, 3])), torch.stack([torch.rot90(x[0], 1, (1, 2)), torch.rot90(x[1], 3, (1, 2))]))


def test_non_square_images_turn_half_way_only() -> None:
    x = images(n=32, shape=(1, 6, 4))
    torch.manual_seed(0)
    out = only("rotate90", initial_p=1.0)(x)
    assert all(torch.equal(o, s) or torch.equal(o, torch.rot90(s, 2, dims=(1, 2))) for o, s in zip(out, x))


def test_translation_moves_by_whole_pixels_and_reflects() -> None:
    x = torch.arange(5.0).view(1, 1, 1, 5).expand(2, 1, 3, 5)
    out = translate_reflect(x, torch.tensor([0, 0]), torch.tensor([2, -1]))
    assert torch.equal(out[0, 0, 0], torch.tensor([2.0, 1, 0, 1, 2]))  # moved right by 2, reflected in from the left
    assert torch.equal(out[1, 0, 0], torch.tensor([1.0, 2, 3, 4, 3]))  # moved left by 1
    x = images(n=32, shape=(1, 16, 16))
    torch.manual_seed(0)
    out = only("translation", initial_p=1.0)(x)
    for o, s in zip(out, x):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if torch.equal(o, translate_reflect(s[None], torch.tensor([dy]), torch.tensor([dx]))[0])]  # fmt: skip
        assert len(found) == 1  # an integer shift of at most 16 / 8 = 2 pixels


def fit(y: torch.Tensor, x: torch.Tensor) -> tuple[float, float]:
    """The least-squares y = a x + d, and its largest residual."""
    xc, yc = x.flatten() - x.mean(), y.flatten() - y.mean()
    a = float((xc * yc).sum() / (xc * xc).sum())
    return a, float((yc - a * xc).abs().max())


def test_colour_is_brightness_then_contrast_then_saturation() -> None:
    x = images(n=32)
    torch.manual_seed(0)
    out = only("color", initial_p=1.0)(x)
    contrasts = []
    for o, s in zip(out, x):
        # y = c (s + b), then out = grey(y) + t (y - grey(y)) with grey the mean over channels:
        # grey(out) = c grey(s) + c b, and out - grey(out) = c t (s - grey(s)).
        c, residual = fit(o.mean(0), s.mean(0))
        assert residual < 1e-5 and c > 0
        ct, residual = fit(o - o.mean(0), s - s.mean(0))
        assert residual < 1e-5 and ct > 0
        contrasts.append(c)
    log_c = torch.log2(torch.tensor(contrasts))
    assert 0.3 < float(log_c.std()) < 0.8  # 2^N(0, 0.5)


def test_grey_images_get_brightness_and_contrast() -> None:
    x = images(n=32, shape=(1, 5, 5))
    torch.manual_seed(0)
    out = only("color", initial_p=1.0)(x)
    for o, s in zip(out, x):
        c, residual = fit(o, s)  # out = c (s + b)
        assert residual < 1e-5 and c > 0


def test_untouched_samples_stay_bit_identical_at_small_p() -> None:
    x = images(n=64)
    torch.manual_seed(0)
    out = ADA(initial_p=0.05)(x)
    same = sum(bool(torch.equal(o, s)) for o, s in zip(out, x))
    assert 40 < same < 64  # (1 - 0.05)^4 of the samples (flip drawn half the time), and not all


def test_gradients_reach_the_input() -> None:
    x = images().requires_grad_(True)
    torch.manual_seed(0)
    ADA(initial_p=1.0)(x).square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_state_dict_round_trip_gives_identical_future_outputs() -> None:
    ada = ADA(initial_p=0.2, interval=3, speed_kimg=1.0)
    for scores in (torch.ones(8), torch.ones(8), torch.ones(8), torch.full((8,), -1.0)):
        ada.observe(scores)  # one adjustment, and one update into the next interval
    state = {k: v.clone() for k, v in ada.state_dict().items()}
    assert state["p"].dtype == torch.float64 and int(state["updates"]) == 1
    assert float(state["p"]) == pytest.approx(0.2 + 24 / 1000)
    restored = ADA(interval=3, speed_kimg=1.0)
    restored.load_state_dict(state)
    x = images()
    seen = set()
    for _ in range(5):
        for module in (ada, restored):
            module.observe(torch.linspace(0, 3, 8))
        torch.manual_seed(7)
        first = ada(x)
        torch.manual_seed(7)
        assert torch.equal(first, restored(x))
        assert ada.log_values() == restored.log_values()
        seen.add(float(ada.p))
    assert len(seen) == 2  # p moved on after the round trip, identically in both


def test_bad_parameters_are_refused(plugins: Plugins) -> None:
    for params, word in (({"initial_p": 1.5}, "initial_p"), ({"interval": 0}, "interval"), ({"speed_kimg": 0}, "speed_kimg"), ({"target": 2.0}, "target")):
        with pytest.raises(SpecErrors, match=f"parameter '{word}'"):
            build_component(plugins.registry, "augment", {"name": "ada", **params})


def test_registered_and_conformant(plugins: Plugins) -> None:
    assert plugins.registry.get("augment", "ada").factory is ADA
    check_augment(ADA)
    check_augment(ADA, initial_p=1.0)
    check_augment(ADA, initial_p=0.5, target=None, color=False)
