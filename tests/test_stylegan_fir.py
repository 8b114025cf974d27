"""The ``stylegan`` plugin's ``resample: fir`` option: the reference's FIR [1, 3, 3, 1] filter
(upfirdn2d) for every 2x resampling, the same kernel as bilinear inside the image and zero
padding at its border; off by default, so existing runs keep their networks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from ganforge.plugins import get_plugins
from ganforge.spec import build_component
from ganforge.spec.resolve import SpecErrors
from ganforge_builtins.stylegan._layers import downsample, upsample
from ganforge_builtins.stylegan.networks import StyleGANDiscriminator, StyleGANGenerator

from .conftest import invoke


def test_fir_upsampling_is_bilinear_inside_and_zero_padded_at_the_border() -> None:
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0)) + 1
    fir, bilinear = upsample(x, "fir"), upsample(x)
    assert fir.shape == bilinear.shape == (2, 3, 16, 16)
    assert torch.allclose(fir[..., 1:-1, 1:-1], bilinear[..., 1:-1, 1:-1], atol=1e-6)
    assert (fir[..., 0, :] < bilinear[..., 0, :] - 0.1).all()  # the border sees zeros beyond the image
    down = downsample(x, "fir")
    assert down.shape == (2, 3, 4, 4) and not torch.allclose(down, F.avg_pool2d(x, 2))
    assert torch.allclose(downsample(torch.ones(1, 1, 8, 8), "fir")[..., 1:-1, 1:-1], torch.ones(1, 1, 2, 2))  # unit gain


@pytest.mark.parametrize("style", ["modulated", "adain"])
def test_the_option_changes_the_networks_and_the_default_does_not(style: str) -> None:
    def outputs(**options: str) -> tuple[torch.Tensor, torch.Tensor]:
        torch.manual_seed(0)
        g = StyleGANGenerator((3, 16, 16), latent_dim=8, w_dim=8, mapping_layers=1, width=8, style=style, **options).eval()  # type: ignore[arg-type]
        d = StyleGANDiscriminator((3, 16, 16), width=8, **options).eval()  # type: ignore[arg-type]
        z = torch.randn(2, 8, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            images = g(z)
            return images, d(images)

    default, bilinear, fir = outputs(), outputs(resample="bilinear"), outputs(resample="fir")
    assert all(torch.equal(a, b) for a, b in zip(default, bilinear))
    assert not torch.allclose(default[0], fir[0]) and not torch.allclose(default[1], fir[1])
    with pytest.raises(SpecErrors, match="expected 'bilinear' | 'fir', got 'nearest'"):
        build_component(get_plugins().registry, "generator", {"name": "stylegan", "resample": "nearest"}, image_shape=(3, 16, 16))


def test_a_run_trains_with_fir_resampling(tmp_path: Path) -> None:
    spec = tmp_path / "fir.yaml"
    spec.write_text(
        "seed: 0\ndevice: cpu\n"
        "generator: {name: stylegan, style: modulated, latent_dim: 8, w_dim: 8, mapping_layers: 1, width: 8, resample: fir}\n"
        "discriminator: {name: stylegan, width: 8, resample: fir}\n"
        "loss: {name: bce}\npenalties: [{name: r1, gamma: 1.0, every: 2}]\n"
        "data: {name: synthetic, size: 16, batch_size: 4, image_size: 16, channels: 3}\n"
        "optimizers:\n  generator: {name: Adam, lr: 0.002, betas: [0.0, 0.99]}\n  discriminator: {name: Adam, lr: 0.002, betas: [0.0, 0.99]}\n"
        "train: {steps: 2, log_every: 1}\n"
    )
    result = invoke("run", str(spec), "--out", str(tmp_path / "run"), "--quiet")
    assert result.exit_code == 0, result.output
