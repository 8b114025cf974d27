"""SR networks and losses: shapes at scale 2 and 4, the papers' structure, the perceptual loss
reading its hooked layer (against a hand forward), VGG19 weights found like Inception's."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.testing import batch_from_scores
from ganforge_builtins.extractors.vgg import VGG19, VGG19_WEIGHTS_FILE, vgg19_features
from ganforge_builtins.superres.losses import PerceptualLoss, PixelLoss
from ganforge_builtins.superres.networks import RRDBNet, SRResNet, VGGStyleDiscriminator


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("factory", [SRResNet, RRDBNet])
def test_shapes_at_scale_2_and_4(factory: type, scale: int) -> None:
    net = factory(image_shape=(3, 32, 32), scale=scale, blocks=1, width=8).eval()
    assert net.input_shapes == {"lr": (3, 32 // scale, 32 // scale)} and net.inputs == ("lr",)
    z = torch.zeros(2, 1)
    assert net(z, lr=torch.rand(2, 3, 32 // scale, 32 // scale) * 2 - 1).shape == (2, 3, 32, 32)
    out = net(z, lr=torch.rand(1, 3, 5, 7) * 2 - 1)  # any size at use time
    assert out.shape == (1, 3, 5 * scale, 7 * scale) and float(out.detach().abs().max()) <= 1
    with pytest.raises(GanforgeError, match="ganforge upscale"):
        net(z)


def test_the_papers_structure() -> None:
    srresnet = SRResNet(image_shape=(3, 32, 32), scale=4)
    kinds = [type(m) for m in srresnet.modules()]
    assert kinds.count(nn.PixelShuffle) == 2 and nn.PReLU in kinds
    assert sum(1 for m in srresnet.modules() if type(m).__name__ == "_ResidualBlock") == 16
    assert kinds.count(nn.BatchNorm2d) == 33  # two per residual block, one after the body
    rrdb = RRDBNet(image_shape=(1, 16, 16), scale=2, blocks=2, width=8, growth=4)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in rrdb.modules()) and len(rrdb.ups) == 1
    # residual scaling 0.2: with each dense block's last convolution giving 1, a dense block adds 0.2,
    # three chained ones give x + 0.6, and the RRDB x + 0.2·(x + 0.6), as ESRGAN's code computes
    block = rrdb.body[0]
    x = torch.randn(1, 8, 4, 4)
    for dense in block.blocks:
        nn.init.zeros_(dense.convs[4].weight)
        nn.init.constant_(dense.convs[4].bias, 1.0)
    assert torch.allclose(block(x), x + 0.2 * (x + 0.6), atol=1e-6)
    # training sees the linear output, eval clamps it
    rrdb.tail.bias.data.fill_(5.0)
    lr = torch.zeros(1, 1, 8, 8)
    with torch.no_grad():
        assert float(rrdb.train()(torch.zeros(1, 1), lr=lr).min()) > 1 and float(rrdb.eval()(torch.zeros(1, 1), lr=lr).max()) == 1


@pytest.mark.parametrize("size", [64, 96])
def test_vgg_style_discriminator_at_the_crop_size(size: int) -> None:
    d = VGGStyleDiscriminator(image_shape=(3, size, size), width=8)
    assert d(torch.rand(3, 3, size, size)).shape == (3,)
    assert d.head[1].in_features == 64 * (size // 16) ** 2


def test_pixel_loss_values() -> None:
    batch = batch_from_scores([0.0, 1.0], [1.0, -1.0], phase="generator")
    assert float(PixelLoss("l1").generator_loss(batch).detach()) == pytest.approx(1.5)
    assert float(PixelLoss("mse", weight=2.0).generator_loss(batch).detach()) == pytest.approx(2 * 2.5)
    assert PixelLoss().discriminator_loss(batch) is None


@pytest.mark.parametrize(("layer", "index"), [("conv5_4", 34), ("relu5_4", 35), ("conv2_1", 5)])
def test_perceptual_loss_reads_the_hooked_layer(layer: str, index: int) -> None:
    extractor = VGG19(pretrained=False, seed=1)
    loss = PerceptualLoss(extractor, layer=layer, distance="mse", weight=3.0)
    real = torch.rand(2, 3, 32, 32) * 2 - 1
    fake = (torch.rand(2, 3, 32, 32) * 2 - 1).requires_grad_(True)
    batch = batch_from_scores([0.0, 0.0], [0.0, 0.0], phase="generator")
    batch.real, batch.fake = real, fake
    value = loss.generator_loss(batch)

    # by hand: ImageNet normalisation, then torchvision's layer order up to the named one
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    network = extractor.network
    assert list(dict(network.named_children()))[index] == layer

    def by_hand(x: torch.Tensor) -> torch.Tensor:
        x = ((x + 1) / 2 - mean) / std
        for module in list(network.children())[: index + 1]:
            x = module(x)
        return x

    expected = 3.0 * F.mse_loss(by_hand(fake), by_hand(real))
    assert torch.allclose(value, expected, rtol=1e-5)
    value.backward()
    assert fake.grad is not None and float(fake.grad.abs().sum()) > 0
    assert all(p.grad is None for p in extractor.parameters())  # the extractor stays frozen
    if layer == "relu5_4":
        conv = PerceptualLoss(extractor, layer="conv5_4").features(real)
        assert torch.equal(loss.features(real), conv.relu()) and bool((conv < 0).any())


def test_perceptual_loss_errors_and_features_mode() -> None:
    from ganforge.testing import RandomFeatures

    with pytest.raises(ValueError, match="no layer 'conv9_9'"):
        PerceptualLoss(VGG19(pretrained=False), layer="conv9_9")
    with pytest.raises(ValueError, match="no hookable"):
        PerceptualLoss(RandomFeatures(), layer="conv5_4")
    loss = PerceptualLoss(RandomFeatures(), layer=None, distance="l1")
    batch = batch_from_scores([0.0], [0.0], phase="generator")
    batch.real, batch.fake = torch.zeros(2, 1, 8, 8), torch.ones(2, 1, 8, 8, requires_grad=True)
    features = RandomFeatures()
    assert torch.allclose(loss.generator_loss(batch), (features.features(batch.fake) - features.features(batch.real)).abs().mean())


def test_vgg19_weights_found_like_inceptions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ganforge.weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    monkeypatch.delenv("GANFORGE_WEIGHTS", raising=False)

    def offline(url: str, destination: Path) -> None:
        raise OSError("offline")

    monkeypatch.setattr(ganforge.weights, "download", offline)
    with pytest.raises(GanforgeError, match=f"weights file {VGG19_WEIGHTS_FILE} not found") as error:
        VGG19()
    assert "\n" not in str(error.value)
    # torchvision's layout: features.N for the convolutions, a classifier the extractor ignores
    torch.manual_seed(0)
    reference = vgg19_features()
    state = {f"features.{i}.{k}": v for i, m in enumerate(reference) for k, v in m.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)
    folder = tmp_path / "weights"
    folder.mkdir()
    torch.save(state, folder / VGG19_WEIGHTS_FILE)
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    loaded = VGG19(layers="conv3_1", weights=str(folder / VGG19_WEIGHTS_FILE))
    assert torch.equal(loaded.network.conv5_4.weight, reference[34].weight)
    monkeypatch.setenv("GANFORGE_WEIGHTS", str(folder))
    assert torch.equal(VGG19(layers="conv3_1").features(images), loaded.features(images))
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(GanforgeError, match="expected torchvision's VGG19 weights"):
        VGG19(weights=str(tmp_path / "bad.pth"))
