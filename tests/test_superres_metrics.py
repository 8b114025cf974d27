"""PSNR and SSIM the SR way (Y channel, border cropped) against known values and scikit-image,
the metrics with their bicubic baseline, and tiled upscaling equal to a whole-image pass."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from ganforge import EvalContext, Generator
from ganforge.errors import GanforgeError
from ganforge.interfaces.reading import hold_in_memory
from ganforge.serving.tiling import upscale_tiled
from ganforge.testing import RandomFeatures, TinyGenerator, TinyImages
from ganforge_builtins.superres import quality
from ganforge_builtins.superres.data import SuperResolution, bicubic_upsample
from ganforge_builtins.superres.metrics import LPIPS, PSNR, SSIM
from ganforge_builtins.superres.networks import SRResNet


def levels(values: Tensor) -> Tensor:
    """uint8 levels, as the metrics read targets."""
    return values.round().clamp(0, 255).to(torch.uint8)


def smooth_image(seed: int, channels: int = 3, size: int = 40) -> Tensor:
    rng = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.interpolate(torch.rand(1, channels, 6, 6, generator=rng), size=size, mode="bicubic")
    return levels(base * 200 + 20 + torch.rand(1, channels, size, size, generator=rng) * 30)


def test_psnr_known_values() -> None:
    target = torch.full((1, 1, 20, 20), 100, dtype=torch.uint8)
    assert math.isinf(float(quality.psnr(target, target)[0]))
    output = target + 5  # grey: MSE = 25
    assert float(quality.psnr(output, target)[0]) == pytest.approx(10 * math.log10(255**2 / 25))
    # colour: +d on R, G and B moves Y (BT.601, 16..235) by d·219/255
    rgb = torch.full((2, 3, 20, 20), 100, dtype=torch.uint8)
    expected = 10 * math.log10(255**2 / (10 * 219 / 255) ** 2)
    assert quality.psnr(rgb + 10, rgb).tolist() == pytest.approx([expected, expected])
    # floats in [-1, 1] are quantised to levels first
    assert float(quality.psnr(target.float() / 127.5 - 1 + 0.001, target)[0]) == math.inf


def test_border_is_cropped() -> None:
    target = torch.full((1, 3, 20, 20), 100, dtype=torch.uint8)
    output = target.clone()
    output[..., :4, :] = 0  # only the top 4 rows differ
    assert math.isinf(float(quality.psnr(output, target, border=4)[0]))
    assert math.isfinite(float(quality.psnr(output, target, border=3)[0]))
    assert float(quality.ssim(output, target, border=4)[0]) == pytest.approx(1.0)


def test_ssim_of_an_image_with_itself_is_one_and_less_for_another() -> None:
    image = smooth_image(0)
    assert float(quality.ssim(image, image)[0]) == pytest.approx(1.0, abs=1e-12)
    noisy = levels(image.double() + torch.randn(image.shape, generator=torch.Generator().manual_seed(1)) * 20)
    assert 0 < float(quality.ssim(noisy, image)[0]) < 0.95
    with pytest.raises(ValueError, match="at least 11x11"):
        quality.ssim(image[..., :12, :12], image[..., :12, :12], border=1)


@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_agrees_with_scikit_image(channels: int) -> None:
    metrics = pytest.importorskip("skimage.metrics")
    image, other = smooth_image(2, channels), smooth_image(3, channels)
    ours = float(quality.ssim(other, image, border=4)[0])
    y_image, y_other = quality.prepare(image, 4)[0, 0].numpy(), quality.prepare(other, 4)[0, 0].numpy()
    theirs = metrics.structural_similarity(y_other, y_image, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    assert ours == pytest.approx(theirs, abs=1e-9)
    psnr = metrics.peak_signal_noise_ratio(y_image, y_other, data_range=255)
    assert float(quality.psnr(other, image, border=4)[0]) == pytest.approx(psnr, abs=1e-9)


class Bicubic(Generator):
    """Upscales ``lr`` bicubically: its PSNR must equal the baseline's.

    Args:
        image_shape: from the dataset.
    """

    inputs = ("lr",)

    def __init__(self, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.image_shape, self.latent_dim, self.input_shapes = image_shape, 1, {"lr": (image_shape[0], 8, 8)}
        self.unused = torch.nn.Linear(1, 1)

    def forward(self, z: Tensor, labels: Tensor | None = None, lr: Tensor | None = None) -> Tensor:
        assert lr is not None
        return bicubic_upsample(lr, 2)


def test_metrics_score_the_test_pairs_with_the_bicubic_baseline() -> None:
    pairs = SuperResolution(dataset=TinyImages((3, 32, 32), size=6), hr_size=16, scale=2)
    context = EvalContext(Bicubic((3, 16, 16)).eval(), pairs, torch.device("cpu"), batch_size=4)
    values = PSNR().evaluate(context)
    assert set(values) == {"psnr", "psnr_bicubic"} and values["psnr"] == pytest.approx(values["psnr_bicubic"])
    data = hold_in_memory(pairs.load("test"))
    by_hand = quality.psnr(bicubic_upsample(data.inputs["lr"].float() / 127.5 - 1, 2), data.samples, border=2).mean()
    assert values["psnr"] == pytest.approx(float(by_hand))
    assert PSNR(border=0).evaluate(context)["psnr"] != pytest.approx(values["psnr"])
    net = SRResNet(image_shape=(3, 16, 16), scale=2, blocks=1, width=4).eval()
    ssim = SSIM(samples=3).evaluate(EvalContext(net, pairs, torch.device("cpu")))
    assert set(ssim) == {"ssim", "ssim_bicubic"} and ssim["ssim"] < ssim["ssim_bicubic"]  # an untrained net is worse
    assert PSNR.higher_is_better and SSIM.higher_is_better
    with pytest.raises(GanforgeError, match="needs paired data"):
        PSNR().evaluate(EvalContext(TinyGenerator((1, 28, 28)), TinyImages(), torch.device("cpu")))


def test_tiling_equals_a_whole_image_pass() -> None:
    torch.manual_seed(0)
    net = SRResNet(image_shape=(3, 16, 16), scale=2, blocks=1, width=8).eval()
    for p in net.parameters():  # BN's running statistics and scale away from the identity, as after training
        p.data.add_(torch.randn(p.shape) * 0.05)
    lr = torch.rand(1, 3, 37, 50) * 2 - 1
    z = torch.zeros(1, 1)

    def run(part: Tensor) -> Tensor:
        return net(z, lr=part)

    with torch.no_grad():
        whole = run(lr)
        tiled = upscale_tiled(run, lr, 2, tile=16, overlap=12)  # the receptive field is 10 LR pixels
        assert tiled.shape == whole.shape == (1, 3, 74, 100)
        assert torch.allclose(tiled, whole, atol=1e-5)
        seams = upscale_tiled(run, lr, 2, tile=16, overlap=0)
        assert not torch.allclose(seams, whole, atol=1e-3)  # without context the tiles' edges differ
    calls: list[tuple[int, ...]] = []
    upscale_tiled(lambda part: calls.append(tuple(part.shape)) or part.repeat_interleave(2, -1).repeat_interleave(2, -2), lr, 2, tile=16, overlap=4)
    assert max(h * w for *_, h, w in calls) <= 24 * 24  # memory bounded by (tile + 2·overlap)²


def test_lpips_is_the_feature_distance_of_output_and_target_with_the_bicubic_baseline() -> None:
    pairs = SuperResolution(dataset=TinyImages((3, 32, 32), size=6), hr_size=16, scale=2)
    features = RandomFeatures(feature_dim=8)
    values = LPIPS(extractor=features).evaluate(EvalContext(Bicubic((3, 16, 16)).eval(), pairs, torch.device("cpu"), batch_size=4))
    assert set(values) == {"lpips", "lpips_bicubic"} and values["lpips"] == pytest.approx(values["lpips_bicubic"])
    data = hold_in_memory(pairs.load("test"))
    output = bicubic_upsample(data.inputs["lr"].float() / 127.5 - 1, 2)[..., 2:-2, 2:-2]
    target = data.samples[..., 2:-2, 2:-2].float() / 127.5 - 1
    by_hand = (features.features(output) - features.features(target)).square().sum(1).mean()
    assert values["lpips"] == pytest.approx(float(by_hand)) and values["lpips"] > 0
    net = SRResNet(image_shape=(3, 16, 16), scale=2, blocks=1, width=4).eval()
    worse = LPIPS(extractor=features).evaluate(EvalContext(net, pairs, torch.device("cpu")))
    assert worse["lpips"] > worse["lpips_bicubic"] and not LPIPS.higher_is_better  # an untrained net is worse


def test_lpips_without_its_weights_is_one_line(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GANFORGE_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    pairs = SuperResolution(dataset=TinyImages((3, 32, 32), size=6), hr_size=16, scale=2)
    with pytest.raises(GanforgeError, match="vgg16-397923af.pth"):
        LPIPS().evaluate(EvalContext(Bicubic((3, 16, 16)).eval(), pairs, torch.device("cpu")))
