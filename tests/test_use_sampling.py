"""The sampling core: truncation trick, interpolation paths, classes by name, grid layout."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from ganforge import Generator
from ganforge.artifacts.sampling import Sampler, lerp, slerp, truncated_latent
from ganforge.errors import GanforgeError
from ganforge.imaging import grid_image, write_each

from .use_plugin import CLASS_NAMES, TinyConditionalGenerator


class Gaussian(Generator):
    """Returns its latent, reshaped: the samples are the latents."""

    def __init__(self, latent_dim: int = 8) -> None:
        super().__init__()
        self.latent_dim, self.image_shape = latent_dim, (1, 1, latent_dim)
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return (z * self.scale).view(-1, 1, 1, self.latent_dim)


class OneHotCodes(Gaussian):
    """A latent with a one-hot part, as InfoGAN's: entries equal to 1 exist in every row."""

    def sample_latent(self, n, device="cpu", generator=None):
        z = torch.randn(n, self.latent_dim - 2, device=device, generator=generator)
        return torch.cat([z, torch.eye(2, device=device)[torch.zeros(n, dtype=torch.long)]], dim=1)


def conditional() -> TinyConditionalGenerator:
    torch.manual_seed(0)
    return TinyConditionalGenerator((1, 28, 28)).eval()


@pytest.mark.parametrize("psi", [0.3, 1.0, 2.0])
def test_truncated_latents_lie_inside_the_threshold_and_are_redrawn_not_clipped(psi: float) -> None:
    latent = truncated_latent(Gaussian(8), 4000, psi, torch.Generator().manual_seed(1))
    assert latent.shape == (4000, 8)
    assert latent.abs().max() <= psi
    assert (latent.abs() == psi).sum() == 0  # clipping would pile values up on the bound
    # A standard normal truncated to [-psi, psi] has this standard deviation.
    a = psi
    phi = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
    mass = math.erf(a / math.sqrt(2))
    expected_std = math.sqrt(1 - 2 * a * phi / mass)
    assert latent.std().item() == pytest.approx(expected_std, rel=0.03)
    again = truncated_latent(Gaussian(8), 4000, psi, torch.Generator().manual_seed(1))
    assert torch.equal(latent, again)


def test_truncation_that_cannot_be_met_is_explained() -> None:
    with pytest.raises(GanforgeError, match="never fell inside .*one-hot"):
        truncated_latent(OneHotCodes(6), 4, 0.5, torch.Generator().manual_seed(0))
    assert truncated_latent(OneHotCodes(6), 4, 1.0, torch.Generator().manual_seed(0)).abs().max() <= 1.0
    with pytest.raises(GanforgeError, match=r"after 1000 redraws: too narrow a range to draw into.*use a larger value \(e\.g\. 0\.5\)"):
        truncated_latent(Gaussian(8), 64, 1e-4, torch.Generator().manual_seed(0))  # Gaussian, but almost never that close to 0
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(GanforgeError, match="positive number"):
            truncated_latent(Gaussian(), 4, bad, torch.Generator())


def test_interpolation_paths() -> None:
    a = torch.tensor([[3.0, 0.0], [1.0, 1.0]])
    b = torch.tensor([[0.0, 3.0], [2.0, 2.0]])  # second pair: parallel, slerp falls back to lerp
    t = torch.linspace(0, 1, 5)
    for path in (lerp(a, b, t), slerp(a, b, t)):
        assert path.shape == (2, 5, 2)
        assert torch.allclose(path[:, 0], a) and torch.allclose(path[:, -1], b, atol=1e-6)
        assert torch.isfinite(path).all()
    assert torch.allclose(lerp(a, b, t)[0, 2], torch.tensor([1.5, 1.5]))
    arc = slerp(a, b, t)[0]
    assert torch.allclose(arc.norm(dim=1), torch.full((5,), 3.0), atol=1e-5)  # stays on the circle
    assert torch.allclose(arc[2], torch.tensor([3 / math.sqrt(2), 3 / math.sqrt(2)]), atol=1e-5)
    assert torch.allclose(slerp(a, b, t)[1], lerp(a, b, t)[1], atol=1e-6)


