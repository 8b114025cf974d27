"""Metrics from recent evaluation research: density and coverage (Naeem et al., 2020),
intra-class FID for conditional generators (as StudioGAN defines it), per-class
diversity relative to real images, and CMMD
(Jayasumana et al., 2024)."""

from __future__ import annotations

from typing import Any, Iterable, Iterator

import torch
from torch import Tensor

from ganforge import EvalContext, FeatureExtractor, MetricSubject, hookimpl
from ganforge.errors import GanforgeError
from ganforge.types import PositiveInt
from ganforge_builtins.metrics.standard import AtLeastTwo, FeatureMetric, NeighbourMetric, _features, _gathered
from ganforge_builtins.stats import FeatureStats, FrechetReference, RunningStats, density_coverage, mmd_rbf

#: CMMD's kernel bandwidth and scale, from google-research/cmmd's distance.py.
CMMD_SIGMA = 10.0
CMMD_SCALE = 1000.0


class DensityCoverage(NeighbourMetric):
    """Density and coverage of generated images (Naeem et al., 2020; higher is better).

    Computed exactly as the authors' ``prdc`` package does (k-th nearest real neighbour
    radii, strict inequalities); checkpoint selection uses density, the first value.
    Features are extracted on each process's share and gathered.

    :param samples: number of generated samples, and of real ones.
    :param k: the neighbour whose distance sets each real sample's radius (the paper's 5).
    :param extractor: feature extractor; default as for FID (Stein et al. 2023 recommend
        DINOv2 features: ``dinov2-vitb14`` with the vit extra).
    :param reference_split: dataset split of the real samples.
    """

    higher_is_better = True

    def __init__(self, samples: PositiveInt = 5000, k: PositiveInt = 5, extractor: FeatureExtractor | str | None = None, reference_split: str = "train") -> None:
        if samples <= k:
            raise ValueError(f"density/coverage needs samples > k, got samples={samples}, k={k}")
        super().__init__(extractor)
        self.samples, self.k = samples, k
        self.reference_split = reference_split

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        density, coverage = density_coverage(*self.real_and_fake(context), self.k)
        return {"density": density, "coverage": coverage}


