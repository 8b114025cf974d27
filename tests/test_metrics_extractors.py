"""Feature extractors: the generic hook extractor, the FID Inception port and its weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.hook_extractor import HookExtractor, pool_to_vectors, to_unit_range


class Recorder(nn.Module):
    """Identity that counts its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x


def tiny_network() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 5, 3, stride=2), nn.Flatten(), nn.Linear(5 * 3 * 3, 6), Recorder()
    )  # fmt: skip


def test_hook_extractor_returns_exactly_the_layer_output() -> None:
    network = tiny_network()
    images = torch.rand(3, 3, 8, 8) * 2 - 1
    extractor = HookExtractor(network, ["1"])
    captured, _ = extractor.capture(images, ["1", "4"])
    with torch.no_grad():
        hidden = network[1](network[0](images))
        logits = network[4](network[3](network[2](hidden)))
    assert torch.equal(captured["1"], hidden) and torch.equal(captured["4"], logits)
    assert torch.equal(extractor.features(images), hidden.mean(dim=(2, 3)))
    assert torch.equal(extractor.logits(images), logits)
    assert extractor.feature_dim == 4


def test_hook_extractor_pools_and_concatenates_layers() -> None:
    network = tiny_network()
    images = torch.rand(2, 3, 8, 8)
    extractor = HookExtractor(network, ["2", "4"])
    features, logits = extractor.features_and_logits(images)
    with torch.no_grad():
        conv = network[2](network[1](network[0](images)))
        expected = torch.cat([conv.mean(dim=(2, 3)), network[4](network[3](conv))], dim=1)
    assert features.shape == (2, 11) and features.dtype == torch.float32
    assert torch.equal(features, expected) and torch.equal(logits, network(images))


def test_hooks_are_removed_and_network_runs_in_inference_mode() -> None:
    network = tiny_network()
    extractor = HookExtractor(network, ["0"])
    features = extractor.features(torch.rand(2, 3, 8, 8))
    assert features.is_inference()
    assert all(not module._forward_hooks for module in network.modules())
    with pytest.raises(RuntimeError):
        extractor.features(torch.rand(2, 7, 8, 8))  # wrong channel count: the forward fails
    assert all(not module._forward_hooks for module in network.modules())


def test_forward_stops_after_the_last_feature_layer_unless_logits_are_wanted() -> None:
    network = tiny_network()
    extractor = HookExtractor(network, ["1"])
    extractor.features(torch.rand(2, 3, 8, 8))
    assert network[5].calls == 0
    extractor.logits(torch.rand(2, 3, 8, 8))
    assert network[5].calls == 1


def test_unknown_layer_is_named_with_a_suggestion() -> None:
    network = nn.Sequential()
    network.add_module("embedding", nn.Linear(2, 2))
    with pytest.raises(ValueError, match="no layer 'embeding'.*did you mean 'embedding'"):
        HookExtractor(network, ["embeding"])


def test_pool_to_vectors_keeps_flat_outputs() -> None:
    flat = torch.randn(3, 7, dtype=torch.float64)
    assert torch.equal(pool_to_vectors(flat), flat.float())


def test_quantisation_matches_a_png_round_trip(tmp_path) -> None:
    from torchvision.utils import save_image

    image = torch.rand(1, 3, 9, 9, generator=torch.Generator().manual_seed(1)) * 2.2 - 1.1  # some values out of range
    save_image(image, tmp_path / "x.png", normalize=True, value_range=(-1.0, 1.0))
    from_png = torch.from_numpy(np.array(Image.open(tmp_path / "x.png"))).permute(2, 0, 1).float() / 255
    assert torch.equal(to_unit_range(image)[0], from_png)
    uint8 = (from_png * 255).round().to(torch.uint8)
    assert torch.equal(to_unit_range(uint8), from_png)
    assert torch.equal(to_unit_range(uint8.float() / 127.5 - 1), from_png)  # real data survives the round trip


# --- the FID Inception port -------------------------------------------------------------------

inception = pytest.importorskip("ganforge_builtins.extractors.inception")
from ganforge_builtins.extractors._fid_inception_net import FID_WEIGHTS_FILE, FIDInceptionA, FIDInceptionC, FIDInceptionE, fid_inception_v3  # noqa: E402


@pytest.fixture(scope="module")
def fid_weights(tmp_path_factory) -> tuple[str, dict[str, torch.Tensor]]:
    """A randomly initialised FID Inception state dict saved under the standard file name."""
    import torchvision

    torch.manual_seed(0)
    state = torchvision.models.inception_v3(weights=None, aux_logits=False, num_classes=1008, init_weights=True).state_dict()
    folder = tmp_path_factory.mktemp("weights")
    torch.save(state, folder / FID_WEIGHTS_FILE)
    return str(folder), state


