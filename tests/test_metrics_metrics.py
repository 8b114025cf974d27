"""The metric components on a synthetic dataset, with tiny extractors and fake generators."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from ganforge import Dataset, DataSplit, EvalContext, Generator
from ganforge.distributed import Ranks
from ganforge.errors import GanforgeError
from ganforge.hook_extractor import HookExtractor
from ganforge.spec import build_component
from ganforge.spec.resolve import SpecErrors
from ganforge_builtins.data.synthetic import SyntheticImages
from ganforge_builtins.metrics.standard import FID, KID, ClassificationAccuracy, InceptionScore, PrecisionRecall, default_extractor_name
from ganforge_builtins.stats import load_stats


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


class CountingExtractor(HookExtractor):
    """A tiny random convolutional extractor that counts the images it sees."""

    def __init__(self, channels: int = 1, classes: int = 4) -> None:
        torch.manual_seed(0)
        network = nn.Sequential(nn.Conv2d(channels, 8, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, classes))
        super().__init__(network, ["1"])
        self.num_classes = classes
        self.seen = 0

    def preprocess(self, images: Tensor) -> Tensor:
        self.seen += images.shape[0]
        return super().preprocess(images)


class ReplayGenerator(Generator):
    """'Generates' real images of a split (in [-1, 1]): a perfect generator."""

    def __init__(self, dataset: SyntheticImages, split: str = "test") -> None:
        super().__init__()
        self.images = dataset.load(split).samples.float() / 127.5 - 1
        self.latent_dim = 1
        self.image_shape = dataset.image_shape

    def sample_latent(self, n, device="cpu", generator=None) -> Tensor:
        return torch.randint(len(self.images), (n, 1), generator=generator).float().to(device)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.images.to(z.device)[z[:, 0].long()]


class NoiseGenerator(Generator):
    """Uniform noise: a hopeless generator."""

    def __init__(self, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.latent_dim = 4
        self.image_shape = image_shape

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        g = torch.Generator().manual_seed(int(z.abs().sum() * 1000) % 2**31)
        return torch.rand(z.shape[0], *self.image_shape, generator=g).to(z.device) * 2 - 1


def context(generator: Generator, dataset, seed: int = 0) -> EvalContext:
    return EvalContext(generator, dataset, torch.device("cpu"), seed=seed, batch_size=64)


@pytest.fixture
def dataset() -> SyntheticImages:
    return SyntheticImages(image_size=16, channels=1, size=300, num_classes=4)


def test_fid_ranks_a_perfect_generator_far_below_noise(dataset, private_cache) -> None:
    extractor = CountingExtractor()
    metric = FID(samples=200, extractor=extractor, reference_samples=300)
    good = metric.evaluate(context(ReplayGenerator(dataset), dataset))["fid"]
    bad = metric.evaluate(context(NoiseGenerator(dataset.image_shape), dataset))["fid"]
    assert 0 <= good < 0.05 * bad
    assert extractor.seen == 300 + 200 + 200  # the reference was extracted once
    assert len(list((private_cache / "stats").glob("*.npz"))) == 1


def test_fid_reuses_cached_reference_statistics_from_disk(dataset, private_cache) -> None:
    first = FID(samples=50, extractor=CountingExtractor(), reference_samples=100)
    value = first.evaluate(context(ReplayGenerator(dataset), dataset))["fid"]
    again = CountingExtractor()
    second = FID(samples=50, extractor=again, reference_samples=100)
    assert second.evaluate(context(ReplayGenerator(dataset), dataset))["fid"] == pytest.approx(value, rel=1e-12)
    assert again.seen == 50
    (path,) = (private_cache / "stats").glob("*.npz")
    assert "synthetic" in path.name and "-train-" in path.name and path.name.endswith("-n100.npz")


def test_fid_against_an_npz_reference(dataset, tmp_path) -> None:
    metric = FID(samples=60, extractor=CountingExtractor(), reference_samples=120, cache=True)
    expected = metric.evaluate(context(NoiseGenerator(dataset.image_shape), dataset))["fid"]
    (path,) = (tmp_path / "cache" / "stats").glob("*.npz")
    from_file = FID(samples=60, extractor=CountingExtractor(), reference=str(path))
    assert from_file.evaluate(context(NoiseGenerator(dataset.image_shape), dataset))["fid"] == pytest.approx(expected, rel=1e-12)
    assert load_stats(path).n == 120


def test_fid_is_repeatable_for_a_seed(dataset) -> None:
    metric = FID(samples=40, extractor=CountingExtractor(), reference_samples=80, cache=False)
    ctx = context(NoiseGenerator(dataset.image_shape), dataset)
    assert metric.evaluate(ctx) == metric.evaluate(ctx)


def test_inception_score_kid_and_precision_recall_run_on_the_extractor(dataset) -> None:
    extractor = CountingExtractor()
    is_values = InceptionScore(samples=40, splits=4, extractor=extractor).evaluate(context(ReplayGenerator(dataset), dataset))
    assert set(is_values) == {"is", "is_std"} and 1.0 <= is_values["is"] <= 4.0
    good = KID(samples=150, subsets=5, subset_size=100, extractor=extractor).evaluate(context(ReplayGenerator(dataset), dataset))
    bad = KID(samples=150, subsets=5, subset_size=100, extractor=extractor).evaluate(context(NoiseGenerator((1, 16, 16)), dataset))
    assert good["kid"] < 0.05 * bad["kid"]
    pr = PrecisionRecall(samples=100, extractor=extractor).evaluate(context(NoiseGenerator((1, 16, 16)), dataset))
    assert set(pr) == {"precision", "recall"} and all(0.0 <= v <= 1.0 for v in pr.values())
    assert InceptionScore.higher_is_better and PrecisionRecall.higher_is_better and not KID.higher_is_better and not FID.higher_is_better


class LabelPainter(Generator):
    """A conditional generator that paints the requested class as the image's brightness."""

    def __init__(self, num_classes: int, obey: bool = True) -> None:
        super().__init__()
        self.latent_dim, self.image_shape, self.num_classes, self.obey = 2, (1, 8, 8), num_classes, obey

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        assert labels is not None
        shown = labels if self.obey else torch.zeros_like(labels)
        return (shown.float() / (self.num_classes - 1) * 2 - 1).view(-1, 1, 1, 1).expand(-1, 1, 8, 8)