def test_classes_by_name_case_or_index() -> None:
    sampler = Sampler(conditional(), CLASS_NAMES)
    assert sampler.class_index("Sneaker") == sampler.class_index("sneaker") == sampler.class_index("1") == 1
    assert sampler.class_index("T-shirt/top") == 0
    with pytest.raises(GanforgeError, match=r"unknown class 'Sandal'; valid classes \(name or index\): 0=T-shirt/top, 1=Sneaker, 2=Bag"):
        sampler.class_index("Sandal")
    with pytest.raises(GanforgeError, match="unknown class '3'"):
        sampler.class_index("3")
    assert Sampler(conditional(), ("only", "two")).class_names == ["0", "1", "2"]  # names that do not fit the labels
    plain = Sampler(Gaussian())
    assert not plain.conditional and plain.class_names == []
    with pytest.raises(GanforgeError, match="not class-conditional"):
        plain.class_index("0")
    with pytest.raises(GanforgeError, match="not class-conditional"):
        plain.sample(2, label=0)


def test_conditional_grid_has_one_class_per_column_and_a_class_fixes_every_label() -> None:
    generator = conditional()
    sampler = Sampler(generator, CLASS_NAMES)
    mixed = sampler.sample(7, seed=3)
    assert mixed.nrow == 3 and mixed.labels.tolist() == [0, 1, 2, 0, 1, 2, 0]
    with torch.no_grad():
        assert torch.allclose(mixed.images, generator(mixed.latents, mixed.labels))
    sneakers = sampler.sample(7, seed=3, label=1)
    assert sneakers.nrow == 3 and sneakers.labels.tolist() == [1] * 7
    assert torch.equal(sneakers.latents, mixed.latents)  # the seed fixes the latents; the class changes the images
    assert not torch.allclose(sneakers.images[0], mixed.images[0])
    assert sampler.sample(2, seed=3).nrow == 2  # fewer samples than classes: a square grid
    assert not torch.equal(sampler.sample(4, seed=4).latents, sampler.sample(4, seed=3).latents)


def test_interpolation_rows_run_between_two_latents_with_a_fixed_class() -> None:
    sampler = Sampler(Gaussian(8))
    walk = sampler.interpolation(pairs=3, steps=6, path="linear", seed=5, truncation=0.8)
    assert walk.nrow == 6 and walk.images.shape == (18, 1, 1, 8)
    rows = walk.latents.view(3, 6, 8)
    ends = truncated_latent(Gaussian(8), 6, 0.8, torch.Generator().manual_seed(5))
    assert torch.allclose(rows[:, 0], ends[:3]) and torch.allclose(rows[:, -1], ends[3:])
    assert torch.allclose(rows[:, 1] - rows[:, 0], rows[:, 2] - rows[:, 1], atol=1e-6)  # evenly spaced on a line
    spherical = sampler.interpolation(pairs=3, steps=6, seed=5, truncation=0.8).latents.view(3, 6, 8)
    assert torch.allclose(spherical[:, 0], ends[:3]) and not torch.allclose(spherical, rows)
    labelled = Sampler(conditional(), CLASS_NAMES).interpolation(pairs=2, steps=3, seed=0)
    assert labelled.labels.tolist() == [0, 0, 0, 1, 1, 1]
    with pytest.raises(GanforgeError, match="at least 2 steps"):
        sampler.interpolation(2, 1)


def test_grids_and_files_keep_channels(tmp_path) -> None:
    grey = torch.rand(10, 1, 28, 28) * 2 - 1
    image = grid_image(grey, nrow=4)
    assert (image.size, image.mode) == ((4 * 30 + 2, 3 * 30 + 2), "L")
    colour = grid_image(torch.zeros(4, 3, 8, 8), nrow=2)
    assert (colour.size, colour.mode) == ((22, 22), "RGB")
    assert colour.getpixel((5, 5)) == (128, 128, 128) and colour.getpixel((0, 0)) == (0, 0, 0)
    paths = write_each(grey[:2], tmp_path / "each", ["a", "b"])
    assert [p.name for p in paths] == ["a.png", "b.png"]
    with pytest.raises(GanforgeError, match=r"write one picture instead \(--out samples.png\)"):
        write_each(torch.zeros(3, 2), tmp_path / "points", ["a", "b", "c"])
