"""Super-resolution data: aligned (lr, hr) pairs, seeded augmented training crops, centre-cropped
test pairs, image folders of any size, and scikit-image's photos split by whole image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from PIL import Image

from ganforge.errors import GanforgeError
from ganforge.testing import TinyImages
from ganforge_builtins.superres.data import SuperResolution, bicubic_downsample


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("split", ["train", "test"])
def test_downsampling_the_target_gives_the_input(scale: int, split: str) -> None:
    data = SuperResolution(dataset=TinyImages((3, 32, 32), size=6), hr_size=16, scale=scale, crops=3).load(split)
    hr, lr = data.samples, data.inputs["lr"]
    assert hr.dtype == lr.dtype == torch.uint8 and data.labels is None
    assert tuple(hr.shape[1:]) == (3, 16, 16) and tuple(lr.shape[1:]) == (3, 16 // scale, 16 // scale)
    assert len(hr) == (18 if split == "train" else 6)
    # torch's antialiased bicubic, written out here, and PIL's (an independent implementation of the same filter)
    expected = F.interpolate(hr.float(), scale_factor=1 / scale, mode="bicubic", antialias=True).round().clamp(0, 255).to(torch.uint8)
    assert torch.equal(lr, expected)
    for image, low in zip(hr, lr):  # PIL rounds to 8 bits between its two 1-D passes: a level or so apart
        pil = Image.fromarray(np.ascontiguousarray(image.permute(1, 2, 0).numpy())).resize((16 // scale, 16 // scale), Image.Resampling.BICUBIC)
        difference = (torch.from_numpy(np.array(pil)).permute(2, 0, 1).int() - low.int()).abs()
        assert int(difference.max()) <= 3 and float(difference.float().mean()) < 0.3


def _transforms(patch: torch.Tensor) -> list[tuple[bool, int, torch.Tensor]]:
    return [(flip, k, torch.rot90(patch.flip(-1) if flip else patch, k, dims=(1, 2))) for flip in (False, True) for k in range(4)]


def test_training_crops_are_seeded_windows_flipped_and_rotated() -> None:
    image = torch.randint(0, 256, (1, 1, 20, 20), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)

    class One(TinyImages):
        def load(self, split: str = "train"):  # type: ignore[no-untyped-def]
            return super().load(split).__class__(image.clone())

    pairs = SuperResolution(dataset=One((1, 20, 20)), hr_size=8, scale=2, crops=40, seed=3)
    crops = pairs.load("train").samples
    seen = set()
    for crop in crops:
        found = [
            (flip, k) for top in range(13) for left in range(13)
            for flip, k, t in _transforms(image[0, :, top : top + 8, left : left + 8]) if torch.equal(t, crop)
        ]  # fmt: skip
        assert found, "a training crop is not a window of the image under a flip/rotation"
        seen.update(found)
    assert {flip for flip, _ in seen} == {False, True} and {k for _, k in seen} == {0, 1, 2, 3}
    assert torch.equal(SuperResolution(dataset=One((1, 20, 20)), hr_size=8, scale=2, crops=40, seed=3).load("train").samples, crops)
    assert not torch.equal(SuperResolution(dataset=One((1, 20, 20)), hr_size=8, scale=2, crops=40, seed=4).load("train").samples, crops)


def test_test_split_is_the_centre_crops() -> None:
    tiny = TinyImages((3, 32, 32), size=5)
    data = SuperResolution(dataset=tiny, hr_size=20, scale=4).load("test")
    assert torch.equal(data.samples, TF.center_crop(tiny.load("test").samples, [20, 20]))
    assert torch.equal(data.inputs["lr"], bicubic_downsample(data.samples, 4))


def test_an_image_folder_of_any_sizes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for name, (h, w) in {"a.png": (20, 33), "b.jpg": (40, 24)}.items():
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(tmp_path / name)
    data = SuperResolution(root=str(tmp_path), hr_size=16, scale=2, crops=4, channels=1).load("train")
    assert tuple(data.samples.shape) == (8, 1, 16, 16) and tuple(data.inputs["lr"].shape) == (8, 1, 8, 8)
    (tmp_path / "broken.png").write_text("not an image")
    with pytest.raises(GanforgeError, match="broken.png: cannot read the image"):
        SuperResolution(root=str(tmp_path), hr_size=16, scale=2).load("test")
    (tmp_path / "broken.png").unlink()
    with pytest.raises(GanforgeError, match="a.png is smaller than hr_size=24"):
        SuperResolution(root=str(tmp_path), hr_size=24, scale=2).load("test")
    with pytest.raises(GanforgeError, match="does not exist"):
        SuperResolution(root=str(tmp_path / "nowhere"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hr_size": 16, "scale": 3}, "scale must be 2 or 4"),
        ({"hr_size": 18, "scale": 4}, "multiple of scale"),
        ({"hr_size": 64}, "smaller than hr_size"),
        ({"hr_size": 16, "crops": 0}, "crops must be"),
    ],
)
def test_bad_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SuperResolution(dataset=TinyImages((3, 32, 32)), **kwargs)
    with pytest.raises(ValueError, match="exactly one"):
        SuperResolution()


def test_skimage_photos_split_whole_photos() -> None:
    pytest.importorskip("skimage")
    from ganforge_builtins.data.skimage_photos import SkimagePhotos, tiles

    grid = torch.arange(2 * 5 * 7).view(2, 5, 7)
    assert tiles(grid, 2).shape == (6, 2, 2, 2) and torch.equal(tiles(grid, 2)[0], grid[:, 0:2, 0:2])
    for channels in (1, 3):
        photos = SkimagePhotos(tile=64, channels=channels)
        assert not set(photos.names("train")) & set(photos.names("test"))
        train, test = photos.load("train"), photos.load("test")
        assert train.samples.shape[1:] == test.samples.shape[1:] == (channels, 64, 64)
        assert len(train) > len(test) > 10
        # no test tile appears in the training split
        train_rows = {bytes(t.numpy()) for t in train.samples}
        assert not any(bytes(t.numpy()) in train_rows for t in test.samples)
    pairs = SuperResolution(dataset=SkimagePhotos(tile=64), hr_size=32, scale=4, crops=1).load("test")
    assert tuple(pairs.inputs["lr"].shape[1:]) == (3, 8, 8)