class BrightnessReader(nn.Module):
    """Logits peaking at the class whose brightness the image has."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.levels = nn.Parameter(torch.linspace(-1, 1, num_classes), requires_grad=False)
        self.pool = nn.Flatten()

    def forward(self, x: Tensor) -> Tensor:
        return -(self.pool(x).mean(dim=1, keepdim=True) - self.levels).square()


class PaintedClasses(Dataset):
    """8x8 images painted with their class's brightness (as LabelPainter paints them); in the
    test split the last ``mislabelled`` images of class 3 carry label 0."""

    image_shape = (1, 8, 8)
    class_names = ("a", "b", "c", "d")

    def __init__(self, mislabelled: int = 0) -> None:
        self.mislabelled = mislabelled

    def load(self, split: str = "train") -> DataSplit:
        labels = torch.arange(40) % 4
        images = (labels.float() / 3 * 255).round().to(torch.uint8).view(-1, 1, 1, 1).expand(-1, 1, 8, 8).clone()
        if split == "test" and self.mislabelled:
            labels[torch.nonzero(labels == 3).flatten()[-self.mislabelled :]] = 0
        return DataSplit(images, labels)


def test_accuracy_is_the_share_of_samples_of_the_requested_class() -> None:
    reader = HookExtractor(BrightnessReader(4), ["pool"])
    reader.num_classes = 4
    data = PaintedClasses()
    metric = ClassificationAccuracy(samples=100, extractor=reader)
    assert metric.evaluate(context(LabelPainter(4), data)) == {"accuracy": 1.0, "accuracy/real": 1.0}
    assert metric.evaluate(context(LabelPainter(4, obey=False), data))["accuracy"] == 0.25
    with pytest.raises(GanforgeError, match="conditional generator"):
        metric.evaluate(context(NoiseGenerator((1, 8, 8)), data))


def test_accuracy_reports_the_classifiers_accuracy_on_real_images_per_class() -> None:
    """accuracy/real is measured on the reference split's real images: 4 of class 3's 10
    test images carry label 0, so the classifier is right on 36 of 40 (on 10 of class 0's 14)."""
    reader = HookExtractor(BrightnessReader(4), ["pool"])
    reader.num_classes = 4
    values = ClassificationAccuracy(samples=100, extractor=reader, per_class=True).evaluate(context(LabelPainter(4), PaintedClasses(4)))
    assert values["accuracy"] == 1.0 and values["accuracy/3"] == 1.0
    assert values["accuracy/real"] == 36 / 40
    assert [values[f"accuracy/real/{c}"] for c in range(4)] == [10 / 14, 1.0, 1.0, 1.0]  # class 0 got the 4 strays
    provenance = ClassificationAccuracy(samples=100, extractor=reader).provenance(context(LabelPainter(4), PaintedClasses(4)))
    assert provenance["params"]["extractor"] == "HookExtractor" and provenance["reference"]["split"] == "test"
    without = ClassificationAccuracy(samples=100, extractor=reader, reference_split=None).evaluate(context(LabelPainter(4), PaintedClasses(4)))
    assert without == {"accuracy": 1.0}
    with pytest.raises(GanforgeError, match="no labels; set reference_split: null"):
        ClassificationAccuracy(samples=8, extractor=reader).evaluate(context(LabelPainter(4), Unlabelled()))


class Unlabelled(PaintedClasses):
    def load(self, split: str = "train") -> DataSplit:
        return DataSplit(super().load(split).samples)


def test_small_labelled_images_default_to_the_classifier() -> None:
    assert default_extractor_name(SyntheticImages(image_size=28, num_classes=10)) == "classifier"
    assert default_extractor_name(SyntheticImages(image_size=32, channels=3, num_classes=10)) == "classifier"
    assert default_extractor_name(SyntheticImages(image_size=28, num_classes=0)) == "inception-v3"
    assert default_extractor_name(SyntheticImages(image_size=64, num_classes=10)) == "inception-v3"


@pytest.mark.parametrize("value", [{"samples": 1}, {"reference_samples": 1}])
def test_fid_rejects_bad_sample_counts(value, plugins) -> None:
    with pytest.raises(SpecErrors, match=">= 2"):
        build_component(plugins.registry, "metric", {"name": "fid", **value})


def test_context_reports_how_far_sampling_is(dataset) -> None:
    seen: list[tuple[str, int, int]] = []
    ctx = EvalContext(NoiseGenerator((1, 16, 16)), dataset, torch.device("cpu"), batch_size=4, progress=lambda *a: seen.append(a))
    assert sum(x.shape[0] for x, _ in ctx.generated(10)) == 10
    assert sum(x.shape[0] for x, _ in ctx.real(6, "test")) == 6
    assert seen == [("generated", 4, 10), ("generated", 8, 10), ("generated", 10, 10), ("real test", 4, 6), ("real test", 6, 6)]
    seen.clear()
    ctx.ranks = Ranks(rank=1, world_size=2)  # rank 1's share of 10 is samples 5..9: counted from its own start
    assert sum(x.shape[0] for x, _ in ctx.generated(10, shard=True)) == 5
    assert seen == [("generated", 3, 5), ("generated", 5, 5)]
