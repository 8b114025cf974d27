"""PacGAN: packs of exactly `pack` samples joined along the first axis, an inner network built
for the packed shape from a nested spec entry, one score per pack, and every loss and penalty
working on it unchanged (per-pack gradient norms, per-pack interpolates)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from ganforge import Batch, Discriminator
from ganforge.errors import GanforgeError
from ganforge.plugins import Plugins
from ganforge.spec import build_component
from ganforge.testing import ConformanceError, Setup, TinyDiscriminator, check_discriminator, check_loss
from ganforge_builtins.losses.r1 import R1Penalty
from ganforge_builtins.losses.r2 import R2Penalty
from ganforge_builtins.losses.wasserstein import gradient_penalty
from ganforge_builtins.networks.pacgan import PacDiscriminator, pack_samples

from .conftest import invoke


def hand_packed(samples: Tensor, pack: int) -> Tensor:
    """Packs made one by one: samples pack*i ... pack*i + pack - 1 concatenated along axis 0."""
    return torch.stack([torch.cat([samples[pack * i + j] for j in range(pack)], dim=0) for i in range(samples.shape[0] // pack)])


class Spy(Discriminator):
    """Records what it is given; scores a pack by a fixed linear map of its entries."""

    def __init__(self, image_shape: tuple[int, ...] = (2,)) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.weight = nn.Parameter(torch.arange(1.0, 1.0 + torch.Size(self.image_shape).numel()).view(self.image_shape))
        self.seen: list[Tensor] = []

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        self.seen.append(images.detach().clone())
        return (images * self.weight).flatten(1).sum(1)


@pytest.mark.parametrize("pack", [2, 3, 4])
@pytest.mark.parametrize("shape", [(3, 4, 5), (2,)], ids=["images", "vectors"])
def test_packing_concatenates_exactly_pack_samples(pack: int, shape: tuple[int, ...]) -> None:
    samples = torch.randn(12, *shape)
    packed = pack_samples(samples, pack)
    assert packed.shape == (12 // pack, shape[0] * pack, *shape[1:])
    assert torch.equal(packed, hand_packed(samples, pack))


@pytest.mark.parametrize("pack", [2, 3, 4])
def test_the_inner_discriminator_sees_the_packed_shape_and_gives_one_score_per_pack(pack: int) -> None:
    spy = Spy((pack, 28, 28))
    wrapper = PacDiscriminator(spy, pack=pack)
    images = torch.randn(12, 1, 28, 28)
    scores = wrapper(images)
    (seen,) = wrapper.discriminator.seen
    assert seen.shape == (12 // pack, pack, 28, 28)
    assert torch.equal(seen, hand_packed(images, pack))
    assert scores.shape == (12 // pack,)
    assert wrapper.pack == pack


def test_built_from_a_nested_spec_entry_for_the_packed_shape(plugins: Plugins) -> None:
    fragment = {"name": "pacgan", "pack": 4, "discriminator": {"name": "mlp", "hidden": [8], "dropout": 0.0}}
    points = build_component(plugins.registry, "discriminator", fragment, image_shape=(2,))
    assert points.discriminator.net[0].in_features == 8  # 4 points x 2 coordinates
    assert points(torch.randn(16, 2)).shape == (4,)
    images = build_component(plugins.registry, "discriminator", {**fragment, "pack": 2}, image_shape=(3, 8, 8))
    assert images.discriminator.net[0].in_features == 2 * 3 * 8 * 8
    assert images(torch.randn(6, 3, 8, 8)).shape == (3,)


SPEC = """\
seed: 0
device: cpu
generator: {{name: mlp, latent_dim: 4, hidden: [8]}}
discriminator:
  name: pacgan
  pack: {pack}
  discriminator: {{name: mlp, {inner}}}
