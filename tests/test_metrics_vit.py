"""DINOv2 and CLIP extractors through timm, with random weights and with weights files the
tests write; their preprocessing against PIL's; the messages when timm or weights are missing."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.testing import check_extractor
from ganforge_builtins.extractors.vit import CLIPViTB32, DINOv2ViTB14, DINOv2ViTS14, resize_like_pil

timm = pytest.importorskip("timm", reason="the vit extra (timm) is not installed")


def images(n: int, size: int = 20, channels: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


VIT_B = pytest.mark.slow  # ViT-B models take seconds to initialise on a CPU


@pytest.mark.parametrize(
    ("factory", "size", "dim"),
    [(DINOv2ViTS14, 28, 384), pytest.param(CLIPViTB32, 32, 512, marks=VIT_B), pytest.param(DINOv2ViTB14, 28, 768, marks=VIT_B)],
)
def test_random_weights_give_features_of_the_right_size(factory, size: int, dim: int) -> None:
    extractor = factory(pretrained=False, image_size=size).prepare(None, "cpu")
    features = extractor.features(images(3))
    assert features.shape == (3, dim) and features.dtype == torch.float32 and extractor.feature_dim == dim
    twin = factory(pretrained=False, image_size=size, seed=0)
    assert torch.equal(twin.features(images(3)), features)  # random weights come from the seed alone
    assert not torch.equal(factory(pretrained=False, image_size=size, seed=1).features(images(3)), features)


def test_conformance_with_random_weights() -> None:
    check_extractor(DINOv2ViTS14, pretrained=False, image_size=28)


@VIT_B
def test_clip_conformance_with_random_weights() -> None:
    check_extractor(CLIPViTB32, pretrained=False, image_size=32)


def test_clip_embeddings_have_512_dimensions_and_crop_non_square_inputs() -> None:
    extractor = CLIPViTB32(pretrained=False, image_size=32)
    assert extractor.features(images(2)).shape == (2, 512)
    wide = torch.rand(1, 3, 32, 48, generator=torch.Generator().manual_seed(1)) * 2 - 1
    assert extractor.preprocess(wide).shape == (1, 3, 32, 32)  # shorter side to 32, centre crop
    assert "centre crop" in extractor.preprocessing


def test_weights_file_in_ganforge_weights_is_loaded(tmp_path, monkeypatch) -> None:
    from safetensors.torch import save_file

    source = DINOv2ViTS14(pretrained=False, image_size=28, seed=3)
    folder = tmp_path / "weights"
    folder.mkdir()
    save_file({k: v.contiguous() for k, v in source.network.state_dict().items()}, folder / "vit_small_patch14_dinov2.lvd142m.safetensors")
    monkeypatch.setenv("GANFORGE_WEIGHTS", str(folder))
    loaded = DINOv2ViTS14(image_size=28)
    assert torch.equal(loaded.features(images(2)), source.features(images(2)))
    assert loaded.cache_key == source.cache_key
    explicit = DINOv2ViTS14(weights=str(folder), image_size=28)  # a folder holding the file works too
    assert explicit.cache_key == source.cache_key


def test_missing_weights_name_the_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GANFORGE_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(GanforgeError, match=r"vit_base_patch32_clip_224\.openai\.safetensors not found.*huggingface-cli download"):
        CLIPViTB32()


def pil_resized(image: torch.Tensor, size: int, crop: bool) -> torch.Tensor:
    from PIL import Image
    from torchvision import transforms

    pil = Image.fromarray(image.permute(1, 2, 0).numpy())
    steps = [transforms.Resize(size, interpolation=transforms.InterpolationMode.BICUBIC), transforms.CenterCrop(size)] if crop else [
        transforms.Resize((size, size), interpolation=transforms.InterpolationMode.BICUBIC)
    ]  # fmt: skip
    out = transforms.Compose(steps)(pil)
    return torch.from_numpy(np.array(out)).permute(2, 0, 1).float() / 255


# square images (both ways), and images whose resize changes one axis before the centre crop
@pytest.mark.parametrize(("height", "width", "size", "crop"), [(20, 20, 28, False), (32, 32, 224, False), (256, 256, 224, False), (32, 48, 32, True), (224, 300, 224, True), (64, 64, 224, True)])
def test_resize_is_pils(height: int, width: int, size: int, crop: bool) -> None:
    image = (torch.rand(3, height, width, generator=torch.Generator().manual_seed(height)) * 255).round().to(torch.uint8)
    ours = resize_like_pil(image[None].float() / 255, size, square=not crop)[0]
    theirs = pil_resized(image, size, crop)
    assert ours.shape == theirs.shape
    levels = (ours - theirs).abs() * 255
    assert float(levels.max()) <= 2.0 + 1e-4 and float((levels > 0.5).float().mean()) < 0.02  # PIL rounds in fixed point


def test_without_timm_the_message_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "timm", None)
    with pytest.raises(GanforgeError, match=r"needs timm.*ganforge\[vit\]"):
        DINOv2ViTS14(pretrained=False)
