"""StyleGAN: shapes, AdaIN and (de)modulation against their formulas, style mixing, truncation
in W, progressive growing (and its resume), path-length regularisation and PPL."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch import Tensor, nn

from ganforge import Batch, Generator
from ganforge.cli import cli
from ganforge.errors import GanforgeError
from ganforge.interfaces import EvalContext, GeneratorOutput
from ganforge.testing import RandomFeatures, TinyGenerator, TinyImages
from ganforge_builtins.metrics.ppl import PerceptualPathLength, filtered_mean, unit_slerp
from ganforge_builtins.stylegan._layers import Progression, adain, modulated_conv2d
from ganforge_builtins.stylegan.networks import StyleGANDiscriminator, StyleGANGenerator, SynthesisLayer
from ganforge_builtins.stylegan.path_length import PathLengthPenalty

from .conftest import invoke
from .test_training import assert_same_weights

SMALL = {"latent_dim": 16, "w_dim": 16, "width": 8, "mapping_layers": 2}


def small(size: int = 28, **params: object) -> StyleGANGenerator:
    torch.manual_seed(0)
    return StyleGANGenerator((1, size, size), **{**SMALL, **params})  # type: ignore[arg-type]


# ---- shapes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["adain", "modulated"])
@pytest.mark.parametrize("size", [4, 8, 16, 28, 32, 64, 128, 256])
@pytest.mark.parametrize("num_classes", [None, 3])
def test_shapes_at_every_size(style: str, size: int, num_classes: int | None) -> None:
    generator = StyleGANGenerator((3, size, size), style=style, num_classes=num_classes, **SMALL).eval()  # type: ignore[arg-type]
    discriminator = StyleGANDiscriminator((3, size, size), width=8, num_classes=num_classes)
    labels = torch.arange(4) % 3 if num_classes else None
    images = generator(torch.randn(4, 16), labels)
    assert isinstance(images, Tensor) and images.shape == (4, 3, size, size)
    assert generator.num_ws == 2 * (3 if size == 28 else int(math.log2(size)) - 1)
    assert discriminator(images, labels).shape == (4,)
    generator.train()
    out = generator(torch.randn(4, 16), labels)
    assert isinstance(out, GeneratorOutput) and out.samples.shape == (4, 3, size, size)
    assert out.extras["ws"].shape == (4, generator.num_ws, 16)


def test_unsupported_sizes_and_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="size 28 or a power of two"):
        StyleGANGenerator((1, 24, 24))
    with pytest.raises(ValueError, match="progressive.start must be one of"):
        StyleGANGenerator((1, 28, 28), progressive={"start": 4})
    with pytest.raises(ValueError, match="unknown: fade"):
        StyleGANDiscriminator((1, 32, 32), progressive={"fade": 3})


def test_28_pixels_start_from_a_7x7_constant() -> None:
    assert small(28).const.shape[1:] == (7, 7)
    assert small(32).const.shape[1:] == (4, 4)


# ---- AdaIN and modulation -------------------------------------------------------------------------


def test_adain_normalises_each_sample_and_channel_then_applies_the_style() -> None:
    x = torch.randn(3, 4, 5, 5) * 3 + 2
    scale, shift = torch.rand(3, 4) + 0.5, torch.randn(3, 4)
    mu = x.mean(dim=(2, 3), keepdim=True)
    sigma = x.var(dim=(2, 3), unbiased=False, keepdim=True).sqrt()
    expected = scale[:, :, None, None] * (x - mu) / sigma + shift[:, :, None, None]
    out = adain(x, scale, shift)
    assert torch.allclose(out, expected, atol=1e-5)
    assert torch.allclose(out.mean(dim=(2, 3)), shift, atol=1e-5)
    assert torch.allclose(out.std(dim=(2, 3), unbiased=False), scale, atol=1e-4)


def test_adain_layer_output_has_the_style_statistics() -> None:
    torch.manual_seed(0)
    layer = SynthesisLayer(4, 6, 8, 8, "adain", up=False).eval()
    w = torch.randn(2, 8)
    out = layer(torch.randn(2, 4, 8, 8), w)
    scale, shift = layer.affine(w).chunk(2, dim=1)
    assert torch.allclose(out.mean(dim=(2, 3)), shift, atol=1e-4)
    assert torch.allclose(out.std(dim=(2, 3), unbiased=False), scale.abs(), atol=1e-3)


def test_demodulation_keeps_unit_variance_for_unit_input() -> None:
    torch.manual_seed(0)
    x = torch.randn(4, 16, 48, 48)
    weight, styles = torch.randn(32, 16, 3, 3) * 5, torch.rand(4, 16) * 3 + 0.1
    out = modulated_conv2d(x, weight, styles)[:, :, 1:-1, 1:-1]  # the borders see zero padding
    assert out.var(dim=(0, 2, 3)).mean().item() == pytest.approx(1.0, abs=0.05)
    raw = modulated_conv2d(x, weight, styles, demodulate=False)[:, :, 1:-1, 1:-1]
    assert raw.var().item() > 10  # without demodulation the scale of weight and styles passes through


def test_modulated_convolution_is_a_per_sample_convolution() -> None:
    x, weight, styles = torch.randn(2, 3, 6, 6), torch.randn(5, 3, 3, 3), torch.rand(2, 3)
    out = modulated_conv2d(x, weight, styles, demodulate=False)
    for i in range(2):
        expected = torch.nn.functional.conv2d(x[i : i + 1], weight * styles[i].view(1, 3, 1, 1), padding=1)
        assert torch.allclose(out[i : i + 1], expected, atol=1e-5)


# ---- style mixing, the running mean of w, truncation -------------------------------------------------


def _count_mapping_calls(generator: StyleGANGenerator) -> list[int]:
    calls: list[int] = []
    generator.mapping.register_forward_hook(lambda *_: calls.append(1))
    return calls


def test_mixing_uses_two_latents_on_the_training_path_only() -> None:
    generator = small(28, mixing_prob=1.0)
    calls = _count_mapping_calls(generator)
    z = torch.randn(4, 16)
    out = generator.train()(z)
    assert isinstance(out, GeneratorOutput) and len(calls) == 2
    ws, w = out.extras["ws"], generator.mapping(z, None)
    first = [bool(torch.allclose(ws[:, i], w)) for i in range(generator.num_ws)]
    cutoff = first.index(False)  # the layers from the crossover on carry the second latent's w
    assert 1 <= cutoff < generator.num_ws and not any(first[cutoff:]) and all(first[:cutoff])
    assert torch.allclose(ws[:, cutoff:], ws[:, cutoff : cutoff + 1].expand_as(ws[:, cutoff:]))
    calls.clear()
    generator.eval()(z)
    assert len(calls) == 1
    out = small(28, mixing_prob=0.0).train()(z)
    assert isinstance(out, GeneratorOutput) and torch.allclose(out.extras["ws"], out.extras["ws"][:, :1].expand_as(out.extras["ws"]))


def test_running_mean_of_w_is_tracked_in_training_only() -> None:
    generator = small(28, w_avg_beta=0.9)
    z = torch.randn(8, 16)
    generator.eval()(z)
    assert torch.equal(generator.w_avg, torch.zeros_like(generator.w_avg))
    generator.train()(z)
    assert torch.allclose(generator.w_avg[0], 0.1 * generator.mapping(z, None).mean(0), atol=1e-6)


def test_conditional_running_mean_is_per_class() -> None:
    generator = small(28, w_avg_beta=0.0, num_classes=3)
    z, labels = torch.randn(6, 16), torch.tensor([0, 0, 1, 1, 1, 0])
    generator.train()(z, labels)
    w = generator.mapping(z, labels)
    assert torch.allclose(generator.w_avg[0], w[labels == 0].mean(0), atol=1e-6)
    assert torch.allclose(generator.w_avg[1], w[labels == 1].mean(0), atol=1e-6)
    assert torch.equal(generator.w_avg[2], torch.zeros(16))  # class 2 was not drawn


def test_truncation_psi_one_is_the_identity_and_zero_the_mean_image() -> None:
    generator = small(32, style="modulated")
    generator.train()(torch.randn(16, 16))  # a non-zero running mean
    generator.eval()
    z = torch.randn(3, 16)
    with torch.no_grad():
        identity = generator.truncate(z, 1.0)
        assert torch.allclose(identity, generator.map_latent(z))
        assert torch.allclose(generator(identity), generator(z), atol=1e-6)
        mean_image = generator(generator.w_avg[:1].unsqueeze(1).repeat(1, generator.num_ws, 1))
        assert torch.allclose(generator(generator.truncate(z, 0.0)), mean_image.expand(3, -1, -1, -1), atol=1e-6)
        half = generator.truncate(z, 0.5)
        assert torch.allclose(half, generator.w_avg[:1].unsqueeze(1) + 0.5 * (generator.map_latent(z) - generator.w_avg[:1].unsqueeze(1)), atol=1e-6)


def test_truncation_cutoff_leaves_later_layers_alone() -> None:
    generator = small(28, truncation_cutoff=2)
    generator.train()(torch.randn(8, 16))
    z = torch.randn(2, 16)
    ws = generator.truncate(z, 0.0)
    assert torch.allclose(ws[:, :2], generator.w_avg[:1].unsqueeze(1).expand(2, 2, -1))
    assert torch.allclose(ws[:, 2:], generator.map_latent(z)[:, 2:])


def test_conditional_truncation_pulls_towards_the_class_mean() -> None:
    generator = small(28, num_classes=2, w_avg_beta=0.0)
    generator.train()(torch.randn(4, 16), torch.tensor([0, 1, 0, 1]))
    ws = generator.truncate(torch.randn(2, 16), 0.0, labels=torch.tensor([1, 0]))
    assert torch.allclose(ws[0, 0], generator.w_avg[1]) and torch.allclose(ws[1, 0], generator.w_avg[0])


def test_eval_noise_is_fixed_and_training_noise_is_fresh() -> None:
    generator = small(28)
    for noise in generator.noise_inputs():
        nn.init.ones_(noise.strength)
    z = torch.randn(2, 16)
    generator.eval()
    assert torch.equal(generator(z), generator(z))
    generator.mixing_prob = 0.0
    generator.train()
    a, b = generator(z), generator(z)
    assert isinstance(a, GeneratorOutput) and isinstance(b, GeneratorOutput) and not torch.allclose(a.samples, b.samples)
    variations = generator.eval().noise_variations(z, None, 3, torch.Generator().manual_seed(0))
    assert variations.shape == (2, 3, 1, 28, 28) and not torch.allclose(variations[:, 0], variations[:, 1])


def test_style_groups_split_coarse_middle_fine() -> None:
    assert small(28).style_groups() == {"coarse": range(0, 2), "middle": range(2, 4), "fine": range(4, 6)}
    groups = small(64).style_groups()
    assert groups == {"coarse": range(0, 4), "middle": range(4, 8), "fine": range(8, 10)}


# ---- progressive growing -------------------------------------------------------------------------------


def test_progression_alpha_follows_the_step() -> None:
    schedule = Progression([4, 8, 16], {"start": 4, "fade_steps": 4, "stable_steps": 2})
    got = [schedule.at(step) for step in range(0, 16)]
    assert got[:2] == [(0, 1.0), (0, 1.0)]
    assert got[2:8] == [(1, 0.0), (1, 0.25), (1, 0.5), (1, 0.75), (1, 1.0), (1, 1.0)]
    assert got[8:14] == [(2, 0.0), (2, 0.25), (2, 0.5), (2, 0.75), (2, 1.0), (2, 1.0)]
    assert got[14:] == [(2, 1.0), (2, 1.0)]
    assert Progression([4, 8, 16], None).at(0) == (2, 1.0)


@pytest.mark.parametrize("style", ["adain", "modulated"])
def test_progressive_generator_fades_in_the_new_resolution(style: str) -> None:
    progressive = {"start": 4, "fade_steps": 4, "stable_steps": 2}
    generator = small(16, style=style, progressive=progressive).eval()
    ws = generator.map_latent(torch.randn(2, 16))

    def run() -> Tensor:
        return generator.synthesis(ws).detach()  # unclamped, so the fade is linear in alpha

    generator.set_step(0)
    low = run()
    with torch.no_grad():
        for p in generator.blocks[2].parameters():
            p.add_(1.0)
    assert torch.equal(run(), low)  # at 4x4 the 16x16 block is not used
    generator.set_step(2 + 4)  # 8x8 at alpha 1
    full8 = run()
    generator.set_step(2 + 2)  # alpha 0.5 into 8x8
    half = run()
    generator.set_step(2)  # alpha 0 into 8x8: the 4x4 image, exactly as before the fade
    assert torch.allclose(run(), low, atol=1e-6)
    assert torch.allclose(half, 0.5 * (low + full8), atol=1e-5)
    assert not torch.allclose(full8, low, atol=1e-3)


def test_progressive_discriminator_fades_in_the_new_resolution() -> None:
    torch.manual_seed(0)
    discriminator = StyleGANDiscriminator((1, 16, 16), width=8, progressive={"start": 4, "fade_steps": 4, "stable_steps": 2})
    images = torch.randn(4, 1, 16, 16)
    discriminator.set_step(0)
    at4 = discriminator(images)
    discriminator.set_step(2)
    assert torch.allclose(discriminator(images), at4, atol=1e-6)  # alpha 0: the new block is not seen yet
    discriminator.set_step(100)
    assert not torch.allclose(discriminator(images), at4)


PROGRESSIVE_SPEC = """\
seed: 0
device: cpu
generator: {name: stylegan, latent_dim: 8, w_dim: 8, width: 8, mapping_layers: 2, progressive: {start: 4, fade_steps: 2, stable_steps: 1}}
discriminator: {name: stylegan, width: 8, progressive: {start: 4, fade_steps: 2, stable_steps: 1}}
loss: {name: bce}
penalties: [{name: r1, gamma: 1.0, every: 2}, {name: path-length, every: 2}]
data: {name: synthetic, image_size: 16, size: 32, batch_size: 8}
optimizers:
  generator: {name: Adam, lr: 2.0e-3, betas: [0.0, 0.99]}
  discriminator: {name: Adam, lr: 2.0e-3, betas: [0.0, 0.99]}