loss: {{name: bce}}
data: {{name: ring, size: 64, batch_size: {batch}}}
train: {{steps: 2, ema: null}}
"""


def write_spec(tmp_path: Path, pack: int = 2, inner: str = "hidden: [8]", batch: int = 8) -> Path:
    path = tmp_path / "pac.yaml"
    path.write_text(SPEC.format(pack=pack, inner=inner, batch=batch))
    return path


def test_the_nested_entry_is_validated_with_file_and_line(tmp_path: Path) -> None:
    path = write_spec(tmp_path, inner="hiden: [8]")
    result = invoke("validate", str(path))
    assert result.exit_code == 2
    assert f"{path}:7: discriminator.discriminator.hiden: unknown parameter 'hiden'" in result.output
    assert "did you mean 'hidden'" in result.output


def test_a_pack_size_outside_two_to_four_is_a_spec_error(tmp_path: Path) -> None:
    path = write_spec(tmp_path, pack=5)
    result = invoke("validate", str(path))
    assert result.exit_code == 2
    assert f"{path}:6: discriminator.pack: expected 2 | 3 | 4, got 5" in result.output


def test_a_batch_size_that_does_not_divide_by_pack_is_one_line(tmp_path: Path) -> None:
    path = write_spec(tmp_path, pack=4, batch=30)
    result = invoke("run", str(path), "--out", str(tmp_path / "run"))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[-1] == (
        f"Error: {path}:9: data.batch_size: 30 samples do not split into packs of 4 for discriminator 'pacgan' (plugin networks); use a multiple of 4"
    )
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_batch_that_does_not_divide_at_run_time_is_one_line() -> None:
    wrapper = PacDiscriminator(TinyDiscriminator((4, 8, 8)), pack=4)
    with pytest.raises(GanforgeError, match=r"^pacgan: a batch of 6 samples does not split into packs of 4; use a data.batch_size that is a multiple of 4$"):
        wrapper(torch.randn(6, 1, 8, 8))


def test_a_conditional_inner_discriminator_is_refused() -> None:
    with pytest.raises(ValueError, match="unconditional"):
        PacDiscriminator(TinyDiscriminator((2, 8, 8), num_classes=3), pack=2)


def test_a_spec_run_trains_the_packed_network(tmp_path: Path) -> None:
    result = invoke("run", str(write_spec(tmp_path, pack=2)), "--out", str(tmp_path / "run"), "--quiet")
    assert result.exit_code == 0, result.output
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)["discriminator"]
    assert state["discriminator.net.0.weight"].shape == (8, 4)  # hidden 8, 2 points x 2 coordinates


# ---- the conformance kit -----------------------------------------------------------------------


@pytest.mark.parametrize("pack", [2, 3, 4])
def test_conformance_with_the_kits_inner_network(pack: int) -> None:
    check_discriminator(PacDiscriminator, pack=pack)  # the kit builds the inner network for the packed shape


def test_conformance_with_a_given_inner_network() -> None:
    check_discriminator(PacDiscriminator, discriminator=TinyDiscriminator((2, 28, 28)), pack=2)
    check_discriminator(PacDiscriminator, setup=Setup(image_shape=(2,)), discriminator=TinyDiscriminator((6,)), pack=3)


def test_the_kit_expects_one_score_per_pack() -> None:
    class ClaimsPacks(TinyDiscriminator):
        """A discriminator that says it packs pairs but scores every sample.

        Args:
            image_shape: the sample shape.
        """

        pack = 2

        def __init__(self, image_shape: tuple[int, ...] = (1, 28, 28)) -> None:
            super().__init__(image_shape)

    with pytest.raises(ConformanceError, match=r"expected \(2,\): one score per pack of 2 samples"):
        check_discriminator(ClaimsPacks)


LOSSES = ["bce", "lsgan", "hinge", "wgan", "wgan-gp", "rasgan", "ralsgan", "rpgan", "r1", "r2"]


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("pack", [2, 4])
def test_every_loss_and_penalty_works_on_packs(plugins: Plugins, name: str, pack: int) -> None:
    torch.manual_seed(0)
    packed = PacDiscriminator(TinyDiscriminator((pack, 8, 8)), pack=pack)
    check_loss(plugins.registry.get("loss", name).factory, setup=Setup(image_shape=(1, 8, 8), discriminator=packed, batch_size=8))


# ---- gradient penalties on packs ---------------------------------------------------------------


def packed_batch(pack: int, real: Tensor, fake: Tensor) -> tuple[Batch, PacDiscriminator]:
    wrapper = PacDiscriminator(Spy((2 * pack,)), pack=pack)
    batch = Batch(phase="discriminator", real=real, fake=fake, latent=torch.zeros(len(fake), 1), discriminator=wrapper, generator=nn.Identity())
    return batch, wrapper


@pytest.mark.parametrize("pack", [2, 4])
def test_r1_and_r2_penalise_each_packs_whole_gradient(pack: int) -> None:
    """The packed critic is linear with weights w over a pack: its gradient per pack is w, so
    (gamma / 2) E ||grad||^2 = (gamma / 2) ||w||^2 (per-sample norms would give ||w||^2 / pack)."""
    batch, wrapper = packed_batch(pack, torch.randn(8, 2), torch.randn(8, 2))
    expected = 0.5 * 10.0 * float(wrapper.discriminator.weight.detach().pow(2).sum())
    assert float(R1Penalty(gamma=10.0).discriminator_loss(batch).detach()) == pytest.approx(expected, rel=1e-5)
    assert float(R2Penalty(gamma=10.0).discriminator_loss(batch).detach()) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("pack", [2, 4])
def test_wgan_gp_interpolates_whole_packs(pack: int) -> None:
    """Reals 0 and fakes 1: an interpolate is 1 - e, so one e per pack makes each pack constant."""
    torch.manual_seed(0)
    batch, wrapper = packed_batch(pack, torch.zeros(8, 2), torch.ones(8, 2))
    gradient_penalty(batch)
    interpolates = wrapper.discriminator.seen[-1]
    assert interpolates.shape == (8 // pack, 2 * pack)
    assert torch.equal(interpolates, interpolates[:, :1].expand_as(interpolates))
    assert len(set(interpolates[:, 0].tolist())) == 8 // pack  # and a fresh e for every pack
