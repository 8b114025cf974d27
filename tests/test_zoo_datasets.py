"""Zoo datasets: CIFAR-10 pickle batches, image folders, toy 2-D mixtures, and the mode-coverage metric."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge import EvalContext, Generator
from ganforge.errors import GanforgeError
from ganforge.interfaces.reading import hold_in_memory
from ganforge.plugins import Plugins
from ganforge_builtins.data.cifar10 import BATCHES, CIFAR10
from ganforge_builtins.data.idx import FashionMNIST
from ganforge_builtins.data.image_folder import ImageFolder
from ganforge_builtins.data.toy2d import Grid, Ring
from ganforge_builtins.metrics.mode_coverage import ModeCoverage, mode_statistics

# ---- CIFAR-10 ---------------------------------------------------------------------------------


def write_cifar(folder, per_batch: int = 3, str_keys: bool = False) -> None:
    folder.mkdir(parents=True)
    for split, names in BATCHES.items():
        for i, name in enumerate(names):
            data = np.zeros((per_batch, 3072), dtype=np.uint8)
            data[:, :1024] = 10 * i + 1  # red plane
            data[:, 1024:2048] = 200  # green plane
            data[:, 0] = np.arange(per_batch)  # top-left red pixel numbers the image
            labels = [(i + j) % 10 for j in range(per_batch)]
            content = {b"data": data, b"labels": labels, b"batch_label": name.encode()}
            if str_keys:
                content = {k.decode(): v for k, v in content.items()}
            with open(folder / name, "wb") as f:
                pickle.dump(content, f)


@pytest.mark.parametrize("str_keys", [False, True])
def test_cifar10_reads_python_batches(tmp_path, str_keys):
    write_cifar(tmp_path / "cifar-10-batches-py", str_keys=str_keys)
    dataset = CIFAR10(root=str(tmp_path), download=False)
    assert dataset.image_shape == (3, 32, 32) and dataset.num_classes == 10 and dataset.class_names[0] == "airplane"
    train, test = dataset.load("train"), dataset.load("test")
    assert train.samples.shape == (15, 3, 32, 32) and train.samples.dtype == torch.uint8
    assert test.samples.shape == (3, 3, 32, 32)
    assert train.labels.dtype == torch.int64 and train.labels.tolist()[:4] == [0, 1, 2, 1]
    # channel-major rows: the first 1024 bytes are the red plane, row by row
    assert train.samples[3, 0, 0, 1].item() == 11 and train.samples[3, 1, 5, 5].item() == 200
    assert train.samples[:3, 0, 0, 0].tolist() == [0, 1, 2]


def test_cifar10_missing_or_broken_files_are_reported(tmp_path):
    with pytest.raises(GanforgeError, match="not found; looked in .*cifar-10-batches-py"):
        CIFAR10(root=str(tmp_path), download=False).load("train")
    write_cifar(tmp_path / "cifar-10-batches-py")
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(GanforgeError, match="test_batch: not a CIFAR-10 python batch"):
        CIFAR10(root=str(tmp_path), download=False).load("test")
    with pytest.raises(GanforgeError, match="splits"):
        CIFAR10(root=str(tmp_path), download=False).load("valid")


# ---- image folder -----------------------------------------------------------------------------


def write_png(path, width: int, height: int, colour=(255, 0, 0)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), colour).save(path)


def test_image_folder_with_class_subfolders(tmp_path):
    write_png(tmp_path / "zebra" / "a.png", 20, 30, (0, 0, 255))
    write_png(tmp_path / "cat" / "one.png", 16, 16)
    write_png(tmp_path / "cat" / "deeper" / "two.jpg", 40, 10)
    (tmp_path / "empty").mkdir()
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    dataset = ImageFolder(str(tmp_path), image_size=8)
    assert dataset.class_names == ("cat", "zebra") and dataset.num_classes == 2
    data = hold_in_memory(dataset.load())
    assert data.samples.shape == (3, 3, 8, 8) and data.samples.dtype == torch.uint8
    assert data.labels.tolist() == [0, 0, 1]
    assert data.samples[2, 2].float().mean() > 250 and data.samples[2, 0].float().mean() < 5  # the blue zebra


def test_image_folder_centre_crops_after_resizing(tmp_path):
    image = Image.new("RGB", (60, 10), (255, 0, 0))
    image.paste((0, 255, 0), (20, 0, 40, 10))  # a green middle third
    image.save(tmp_path / "wide.png")
    samples = hold_in_memory(ImageFolder(str(tmp_path), image_size=8).load()).samples
    assert samples.shape == (1, 3, 8, 8)
    assert samples[0, 1].min() >= 250 and samples[0, 0].max() <= 5, "only the green middle survives the crop"


def test_unlabelled_greyscale_image_folder(tmp_path):
    for i in range(4):
        write_png(tmp_path / f"{i}.png", 12, 12, (255, 255, 255))
    dataset = ImageFolder(str(tmp_path), image_size=6, channels=1)
    data = hold_in_memory(dataset.load("test"))
    assert dataset.class_names == () and data.labels is None
    assert data.samples.shape == (4, 1, 6, 6) and data.samples.min() == 255


def test_image_folder_errors(tmp_path):
    with pytest.raises(GanforgeError, match="does not exist"):
        ImageFolder(str(tmp_path / "nowhere"))
    with pytest.raises(GanforgeError, match="no images"):
        ImageFolder(str(tmp_path))
    write_png(tmp_path / "cls" / "a.png", 8, 8)
    write_png(tmp_path / "loose.png", 8, 8)
    with pytest.raises(GanforgeError, match="loose images"):
        ImageFolder(str(tmp_path))
    (tmp_path / "loose.png").unlink()
    (tmp_path / "cls" / "broken.png").write_bytes(b"\x89PNG but not really")
    with pytest.raises(GanforgeError, match="broken.png: cannot read"):
        hold_in_memory(ImageFolder(str(tmp_path)).load())
    with pytest.raises(ValueError, match="channels"):
        ImageFolder(str(tmp_path), channels=4)


# ---- toy mixtures and mode coverage -----------------------------------------------------------

HIGH_QUALITY_2D = 1 - math.exp(-4.5)  # P(|x - mu| <= 3 sigma) for an isotropic 2-D Gaussian


def test_ring_and_grid_geometry():
    ring, grid = Ring(), Grid()
    assert ring.image_shape == (2,) and ring.num_classes == 0 and ring.class_names == ()
    assert ring.mode_centers.shape == (8, 2) and grid.mode_centers.shape == (25, 2)
    assert ring.mode_centers.norm(dim=1).tolist() == pytest.approx([0.8] * 8)
    assert ring.mode_std == pytest.approx(0.02 * 0.8 / 2.0)
    assert sorted(set(grid.mode_centers[:, 0].tolist())) == pytest.approx([-0.8, -0.4, 0.0, 0.4, 0.8])
    assert grid.mode_std == pytest.approx(0.05 * 0.8 / 4.0)
    raw = Ring(normalise=False)
    assert raw.mode_centers.norm(dim=1).tolist() == pytest.approx([2.0] * 8) and raw.mode_std == 0.02
    assert Grid(normalise=False).mode_centers.abs().max() == 4.0


def test_unnormalised_mixture_picture_fits_its_extent(tmp_path):
    ring = Ring(normalise=False)
    ring.save_samples(torch.tensor([[2.0, 0.0]]), tmp_path / "raw.png")
    picture = np.asarray(Image.open(tmp_path / "raw.png").convert("RGB")).astype(int)
    blue = (picture[..., 2] > 150) & (picture[..., 0] < 80)
    rows, cols = np.nonzero(blue)
    assert rows.min() >= 126 and rows.max() <= 129 and cols.min() >= 228 and cols.max() <= 231  # x = 0.8 of the canvas


@pytest.mark.parametrize("dataset", [Ring(size=20_000), Grid(size=20_000)], ids=["ring", "grid"])
def test_real_mixture_samples_cover_every_mode(dataset):
    data = dataset.load("train")
    assert data.samples.shape == (20_000, 2) and data.samples.dtype == torch.float32 and data.labels is None
    assert data.samples.abs().max() < 1
    assert not torch.equal(data.samples[:100], dataset.load("test").samples[:100])
    stats = mode_statistics(data.samples, dataset.mode_centers, dataset.mode_std)
    assert stats["modes"] == len(dataset.mode_centers)
    assert stats["high_quality"] == pytest.approx(HIGH_QUALITY_2D, abs=0.003)
    assert stats["mode_kl"] < 0.01


def test_mode_statistics_on_collapsed_and_bad_samples():
    ring = Ring()
    collapsed = ring.mode_centers[2].repeat(100, 1)
    stats = mode_statistics(collapsed, ring.mode_centers, ring.mode_std)
    assert stats == {"modes": 1.0, "high_quality": 1.0, "mode_kl": pytest.approx(math.log(8))}
    between = (ring.mode_centers[:4] + ring.mode_centers[1:5]) / 2  # half-way between neighbours
    assert mode_statistics(between, ring.mode_centers, ring.mode_std)["high_quality"] == 0.0
    two_modes = torch.cat([ring.mode_centers[:1].repeat(5, 1), ring.mode_centers[1:2].repeat(1, 1)])
    assert mode_statistics(two_modes, ring.mode_centers, ring.mode_std, min_samples=2)["modes"] == 1.0


class ModeSampler(Generator):
    """A 'generator' that emits the mode centres of its mixture, uniformly at random."""

    def __init__(self, centers: torch.Tensor, only: int | None = None) -> None:
        super().__init__()
        self.latent_dim, self.image_shape, self.centers, self.only = 1, (2,), centers, only

    def forward(self, z, labels=None):
        index = (z[:, 0].abs() * 1000).long() % len(self.centers)
        return self.centers[index if self.only is None else torch.full_like(index, self.only)]


def test_mode_coverage_metric_through_the_eval_context():
    grid = Grid()
    metric = ModeCoverage(num_samples=1000)
    full = metric.evaluate(EvalContext(ModeSampler(grid.mode_centers), grid, torch.device("cpu")))
    assert full["modes"] == 25 and full["high_quality"] == 1.0
    collapsed = metric.evaluate(EvalContext(ModeSampler(grid.mode_centers, only=3), grid, torch.device("cpu")))
    assert collapsed["modes"] == 1 and collapsed["mode_kl"] == pytest.approx(math.log(25))
    with pytest.raises(GanforgeError, match="mode-coverage needs a Gaussian-mixture dataset"):
        metric.evaluate(EvalContext(ModeSampler(grid.mode_centers), FashionMNIST(), torch.device("cpu")))


def test_toy_sample_picture_is_a_scatter_plot(tmp_path):
    ring = Ring()
    points = torch.tensor([[0.0, 0.0], [0.5, -0.5], [3.0, 3.0]])  # the last one is off the canvas
    path = tmp_path / "samples.png"
    ring.save_samples(points, path)
    picture = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert picture.shape == (256, 256, 3)
    blue = (picture[..., 2] > 150) & (picture[..., 0] < 80)
    assert blue[127:130, 127:130].any() and blue[190:194, 190:194].any() and blue.sum() <= 8
    pink = (picture[..., 0] > 240) & (picture[..., 1] < 220)
    right_mode = (127, round((0.8 + 1) / 2 * 255))  # (row, col) of the mode at angle 0
    assert pink[right_mode] and pink.sum() > 8 * 9
    assert (picture[0, 0] == 255).all()


def test_dataset_metadata():
    registry = Plugins.create().registry
    assert {"cifar10", "image-folder", "ring", "grid"} <= set(registry.names("dataset"))
    assert "mode-coverage" in registry.names("metric")
    assert FashionMNIST().class_names == (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    )  # fmt: skip
    assert FashionMNIST().num_classes == 10 and FashionMNIST().image_shape == (1, 28, 28)