def test_fid_inception_has_the_patched_blocks_and_torchvision_keys() -> None:
    import torchvision

    network = fid_inception_v3()
    reference = torchvision.models.inception_v3(weights=None, aux_logits=False, num_classes=1008, init_weights=False)
    assert network.state_dict().keys() == reference.state_dict().keys()  # pytorch-fid loads into this layout
    assert network.fc.out_features == 1008 and network.AuxLogits is None
    assert all(isinstance(getattr(network, f"Mixed_5{c}"), FIDInceptionA) for c in "bcd")
    assert all(isinstance(getattr(network, f"Mixed_6{c}"), FIDInceptionC) for c in "bcde")
    assert isinstance(network.Mixed_7b, FIDInceptionE) and not network.Mixed_7b.max_pool
    assert isinstance(network.Mixed_7c, FIDInceptionE) and network.Mixed_7c.max_pool


def test_patched_pools_exclude_padding_and_last_block_max_pools() -> None:
    torch.manual_seed(0)
    block = FIDInceptionA(8, pool_features=4).eval()
    x = torch.rand(1, 8, 5, 5) + 1
    with torch.no_grad():
        expected = block.branch_pool(F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False))
        assert torch.equal(block._forward(x)[3], expected)
        last = FIDInceptionE(8, max_pool=True).eval()
        assert torch.equal(last._forward(x)[3], last.branch_pool(F.max_pool2d(x, 3, stride=1, padding=1)))


def test_inception_loads_weights_from_path_and_env(fid_weights, monkeypatch) -> None:
    folder, state = fid_weights
    from ganforge.interfaces.extractor import state_digest

    loaded = fid_inception_v3()
    loaded.load_state_dict(state)
    by_path = inception.InceptionV3(weights=f"{folder}/{FID_WEIGHTS_FILE}")
    assert by_path.cache_key == f"inception-v3-{state_digest(loaded)}"  # every tensor went in
    assert torch.equal(by_path.network.fc.weight, state["fc.weight"])
    monkeypatch.setenv("GANFORGE_WEIGHTS", folder)
    by_env = inception.InceptionV3()
    assert by_env.cache_key == by_path.cache_key


def test_batch_norm_folding_keeps_the_block_output() -> None:
    from torchvision.models.inception import BasicConv2d

    torch.manual_seed(0)
    block = BasicConv2d(3, 5, kernel_size=3, padding=1)
    with torch.no_grad():
        block.bn.running_mean.uniform_(-1, 1), block.bn.running_var.uniform_(0.5, 2), block.bn.weight.uniform_(0.5, 2), block.bn.bias.uniform_(-1, 1)
    block.eval()
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        expected = block(x)
        inception.fold_batch_norms(block)
        assert isinstance(block.bn, nn.Identity) and block.conv.bias is not None
        torch.testing.assert_close(block(x), expected, rtol=1e-5, atol=1e-6)


def test_inception_weights_absent_offline_says_where_to_put_them(tmp_path, monkeypatch) -> None:
    import ganforge.weights

    monkeypatch.delenv("GANFORGE_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def offline(url, destination):
        raise OSError("network unreachable")

    monkeypatch.setattr(ganforge.weights, "download", offline)
    with pytest.raises(GanforgeError) as error:
        inception.InceptionV3()
    message = str(error.value)
    assert "\n" not in message and FID_WEIGHTS_FILE in message
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in message and "GANFORGE_WEIGHTS" in message


def test_inception_rejects_weights_of_another_network(tmp_path) -> None:
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(GanforgeError, match="do not fit"):
        inception.InceptionV3(weights=str(tmp_path / "other.pth"))


def test_inception_features_follow_pytorch_fid_conventions(fid_weights) -> None:
    """pytorch-fid's route: PNG pixels / 255, bilinear resize to 299 (no antialias), 2x − 1,
    blocks up to the final average pool."""
    folder, state = fid_weights
    extractor = inception.InceptionV3(weights=folder)
    grey = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8)
    features, logits = extractor.features_and_logits(grey.float() / 127.5 - 1)
    assert features.shape == (2, 2048) and logits.shape == (2, 1008)

    network = fid_inception_v3()
    network.load_state_dict(state)
    network.eval()
    x = F.interpolate(grey.expand(-1, 3, -1, -1).float() / 255, size=(299, 299), mode="bilinear", align_corners=False)
    with torch.no_grad():
        x = 2 * x - 1
        for name in ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3", "maxpool2",
                     "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
                     "Mixed_7a", "Mixed_7b", "Mixed_7c", "avgpool"]:  # fmt: skip
            x = getattr(network, name)(x)
        expected = x.flatten(1)
        expected_logits = network.fc(expected)
    # Random weights give activations of ~1e7 with cancellations: compare whole vectors.
    assert float((features - expected).norm() / expected.norm()) < 1e-5
    assert float((logits - expected_logits).norm() / expected_logits.norm()) < 1e-5


def test_large_inputs_are_split_into_max_batch_passes() -> None:
    network = tiny_network()
    extractor = HookExtractor(network, ["1"])
    images = torch.rand(7, 3, 8, 8)
    whole = extractor.features_and_logits(images)
    extractor.max_batch = 3
    split = extractor.features_and_logits(images)
    assert network[5].calls == 1 + 3
    for a, b in zip(whole, split):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
