"""density-coverage, intra-fid, class-diversity and cmmd: each against an independent computation (a plain
numpy re-computation of the authors' formula, or their package when it is installed), their
errors, and distributed evaluation equal to one process."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge import EvalContext, distributed
from ganforge.errors import GanforgeError
from ganforge.testing import RandomFeatures, TinyGenerator, TinyImages, check_metric
from ganforge_builtins.data.synthetic import SyntheticImages
from ganforge_builtins.metrics.research import CMMD, ClassDiversity, DensityCoverage, IntraFID
from ganforge_builtins.stats import FeatureStats, density_coverage, frechet_distance, mmd_rbf

from .distributed_support import run_ranks
from .test_distributed_metrics import Projection


def clouds(n: int, m: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(np.float32), (rng.standard_normal((m, d)) * 1.2 + 0.3).astype(np.float32)


def numpy_density_coverage(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    """Naeem et al.'s definitions, written out with full distance matrices and a sort."""
    real, fake = real.astype(np.float64), fake.astype(np.float64)
    rr = np.sqrt(((real[:, None, :] - real[None, :, :]) ** 2).sum(-1))
    rf = np.sqrt(((real[:, None, :] - fake[None, :, :]) ** 2).sum(-1))
    radii = np.sort(rr, axis=1)[:, k]  # column 0 is the point itself
    density = (rf < radii[:, None]).sum(axis=0).mean() / k
    coverage = (rf.min(axis=1) < radii).mean()
    return float(density), float(coverage)


@pytest.mark.parametrize(("n", "m", "k"), [(60, 45, 5), (30, 80, 3)])
def test_density_coverage_match_a_numpy_recomputation(n: int, m: int, k: int) -> None:
    real, fake = clouds(n, m, 7, seed=n + m)
    ours = density_coverage(torch.from_numpy(real), torch.from_numpy(fake), k, chunk=16)
    expected = numpy_density_coverage(real, fake, k)
    assert ours[0] == pytest.approx(expected[0], rel=1e-12) and ours[1] == pytest.approx(expected[1], rel=1e-12)
    assert ours[0] > 0 and 0 < ours[1] <= 1


def test_density_coverage_match_the_authors_prdc_package() -> None:
    prdc = pytest.importorskip("prdc")
    real, fake = clouds(120, 100, 16, seed=3)
    theirs = prdc.compute_prdc(real_features=real, fake_features=fake, nearest_k=5)
    density, coverage = density_coverage(torch.from_numpy(real), torch.from_numpy(fake), 5)
    assert density == pytest.approx(float(theirs["density"]), rel=1e-9)
    assert coverage == pytest.approx(float(theirs["coverage"]), rel=1e-9)


def test_density_of_identical_sets_and_of_far_away_fakes() -> None:
    real, _ = clouds(50, 1, 4, seed=5)
    x = torch.from_numpy(real)
    density, coverage = density_coverage(x, x + 1000.0, 5)
    assert density == 0.0 and coverage == 0.0
    _, coverage_same = density_coverage(x, x, 5)
    assert coverage_same == 1.0  # each real point's nearest fake is itself, at distance 0 < radius