class IntraFID(FeatureMetric):
    """Intra-class FID of a conditional generator: the FID of each class, and their mean (lower is better).

    StudioGAN's definition: for every class, the Fréchet distance between features of
    samples generated for that class and of the real samples of that class; the value is
    the mean over classes (``intra-fid``). Classes are requested in equal numbers; the
    statistics are float64 and reduced over processes as FID's are.

    :param samples_per_class: generated samples per class.
    :param extractor: feature extractor; default as for FID.
    :param reference_split: dataset split of the real samples.
    :param reference_samples_per_class: real samples per class; ``None`` takes all of them.
    :param per_class: also log each class's value as ``intra-fid/<class>``.
    """

    higher_is_better = False
    needs = ("a conditional generator", "labelled data")
    metric_name = "intra-fid"

    def __init__(
        self,
        samples_per_class: AtLeastTwo = 1000,
        extractor: FeatureExtractor | str | None = None,
        reference_split: str = "train",
        reference_samples_per_class: AtLeastTwo | None = None,
        per_class: bool = False,
    ) -> None:
        super().__init__(extractor)
        self.samples_per_class = samples_per_class
        self.reference_split = reference_split
        self.reference_samples_per_class = reference_samples_per_class
        self.per_class = per_class

    @classmethod
    def check(cls, subject: MetricSubject) -> str | None:
        return None if subject.num_classes else "needs a conditional generator (one with num_classes); use 'fid' for an unconditional one"

    def _classes(self, context: EvalContext) -> int:
        if (unfit := self.check(MetricSubject.of(context.generator))) is not None:
            raise GanforgeError(f"metric '{self.metric_name}' {unfit}")
        num_classes = context.generator.num_classes
        labels = context.dataset.load(self.reference_split).labels
        if labels is None:
            raise GanforgeError(f"metric '{self.metric_name}' needs labelled data; the dataset's '{self.reference_split}' split has no labels")
        return num_classes

    def _class_stats(
        self, context: EvalContext, extractor: FeatureExtractor, num_classes: int, batches: Iterable[tuple[Tensor, Tensor | None]], counts: list[int]
    ) -> list[FeatureStats]:
        """Float64 statistics of each class's features (kept vectors where a class has at most
        ``feature_dim`` samples), reduced over processes class by class."""
        dim = extractor.feature_dim
        runs = [RunningStats(keep_features=dim is not None and counts[c] <= dim) for c in range(num_classes)]
        for images, labels in batches:
            assert labels is not None
            features = extractor.features(images)
            labels = labels.to(features.device)
            for c in labels.unique().tolist():
                runs[c].update(features[labels == c])
        for run in runs:  # every process reduces every class, in order
            run.combine_processes(context.device)
        return [run.finalize() for run in runs]

    def _reference(self, context: EvalContext, extractor: FeatureExtractor, num_classes: int) -> list[FrechetReference]:
        labels = context.dataset.load(self.reference_split).labels
        assert labels is not None
        cap = self.reference_samples_per_class
        selected = torch.cat([torch.nonzero(labels == c).flatten()[:cap] for c in range(num_classes)]).sort().values
        counts = torch.bincount(labels[selected], minlength=num_classes).tolist()
        if min(counts) < 2:
            missing = [c for c, n in enumerate(counts) if n < 2]
            raise GanforgeError(f"{self.metric_name}: classes {missing[:5]} have fewer than 2 real samples in split '{self.reference_split}'")
        data = context.dataset.load(self.reference_split)
        share = context.ranks.shard(len(selected))
        batch = context.batch_size

        def batches() -> Iterator[tuple[Tensor, Tensor]]:
            from ganforge.interfaces.dataset import to_model_range

            for start in range(share.start, share.stop, batch):
                index = selected[start : min(start + batch, share.stop)]
                yield to_model_range(data.samples[index].to(context.device)), labels[index].to(context.device)

        return [FrechetReference(s) for s in self._class_stats(context, extractor, num_classes, batches(), counts)]

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        num_classes = self._classes(context)
        extractor = self.extractor(context)
        references = self.real_cached(
            ("intra", id(context.dataset), self.reference_split, self.reference_samples_per_class, str(context.device)),
            lambda: self._reference(context, extractor, num_classes),
        )
        if len(references) != num_classes:
            raise GanforgeError(f"intra-fid: the generator has {num_classes} classes, the data {len(references)}")
        total = self.samples_per_class * num_classes
        requested = torch.arange(total) % num_classes
        generated = self._class_stats(context, extractor, num_classes, context.generated(total, requested, shard=True), [self.samples_per_class] * num_classes)
        values = [reference.distance(stats) for reference, stats in zip(references, generated)]
        out = {"intra-fid": sum(values) / num_classes}
        if self.per_class:
            out.update({f"intra-fid/{c}": v for c, v in enumerate(values)})
        return out

    def provenance(self, context: EvalContext) -> dict[str, Any]:
        """Adds the per-class sample counts and the real split."""
        reference = self.dataset_reference(context, self.reference_split, None)
        reference["samples_per_class"] = self.reference_samples_per_class
        return {**super().provenance(context), "samples_per_class": self.samples_per_class, "reference": reference}


class ClassDiversity(IntraFID):
    """Per-class diversity of a conditional generator relative to real images (1 = as real).

    Higher is more diverse; 1 is as diverse as the real class.

    For every class: the root-mean-square distance of features to their class mean,
    sqrt(trace Σ), for samples generated for that class, divided by the same for the real
    images of that class (by default the test split). ``class-diversity`` is the mean of the
    ratios over classes, ``class-diversity/min`` the least diverse class. A generator that
    draws one item per class scores near 0; read it beside accuracy, since scattered
    off-class samples also raise it.

    :param samples_per_class: generated samples per class.
    :param extractor: feature extractor; default as for FID (the domain classifier on 28×28 data).
    :param reference_split: dataset split of the real samples.
    :param reference_samples_per_class: real samples per class; ``None`` takes all of them.
    :param per_class: also log each class's ratio as ``class-diversity/<class>``.
    """

    higher_is_better = True
    metric_name = "class-diversity"

    def __init__(
        self,
        samples_per_class: AtLeastTwo = 1000,
        extractor: FeatureExtractor | str | None = None,
        reference_split: str = "test",
        reference_samples_per_class: AtLeastTwo | None = None,
        per_class: bool = False,
    ) -> None:
        super().__init__(samples_per_class, extractor, reference_split, reference_samples_per_class, per_class)

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        num_classes = self._classes(context)
        extractor = self.extractor(context)
        references = self.real_cached(
            ("intra", id(context.dataset), self.reference_split, self.reference_samples_per_class, str(context.device)),
            lambda: self._reference(context, extractor, num_classes),
        )
        if len(references) != num_classes:
            raise GanforgeError(f"class-diversity: the generator has {num_classes} classes, the data {len(references)}")
        total = self.samples_per_class * num_classes
        requested = torch.arange(total) % num_classes
        generated = self._class_stats(context, extractor, num_classes, context.generated(total, requested, shard=True), [self.samples_per_class] * num_classes)
        ratios = [
            float(torch.sqrt(torch.trace(fake.sigma) / torch.trace(real.stats.sigma)))
            for real, fake in zip(references, generated)
        ]  # fmt: skip
        out = {"class-diversity": sum(ratios) / num_classes, "class-diversity/min": min(ratios)}
        if self.per_class:
            out.update({f"class-diversity/{c}": v for c, v in enumerate(ratios)})
        return out


