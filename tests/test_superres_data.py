"""Super-resolution data: aligned (lr, hr) pairs, fresh seeded augmented training crops at every
draw (resumable), centre-cropped test pairs, image folders of any size, and scikit-image's photos split by whole image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from PIL import Image

from ganforge.errors import GanforgeError
from ganforge.interfaces.dataset import Split
from ganforge.interfaces.reading import sample_generator
from ganforge.spec import build_component
from ganforge.spec.resolve import SpecErrors
from ganforge.testing import TinyImages
from ganforge.training.batches import BatchStream, permutation
from ganforge_builtins.superres.data import SuperResolution, bicubic_downsample


def drawn(split: Split, epoch: int | None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Every pair of ``split`` as training draws them in ``epoch`` (None: without a generator)."""
    pairs = [split.get(i, None if epoch is None else sample_generator(seed, epoch, i)) for i in range(len(split))]
    return torch.stack([p.image for p in pairs]), torch.stack([p.inputs["lr"] for p in pairs])


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("split", ["train", "test"])
def test_downsampling_the_target_gives_the_input(scale: int, split: str) -> None:
    data = SuperResolution(dataset=TinyImages((3, 32, 32), size=6), hr_size=16, scale=scale, crops=3).load(split)
    hr, lr = drawn(data, 0 if split == "train" else None)
    assert hr.dtype == lr.dtype == torch.uint8 and data.labels is None
    assert tuple(hr.shape[1:]) == (3, 16, 16) and tuple(lr.shape[1:]) == (3, 16 // scale, 16 // scale)
    assert len(hr) == (18 if split == "train" else 6) and data.augments == (split == "train")
    # torch's antialiased bicubic, written out here, and PIL's (an independent implementation of the same filter)
    expected = F.interpolate(hr.float(), scale_factor=1 / scale, mode="bicubic", antialias=True).round().clamp(0, 255).to(torch.uint8)
    assert torch.equal(lr, expected)
    for image, low in zip(hr, lr):  # PIL rounds to 8 bits between its two 1-D passes: a level or so apart
        pil = Image.fromarray(np.ascontiguousarray(image.permute(1, 2, 0).numpy())).resize((16 // scale, 16 // scale), Image.Resampling.BICUBIC)
        difference = (torch.from_numpy(np.array(pil)).permute(2, 0, 1).int() - low.int()).abs()
        assert int(difference.max()) <= 3 and float(difference.float().mean()) < 0.3


def _transforms(patch: torch.Tensor) -> list[tuple[bool, int, torch.Tensor]]:
    return [(flip, k, torch.rot90(patch.flip(-1) if flip else patch, k, dims=(1, 2))) for flip in (False, True) for k in range(4)]


def _one(image: torch.Tensor) -> TinyImages:
    class One(TinyImages):
        def load(self, split: str = "train"):  # type: ignore[no-untyped-def]
            return super().load(split).__class__(image.clone())

    return One((1, 20, 20))


def test_training_crops_are_fresh_seeded_windows_flipped_and_rotated_at_every_draw() -> None:
    image = torch.randint(0, 256, (1, 1, 20, 20), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    pairs = SuperResolution(dataset=_one(image), hr_size=8, scale=2, crops=40, seed=3).load("train")
    crops, _ = drawn(pairs, epoch=0)
    seen = set()
    for crop in crops:
        found = [
            (flip, k) for top in range(13) for left in range(13)
            for flip, k, t in _transforms(image[0, :, top : top + 8, left : left + 8]) if torch.equal(t, crop)
        ]  # fmt: skip
        assert found, "a training crop is not a window of the image under a flip/rotation"
        seen.update(found)
    assert {flip for flip, _ in seen} == {False, True} and {k for _, k in seen} == {0, 1, 2, 3}
    again = SuperResolution(dataset=_one(image), hr_size=8, scale=2, crops=40, seed=3).load("train")
    assert torch.equal(drawn(again, epoch=0)[0], crops)  # the same (seed, epoch, index): the same crop
    different = [not torch.equal(a, b) for a, b in zip(drawn(pairs, epoch=1)[0], crops)]
    assert sum(different) > 30, "the next epoch draws other crops"
    other_seed = SuperResolution(dataset=_one(image), hr_size=8, scale=2, crops=40, seed=4).load("train")
    assert not torch.equal(drawn(other_seed, epoch=0)[0], crops)
    assert torch.equal(drawn(pairs, None)[0][0], image[0, :, 6:14, 6:14])  # no generator: the centre, deterministic


def test_sr_crops_differ_between_epochs_and_repeat_in_a_resumed_stream() -> None:
    """Through the trainer's batch stream with two workers: a stream started at (epoch 1, batch 2),
    as a resumed run starts, sees the crops the straight stream sees; epoch 1 is not epoch 0 again."""
    pairs = SuperResolution(dataset=TinyImages((3, 32, 32), size=4), hr_size=16, scale=2, crops=3).load("train")
    cpu = torch.device("cpu")
    straight = BatchStream(pairs, 4, cpu, seed=7, workers=2)  # 12 pairs: 3 batches an epoch
    batches = [next(straight) for _ in range(6)]
    resumed = BatchStream(pairs, 4, cpu, seed=7, epoch=1, batch=2, workers=1)
    for expected in batches[5:]:
        got = next(resumed)
        assert torch.equal(got.samples, expected.samples) and torch.equal(got.inputs["lr"], expected.inputs["lr"])
    by_index = {}
    for epoch, chunk in ((0, batches[:3]), (1, batches[3:])):
        order = permutation(7, epoch, 12)
        for position, sample in enumerate(torch.cat([b.samples for b in chunk])):
            by_index.setdefault(int(order[position]), []).append(sample)
    assert all(not torch.equal(a, b) for a, b in by_index.values()), "an index drew the same crop in two epochs"


def test_test_split_is_the_centre_crops() -> None:
    tiny = TinyImages((3, 32, 32), size=5)
    hr, lr = drawn(SuperResolution(dataset=tiny, hr_size=20, scale=4).load("test"), epoch=0)  # even with a generator
    assert torch.equal(hr, TF.center_crop(tiny.load("test").samples, [20, 20]))
    assert torch.equal(lr, bicubic_downsample(hr, 4))


def test_an_image_folder_of_any_sizes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for name, (h, w) in {"a.png": (20, 33), "b.jpg": (40, 24)}.items():
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(tmp_path / name)
    hr, lr = drawn(SuperResolution(root=str(tmp_path), hr_size=16, scale=2, crops=4, channels=1).load("train"), epoch=0)
    assert tuple(hr.shape) == (8, 1, 16, 16) and tuple(lr.shape) == (8, 1, 8, 8)
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
        ({"hr_size": 18, "scale": 4}, "multiple of scale"),
        ({"hr_size": 64}, "smaller than hr_size"),
    ],
)
def test_bad_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SuperResolution(dataset=TinyImages((3, 32, 32)), **kwargs)
    with pytest.raises(ValueError, match="exactly one"):
        SuperResolution()


@pytest.mark.parametrize(("params", "message"), [({"scale": 3}, "expected 2 | 4, got 3"), ({"crops": 0}, "expected int >= 1, got 0")])
def test_values_outside_their_hints_are_refused_before_building(params: dict, message: str, plugins) -> None:
    fragment = {"name": "super-resolution", "dataset": {"name": "synthetic", "image_size": 32, "channels": 3}, "hr_size": 16, **params}
    with pytest.raises(SpecErrors, match=message):
        build_component(plugins.registry, "dataset", fragment)


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
    assert tuple(pairs.get(0).inputs["lr"].shape) == (3, 8, 8)