def numpy_mmd(x: np.ndarray, y: np.ndarray, sigma: float, unbiased: bool) -> float:
    def k(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / (2 * sigma**2))

    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    n, m = len(x), len(y)
    if unbiased:
        return float((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())
    return float(kxx.mean() + kyy.mean() - 2 * kxy.mean())


@pytest.mark.parametrize("unbiased", [False, True])
def test_rbf_mmd_matches_the_direct_formula(unbiased: bool) -> None:
    x, y = clouds(40, 33, 6, seed=11)
    x, y = x * 4, y * 4  # distances comparable to sigma
    ours = mmd_rbf(torch.from_numpy(x), torch.from_numpy(y), sigma=10.0, unbiased=unbiased, chunk=7)
    assert ours == pytest.approx(numpy_mmd(x.astype(np.float64), y.astype(np.float64), 10.0, unbiased), rel=1e-10)


def test_biased_mmd_of_a_set_with_itself_is_zero_and_unbiased_is_not() -> None:
    x, _ = clouds(30, 1, 5, seed=12)
    t = torch.from_numpy(x)
    assert abs(mmd_rbf(t, t)) < 1e-14
    assert mmd_rbf(t, t, unbiased=True) < 0  # the U-statistic of equal sets: 2(S - n)/(n(n-1)) - 2S/n² < 0


def context_for(generator, dataset, batch_size: int = 6, ranks: distributed.Ranks | None = None) -> EvalContext:
    return EvalContext(generator, dataset, torch.device("cpu"), seed=2, batch_size=batch_size, ranks=ranks or distributed.Ranks())


def test_cmmd_metric_is_1000_times_the_biased_mmd_of_normalised_embeddings() -> None:
    torch.manual_seed(0)
    dataset, extractor = TinyImages((1, 8, 8), size=40), RandomFeatures(12)
    context = context_for(TinyGenerator((1, 8, 8)).eval(), dataset)
    value = CMMD(samples=30, extractor=extractor).evaluate(context)["cmmd"]
    real = torch.cat([extractor.features(x) for x, _ in context.real(30)]).double()
    fake = torch.cat([extractor.features(x) for x, _ in context.generated(30)]).double()
    real, fake = real / real.norm(dim=1, keepdim=True), fake / fake.norm(dim=1, keepdim=True)
    assert value == pytest.approx(1000 * numpy_mmd(real.numpy(), fake.numpy(), 10.0, unbiased=False), rel=1e-9)
    assert value > 0


def test_density_coverage_metric_uses_real_and_generated_features() -> None:
    torch.manual_seed(0)
    dataset, extractor = TinyImages((1, 8, 8), size=40), RandomFeatures(6)
    context = context_for(TinyGenerator((1, 8, 8)).eval(), dataset)
    values = DensityCoverage(samples=30, extractor=extractor).evaluate(context)
    real = torch.cat([extractor.features(x) for x, _ in context.real(30)])
    fake = torch.cat([extractor.features(x) for x, _ in context.generated(30)])
    expected = numpy_density_coverage(real.numpy(), fake.numpy(), 5)
    assert (values["density"], values["coverage"]) == pytest.approx(expected, rel=1e-12)


def test_intra_fid_is_the_mean_of_per_class_fids() -> None:
    torch.manual_seed(0)
    classes = 3
    dataset = SyntheticImages(image_size=8, size=60, num_classes=classes)
    generator = TinyGenerator((1, 8, 8), num_classes=classes).eval()
    extractor = RandomFeatures(5)
    context = context_for(generator, dataset)
    values = IntraFID(samples_per_class=20, extractor=extractor, per_class=True).evaluate(context)
    data = dataset.load("train")
    from ganforge.interfaces.dataset import to_model_range

    expected = []
    requested = torch.arange(20 * classes) % classes
    fake_batches = list(context.generated(20 * classes, requested))
    fake = torch.cat([extractor.features(x) for x, _ in fake_batches])
    fake_labels = torch.cat([y for _, y in fake_batches])
    for c in range(classes):
        real = extractor.features(to_model_range(data.samples[data.labels == c]))
        expected.append(frechet_distance(FeatureStats.from_features(real), FeatureStats.from_features(fake[fake_labels == c])))
    # features here come from other batch cuts (float32), so the last bits may differ
    assert [values[f"intra-fid/{c}"] for c in range(classes)] == pytest.approx(expected, rel=1e-6)
    assert values["intra-fid"] == pytest.approx(sum(expected) / classes, rel=1e-6)


def test_class_diversity_is_the_spread_of_each_class_relative_to_real() -> None:
    torch.manual_seed(0)
    classes = 3
    dataset = SyntheticImages(image_size=8, size=60, num_classes=classes)
    generator = TinyGenerator((1, 8, 8), num_classes=classes).eval()
    extractor = RandomFeatures(5)
    context = context_for(generator, dataset)
    values = ClassDiversity(samples_per_class=20, extractor=extractor, per_class=True).evaluate(context)
    from ganforge.interfaces.dataset import to_model_range

    data = dataset.load("test")
    batches = list(context.generated(20 * classes, torch.arange(20 * classes) % classes))
    fake = torch.cat([extractor.features(x) for x, _ in batches]).double()
    fake_labels = torch.cat([y for _, y in batches])

    def rms_to_mean(rows: torch.Tensor) -> float:  # sqrt of the mean squared distance to the mean, unbiased
        return math.sqrt(float(((rows - rows.mean(0)) ** 2).sum()) / (len(rows) - 1))

    expected = [
        rms_to_mean(fake[fake_labels == c]) / rms_to_mean(extractor.features(to_model_range(data.samples[data.labels == c])).double())
        for c in range(classes)
    ]
    assert [values[f"class-diversity/{c}"] for c in range(classes)] == pytest.approx(expected, rel=1e-6)
    assert values["class-diversity"] == pytest.approx(sum(expected) / classes, rel=1e-6)
    assert values["class-diversity/min"] == pytest.approx(min(expected), rel=1e-6)


def test_class_diversity_of_a_generator_with_one_image_per_class_is_zero() -> None:
    class OnePerClass(TinyGenerator):
        def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
            assert labels is not None
            return (labels.float() / 3 - 0.5).view(-1, 1, 1, 1).expand(-1, 1, 8, 8)

    context = context_for(OnePerClass((1, 8, 8), num_classes=3).eval(), SyntheticImages(image_size=8, size=60, num_classes=3))
    values = ClassDiversity(samples_per_class=10, extractor=RandomFeatures(5)).evaluate(context)
    assert values["class-diversity"] == pytest.approx(0.0, abs=1e-6)
    unconditional = context_for(TinyGenerator((1, 8, 8)).eval(), SyntheticImages(image_size=8, size=20, num_classes=2))
    with pytest.raises(GanforgeError, match="'class-diversity' needs a conditional generator"):
        ClassDiversity(samples_per_class=4, extractor=RandomFeatures(4)).evaluate(unconditional)


def test_intra_fid_needs_a_conditional_generator_and_labels() -> None:
    unconditional = context_for(TinyGenerator((1, 8, 8)).eval(), SyntheticImages(image_size=8, size=20, num_classes=2))
    with pytest.raises(GanforgeError, match="needs a conditional generator"):
        IntraFID(samples_per_class=4, extractor=RandomFeatures(4)).evaluate(unconditional)
    unlabelled = context_for(TinyGenerator((1, 8, 8), num_classes=2).eval(), SyntheticImages(image_size=8, size=20))
    with pytest.raises(GanforgeError, match="needs labelled data"):
        IntraFID(samples_per_class=4, extractor=RandomFeatures(4)).evaluate(unlabelled)


def test_conformance() -> None:
    check_metric(DensityCoverage, samples=32, extractor=RandomFeatures())
    check_metric(CMMD, samples=32, extractor=RandomFeatures())
    from ganforge.testing import Setup

    check_metric(IntraFID, setup=Setup(num_classes=4), samples_per_class=8, extractor=RandomFeatures())
    check_metric(ClassDiversity, setup=Setup(num_classes=4), samples_per_class=8, extractor=RandomFeatures())


SAMPLES = 37


def evaluate_research(ranks: distributed.Ranks) -> dict[str, float]:
    torch.manual_seed(0)
    generator = TinyGenerator((1, 8, 8), num_classes=3).eval()
    context = EvalContext(generator, SyntheticImages(image_size=8, size=45, num_classes=3), torch.device("cpu"), seed=4, batch_size=5, ranks=ranks)
    values: dict[str, float] = {}
    for metric in (
        DensityCoverage(samples=SAMPLES, extractor=Projection(6)),
        CMMD(samples=SAMPLES, extractor=Projection(6)),
        IntraFID(samples_per_class=13, extractor=Projection(6), per_class=True),  # n > d per class
        IntraFID(samples_per_class=13, extractor=Projection(24)),  # n < d per class: kept vectors, gathered
    ):
        for name, value in metric.evaluate(context).items():
            values[f"{type(metric).__name__}.{metric.extractor(context).feature_dim}.{name}"] = value
    return values


def research_worker(rank: int, out: Path) -> None:
    ranks, _ = distributed.init_from_env(torch.device("cpu"))
    values = evaluate_research(ranks)
    if ranks.is_main:
        (out / "values.json").write_text(json.dumps(values))
    distributed.shutdown()


def test_distributed_research_metrics_equal_single_process(tmp_path: Path) -> None:
    run_ranks(2, research_worker, tmp_path)
    single = evaluate_research(distributed.Ranks())
    both = json.loads((tmp_path / "values.json").read_text())
    assert both.keys() == single.keys() and len(single) == 8
    for name, value in single.items():
        assert math.isclose(both[name], value, rel_tol=1e-5, abs_tol=1e-7), (name, both[name], value)


def test_default_provenance_names_the_metric_its_parameters_and_the_version() -> None:
    from ganforge import Metric, __version__

    class Constant(Metric):
        def __init__(self, value: float = 1.5, extractor: object = None) -> None:
            self.value, self.extractor = value, RandomFeatures()

        def evaluate(self, context: EvalContext) -> dict[str, float]:
            return {"constant": self.value}

    context = context_for(TinyGenerator((1, 8, 8)).eval(), TinyImages((1, 8, 8), size=8))
    entry = Constant(2.5).provenance(context)
    assert entry["params"] == {"value": 2.5, "extractor": "RandomFeatures"} and entry["ganforge_version"] == __version__
    assert entry["metric"].endswith("Constant")


def test_fid_provenance_names_its_npz_reference_and_route(tmp_path) -> None:
    from ganforge.provenance import file_digest
    from ganforge_builtins.metrics.standard import FID
    from ganforge_builtins.stats import save_stats

    torch.manual_seed(0)
    dataset, extractor = TinyImages((1, 8, 8), size=40), RandomFeatures(6)
    context = context_for(TinyGenerator((1, 8, 8)).eval(), dataset)
    real = torch.cat([extractor.features(x) for x, _ in context.real(40)])
    save_stats(FeatureStats.from_features(real), tmp_path / "ref.npz")
    metric = FID(samples=30, extractor=extractor, reference=str(tmp_path / "ref.npz"))
    metric.evaluate(context)
    entry = metric.provenance(context)
    assert entry["reference"] == {"npz": str(tmp_path / "ref.npz"), "sha256": file_digest(tmp_path / "ref.npz")}
    assert entry["route"] == ["cholesky"] and entry["samples"] == 30 and entry["statistics"] == "float64"
    assert entry["extractor"]["feature_dim"] == 6


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_frechet_distance_on_the_gpu_equals_the_cpu_value() -> None:
    from ganforge_builtins.stats import FrechetReference

    g = torch.Generator().manual_seed(30)
    a, b = (FeatureStats.from_features(torch.randn(600, 256, generator=g) @ torch.randn(256, 256, generator=g) / 16 + s) for s in (0.0, 0.2))
    cpu = FrechetReference(a).distance(b)
    gpu = FrechetReference(a.to("cuda")).distance(b.to("cuda"))
    assert gpu == pytest.approx(cpu, rel=1e-10)