train: {steps: 8, log_every: 2, ema: 0.9}
"""


def test_progressive_training_resumes_bit_identically(tmp_path: Path) -> None:
    spec = tmp_path / "sg.yaml"
    spec.write_text(PROGRESSIVE_SPEC)
    full = invoke("run", str(spec), "--out", str(tmp_path / "full"), "--quiet")
    assert full.exit_code == 0, full.output
    part = invoke("run", str(spec), "--out", str(tmp_path / "part"), "--quiet", "--set", "train.steps=4")
    assert part.exit_code == 0, part.output
    resumed = invoke("run", str(spec), "--out", str(tmp_path / "part"), "--quiet", "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert_same_weights(tmp_path / "full/checkpoints/last.pt", tmp_path / "part/checkpoints/last.pt")
    from ganforge.checkpoint import load_checkpoint

    full_state, part_state = (load_checkpoint(tmp_path / f"{n}/checkpoints/last.pt") for n in ("full", "part"))
    assert torch.equal(full_state["generator"]["w_avg"], part_state["generator"]["w_avg"])


# ---- path length ---------------------------------------------------------------------------------------


def test_path_length_penalty_matches_a_hand_computation() -> None:
    torch.manual_seed(0)
    matrix = torch.randn(2 * 3 * 3, 3 * 4)  # images (N, 2, 3, 3) = M @ flattened w+ (N, 3 layers, 4)
    ws = torch.randn(5, 3, 4, requires_grad=True)
    fake = (ws.flatten(1) @ matrix.T).view(5, 2, 3, 3)
    batch = Batch(phase="generator", real=torch.zeros(5, 2, 3, 3), fake=fake, latent=torch.zeros(5, 1), discriminator=None,
                  generator=nn.Identity(), fake_extras={"ws": ws})  # fmt: skip
    loss = PathLengthPenalty(weight=2.0, decay=0.01)
    torch.manual_seed(1)
    value = loss.generator_loss(batch)
    torch.manual_seed(1)
    y = torch.randn(5, 2, 3, 3) / 3.0  # / sqrt(H W)
    jty = (y.flatten(1) @ matrix).view(5, 3, 4)  # J^T y per sample
    lengths = jty.square().sum(2).mean(1).sqrt()
    mean = 0.01 * lengths.mean()  # lerp(0, mean length, 0.01)
    assert value.item() == pytest.approx(2.0 * (lengths - mean).square().mean().item(), rel=1e-5)
    assert loss.state_dict()["pl_mean"].item() == pytest.approx(mean.item(), rel=1e-5)

    restored = PathLengthPenalty()
    restored.load_state_dict(loss.state_dict())
    torch.manual_seed(2)
    second = loss.generator_loss(batch)
    torch.manual_seed(2)
    assert restored.generator_loss(batch).item() == second.item()  # the running mean came back


def test_path_length_without_ws_differentiates_with_respect_to_the_latent() -> None:
    torch.manual_seed(0)
    generator = TinyGenerator((1, 8, 8))
    latent = torch.randn(4, generator.latent_dim)
    batch = Batch(phase="generator", real=torch.zeros(4, 1, 8, 8), fake=generator(latent), latent=latent, discriminator=None, generator=generator)
    value = PathLengthPenalty().generator_loss(batch)
    value.backward()
    assert value.item() > 0 and any(p.grad is not None and p.grad.abs().sum() > 0 for p in generator.parameters())


def test_path_length_running_mean_is_checkpointed(tmp_path: Path) -> None:
    spec = tmp_path / "sg.yaml"
    spec.write_text(PROGRESSIVE_SPEC.replace("progressive: {start: 4, fade_steps: 2, stable_steps: 1}", "progressive: null"))
    result = invoke("run", str(spec), "--out", str(tmp_path / "run"), "--quiet", "--set", "train.steps=2")
    assert result.exit_code == 0, result.output
    from ganforge.checkpoint import load_checkpoint

    state = load_checkpoint(tmp_path / "run/checkpoints/last.pt")
    means = [t["pl_mean"] for t in state["terms"] if "pl_mean" in t]
    assert len(means) == 1 and means[0].item() > 0


# ---- PPL -----------------------------------------------------------------------------------------------


def test_unit_slerp_follows_the_great_circle() -> None:
    a, b = torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 3.0]])
    out = unit_slerp(a, b, torch.tensor([1 / 3]))
    assert torch.allclose(out, torch.tensor([[math.cos(math.pi / 6), math.sin(math.pi / 6)]]), atol=1e-6)


def test_filtered_mean_drops_the_outer_percentiles() -> None:
    values = torch.cat([torch.full((5,), -1000.0), torch.ones(990), torch.full((5,), 1000.0)])
    assert filtered_mean(values) == pytest.approx(1.0)


class LinearImages(Generator):
    """images = tanh-free linear map of the latent, so PPL has a closed form."""

    def __init__(self) -> None:
        super().__init__()
        self.latent_dim, self.image_shape = 2, (1, 1, 2)
        self.scale = nn.Parameter(torch.tensor([3.0, 4.0]))

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return (z * self.scale * 0.01).view(-1, 1, 1, 2)

    def map_latent(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return z


class Identity(RandomFeatures):
    def features(self, images: Tensor) -> Tensor:
        return images.flatten(1).float()


def test_ppl_in_w_is_the_squared_feature_distance_over_epsilon_squared() -> None:
    generator = LinearImages().eval()
    context = EvalContext(generator, TinyImages((1, 1, 2)), torch.device("cpu"), seed=3, batch_size=8)
    metric = PerceptualPathLength(samples=20, space="w", epsilon=1e-2, extractor=Identity())
    got = metric.distances(context)
    rng = torch.Generator().manual_seed(3)
    expected = []
    for n in (8, 8, 4):
        z = torch.randn(2 * n, 2, generator=rng)
        torch.rand(n, generator=rng)
        step = 0.01 * (z[n:] - z[:n])  # lerp(w0, w1, t + eps) - lerp(w0, w1, t)
        expected.append(((step * generator.scale.detach() * 0.01) ** 2).sum(1) / 1e-4)
    assert torch.allclose(got, torch.cat(expected).double(), rtol=1e-3)
    assert metric.evaluate(context)["ppl_w"] == pytest.approx(filtered_mean(got))


def test_ppl_in_w_needs_a_mapping_network() -> None:
    context = EvalContext(TinyGenerator((1, 8, 8)).eval(), TinyImages((1, 8, 8)), torch.device("cpu"))
    with pytest.raises(GanforgeError, match="use space: z"):
        PerceptualPathLength(samples=4, extractor=RandomFeatures()).evaluate(context)
    assert "ppl_z" in PerceptualPathLength(samples=4, space="z", extractor=RandomFeatures()).evaluate(context)


def test_ppl_of_stylegan_in_w_and_z() -> None:
    generator = small(28, num_classes=2).eval()
    context = EvalContext(generator, TinyImages((1, 28, 28)), torch.device("cpu"), batch_size=8)
    for space in ("w", "z"):
        value = PerceptualPathLength(samples=16, space=space, extractor=RandomFeatures()).evaluate(context)[f"ppl_{space}"]  # type: ignore[arg-type]
        assert math.isfinite(value) and value >= 0


# ---- ganforge sample: style mixing and noise variation -----------------------------------------------

SAMPLE_SPEC = PROGRESSIVE_SPEC.replace(" progressive: {start: 4, fade_steps: 2, stable_steps: 1}", "").replace("steps: 8", "steps: 2")


@pytest.fixture
def stylegan_run(tmp_path: Path) -> Path:
    spec = tmp_path / "sg.yaml"
    spec.write_text(SAMPLE_SPEC.replace("image_size: 16, size: 32", "image_size: 16, size: 32, num_classes: 3").replace("width: 8,", "width: 8, num_classes: 3,").replace("{name: stylegan, width: 8}", "{name: stylegan, width: 8, num_classes: 3}"))
    result = invoke("run", str(spec), "--out", str(tmp_path / "run"), "--quiet")
    assert result.exit_code == 0, result.output
    return tmp_path / "run"


def _png_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def test_sample_style_mix_figure(stylegan_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "mix.png"
    result = invoke("sample", str(stylegan_run), "--style-mix", "--n", "4", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "coarse" in result.output and "fine" in result.output
    # 16x16 cells, 2-pixel gaps: 1 + 4 columns; 1 + 2 rows for each of coarse (4, 8), fine (16)
    assert _png_size(out) == (5 * 18 + 2, 5 * 18 + 2)
    truncated = invoke("sample", str(stylegan_run), "--style-mix", "--truncation", "0.5", "--class", "1", "--out", str(tmp_path / "t.png"))
    assert truncated.exit_code == 0, truncated.output


def test_style_mix_cells_take_the_group_styles_of_the_row_source(stylegan_run: Path) -> None:
    from ganforge.artifacts.loading import load_trained
    from ganforge.artifacts.sampling import sampler_for
    from ganforge.cli.sample import style_mixing

    sampler = sampler_for(load_trained(stylegan_run))
    figure = style_mixing(sampler, 2, 0, 0, None)
    generator = sampler.generator
    columns, rows = figure.latents[:2], figure.latents[2:]
    groups = [g for g in generator.style_groups().values() if len(g)]  # type: ignore[operator]
    expected = columns.clone()
    expected[:, groups[0].start : groups[0].stop] = rows[0, groups[0].start : groups[0].stop]
    cell = sampler._forward(expected, torch.zeros(2, dtype=torch.int64))
    assert torch.allclose(figure.images.view(-1, 3, *figure.images.shape[1:])[1, 1:], cell, atol=1e-5)


def test_sample_noise_variation_figure(stylegan_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "noise.png"
    result = invoke("sample", str(stylegan_run), "--noise-variation", "3", "--n", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert _png_size(out) == (4 * 18 + 2, 2 * 18 + 2)  # 3 draws + the standard deviation, 2 rows


def test_noise_variation_std_image_is_the_spread_over_draws(stylegan_run: Path) -> None:
    from ganforge.artifacts.loading import load_trained
    from ganforge.artifacts.sampling import sampler_for
    from ganforge.cli.sample import noise_variations

    sampler = sampler_for(load_trained(stylegan_run))
    for noise in sampler.generator.noise_inputs():  # type: ignore[operator]
        nn.init.ones_(noise.strength)
    figure = noise_variations(sampler, 1, 4, 0, 2, None)
    draws, std_image = figure.images[:4], figure.images[4]
    std = draws.std(dim=0).mean(dim=0)
    assert torch.allclose(std_image[0], 2 * std / std.max() - 1, atol=1e-5)
    assert not torch.allclose(draws[0], draws[1])


def test_figures_need_a_generator_that_offers_them(tiny_spec: Path, tmp_path: Path) -> None:
    assert invoke("run", str(tiny_spec), "--out", str(tmp_path / "dcgan"), "--quiet").exit_code == 0
    for flag in (["--style-mix"], ["--noise-variation", "4"]):
        result = CliRunner().invoke(cli, ["sample", str(tmp_path / "dcgan"), *flag, "--out", str(tmp_path / "x.png")])
        assert result.exit_code == 2 and "(e.g. stylegan)" in result.output and len(result.output.strip().splitlines()) == 1, result.output
    both = invoke("sample", str(tmp_path / "dcgan"), "--style-mix", "--interpolate", "3")
    assert both.exit_code == 2 and "give one of them" in both.output


def test_sample_with_truncation_and_interpolation_use_w(stylegan_run: Path, tmp_path: Path) -> None:
    for i, args in enumerate((["--truncation", "0.7"], ["--interpolate", "4", "--n", "2", "--truncation", "0.7"])):
        result = invoke("sample", str(stylegan_run), *args, "--out", str(tmp_path / f"s{i}.png"))
        assert result.exit_code == 0, result.output


# ---- LPIPS-VGG16 -----------------------------------------------------------------------------------------


@pytest.fixture
def lpips_files(tmp_path: Path) -> tuple[str, str]:
    """Random VGG16 convolutional weights and LPIPS linear weights, saved as the real files are laid out."""
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    features = make_layers(cfgs["D"])
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, tmp_path / "vgg16-397923af.pth")
    lin = {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1) for i, c in enumerate((64, 128, 256, 512, 512))}
    torch.save(lin, tmp_path / "vgg.pth")
    return str(tmp_path / "vgg16-397923af.pth"), str(tmp_path / "vgg.pth")


def test_lpips_feature_distance_is_the_lpips_formula(lpips_files: tuple[str, str]) -> None:
    from ganforge_builtins.extractors.lpips import SCALE, SHIFT, TAPS, LPIPSFeatures

    extractor = LPIPSFeatures(*lpips_files).eval()
    lin = torch.load(lpips_files[1])
    x, y = torch.rand(2, 1, 32, 32) * 2 - 1, torch.rand(2, 1, 32, 32) * 2 - 1
    got = (extractor.features(x) - extractor.features(y)).square().sum(1)

    def taps(images: Tensor) -> list[Tensor]:
        h = (images.expand(-1, 3, -1, -1) - torch.tensor(SHIFT).view(1, 3, 1, 1)) / torch.tensor(SCALE).view(1, 3, 1, 1)
        out = []
        for i, layer in enumerate(extractor.vgg):
            h = layer(h)
            if i in TAPS:
                out.append(h / (h.square().sum(1, keepdim=True).sqrt() + 1e-10))
        return out

    with torch.no_grad():
        expected = sum((lin[f"lin{i}.model.1.weight"] * (a - b).square()).sum(1).mean(dim=(1, 2)) for i, (a, b) in enumerate(zip(taps(x), taps(y))))
    assert torch.allclose(got, expected, rtol=1e-4)


def test_lpips_passes_the_kit_and_serves_ppl(lpips_files: tuple[str, str]) -> None:
    from ganforge.testing import check_extractor
    from ganforge_builtins.extractors.lpips import LPIPSFeatures

    check_extractor(LPIPSFeatures, weights=lpips_files[0], lin_weights=lpips_files[1])
    context = EvalContext(small(28).eval(), TinyImages((1, 28, 28)), torch.device("cpu"), batch_size=4)
    value = PerceptualPathLength(samples=4, extractor=LPIPSFeatures(*lpips_files)).evaluate(context)["ppl_w"]
    assert math.isfinite(value) and value > 0


def test_lpips_without_its_weights_is_one_line(tmp_path: Path) -> None:
    from ganforge_builtins.extractors.lpips import LPIPSFeatures

    with pytest.raises(GanforgeError, match="vgg16-397923af.pth does not exist"):
        LPIPSFeatures(weights=str(tmp_path / "vgg16-397923af.pth"))


@pytest.mark.parametrize("params", [{"style": "modulated"}, {"style": "modulated", "num_classes": 3}, {"mapping_layers": 1, "truncation_cutoff": 2}])
def test_other_settings_pass_the_conformance_kit(params: dict[str, object]) -> None:
    from ganforge.testing import check_generator

    check_generator(StyleGANGenerator, **{**SMALL, **params})