class CMMD(FeatureMetric):
    """CMMD: MMD² between CLIP embeddings of real and generated images, ×1000 (Jayasumana et al., 2024; lower is better).

    Gaussian RBF kernel with σ = 10 on L2-normalised embeddings, scaled by 1000, as
    google-research's ``cmmd`` computes it. Its ``distance.py`` uses the minimum-variance
    (biased, V-statistic) estimator, diagonals included: that is the default here, so values
    compare with published ones; ``unbiased: true`` gives the U-statistic. The paper's
    embedding is CLIP ViT-L/14 at 336 px; ``clip-vit-b32`` is the default extractor here.

    :param samples: number of generated samples.
    :param extractor: the embedding; default ``clip-vit-b32`` (needs the timm extra and weights).
    :param reference_split: dataset split of the real samples.
    :param reference_samples: real samples; ``None`` takes as many as ``samples``.
    :param unbiased: the unbiased estimator instead of the reference's biased one.
    :param normalise: L2-normalise the embeddings first, as the reference's CLIP does.
    """

    higher_is_better = False
    default_extractor = "clip-vit-b32"

    def __init__(
        self,
        samples: AtLeastTwo = 10000,
        extractor: FeatureExtractor | str | None = "clip-vit-b32",
        reference_split: str = "train",
        reference_samples: AtLeastTwo | None = None,
        unbiased: bool = False,
        normalise: bool = True,
    ) -> None:
        super().__init__(extractor)
        self.samples = samples
        self.reference_split = reference_split
        self.reference_samples = reference_samples
        self.unbiased = unbiased
        self.normalise = normalise

    def _embed(self, context: EvalContext, batches: Iterable[tuple[Tensor, Tensor | None]]) -> Tensor:
        rows = _gathered(context, _features(self.extractor(context), batches)).to(torch.float64)
        return torch.nn.functional.normalize(rows, dim=1) if self.normalise else rows

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        self.extractor(context)
        n = self.real_count(context, self.reference_samples or self.samples, self.reference_split)
        real = self.real_cached(
            ("cmmd", id(context.dataset), self.reference_split, n, str(context.device)),
            lambda: self._embed(context, context.real(n, self.reference_split, shard=True)),
        )
        fake = self._embed(context, context.generated(self.samples, shard=True))
        return {"cmmd": CMMD_SCALE * mmd_rbf(real, fake, CMMD_SIGMA, unbiased=self.unbiased)}

    def provenance(self, context: EvalContext) -> dict[str, Any]:
        """Adds the sample counts, the real split and the estimator."""
        reference = self.dataset_reference(context, self.reference_split, self.reference_samples or self.samples)
        estimator = "unbiased (U-statistic)" if self.unbiased else "biased (V-statistic, as google-research/cmmd)"
        return {**super().provenance(context), "samples": self.samples, "reference": reference, "kernel": f"rbf sigma={CMMD_SIGMA}", "estimator": estimator}


@hookimpl
def register_metrics(register):
    register("density-coverage", DensityCoverage)
    register("intra-fid", IntraFID)
    register("class-diversity", ClassDiversity)
    register("cmmd", CMMD)
