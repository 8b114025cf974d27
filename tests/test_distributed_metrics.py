"""Distributed evaluation on CPU with gloo and 2 processes: each process extracts features for
its share of the samples, statistics are reduced (float64) or rows gathered, and FID, IS, KID
and precision/recall equal the single-process values on the same samples."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import Tensor

from ganforge import EvalContext, FeatureExtractor, distributed
from ganforge_builtins.data.synthetic import SyntheticImages
from ganforge_builtins.metrics.standard import FID, KID, InceptionScore, PrecisionRecall
from ganforge_builtins.stats import RunningStats

from .distributed_support import run_ranks
from .test_distributed import MLPGenerator

SAMPLES = 37  # odd, and cut by batches of 5: shares end mid-batch


class Projection(FeatureExtractor):
    """Fixed random projection features (tanh) and logits: a cheap, deterministic extractor."""

    def __init__(self, dim: int, classes: int = 4, pixels: int = 64) -> None:
        super().__init__()
        weights = torch.Generator().manual_seed(dim)
        self.register_buffer("w", torch.randn(pixels, dim, generator=weights))
        self.register_buffer("v", torch.randn(pixels, classes, generator=weights))
        self.feature_dim, self.num_classes = dim, classes

    def features(self, images: Tensor) -> Tensor:
        return torch.tanh(images.flatten(1) @ self.w / 8)

    def logits(self, images: Tensor) -> Tensor:
        return images.flatten(1) @ self.v / 8


def evaluate_all(ranks: distributed.Ranks) -> dict[str, float]:
    torch.manual_seed(0)
    generator = MLPGenerator((1, 8, 8)).eval()
    context = EvalContext(generator, SyntheticImages(image_size=8, size=29), torch.device("cpu"), seed=4, batch_size=5, ranks=ranks)
    values: dict[str, float] = {}
    for metric in (
        FID(samples=SAMPLES, extractor=Projection(6), cache=False),  # n > d: full covariance route
        FID(samples=SAMPLES, extractor=Projection(48), cache=False),  # n < d: low-rank route from the kept features
        InceptionScore(samples=SAMPLES, splits=3, extractor=Projection(6)),
        KID(samples=SAMPLES, subsets=5, subset_size=10, extractor=Projection(6)),
        PrecisionRecall(samples=SAMPLES, k=3, extractor=Projection(6)),
    ):
        for name, value in metric.evaluate(context).items():
            values[f"{type(metric).__name__}.{metric.extractor(context).feature_dim}.{name}"] = value
    return values


def feature_statistics(features: Tensor, ranks: distributed.Ranks) -> tuple[Tensor, Tensor, Tensor]:
    """Mean and covariance of this rank's share of ``features``, combined over the ranks, and the gathered rows."""
    running = RunningStats(keep_features=True)
    share = features[ranks.shard(len(features)).start : ranks.shard(len(features)).stop]
    for chunk in share.split(4):
        running.update(chunk)
    running.combine_processes("cpu")
    stats = running.finalize()
    assert stats.features is not None
    return stats.mu, stats.sigma, stats.features


def random_features() -> Tensor:
    return torch.randn(SAMPLES, 5, generator=torch.Generator().manual_seed(1)) * 3 + 100  # a large mean: shifts matter


def worker(rank: int, out: Path) -> None:
    ranks, _ = distributed.init_from_env(torch.device("cpu"))
    assert ranks == distributed.Ranks(rank, 2, rank)
    mu, sigma, rows = feature_statistics(random_features(), ranks)
    values = evaluate_all(ranks)
    if ranks.is_main:
        torch.save({"mu": mu, "sigma": sigma, "rows": rows}, out / "stats.pt")
        (out / "values.json").write_text(json.dumps(values))
    distributed.shutdown()


def test_distributed_statistics_and_metrics_equal_single_process(tmp_path: Path) -> None:
    run_ranks(2, worker, tmp_path)
    features = random_features()
    stats = torch.load(tmp_path / "stats.pt")
    assert torch.equal(stats["rows"], features)  # gathered in sample order
    torch.testing.assert_close(stats["mu"], features.double().mean(0), rtol=1e-13, atol=0)
    torch.testing.assert_close(stats["sigma"], torch.cov(features.double().T), rtol=1e-10, atol=1e-12)
    single = evaluate_all(distributed.Ranks())
    both = json.loads((tmp_path / "values.json").read_text())
    assert both.keys() == single.keys() and len(single) == 8
    for name, value in single.items():
        # the generator ran on other batch cuts (float32), so its samples may differ in the last bits
        assert math.isclose(both[name], value, rel_tol=1e-5, abs_tol=1e-7), (name, both[name], value)
