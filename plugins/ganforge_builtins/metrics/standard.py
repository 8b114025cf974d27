"""Built-in metrics: FID, Inception Score, KID, improved precision/recall, and the
classification accuracy of conditional samples."""

from __future__ import annotations

from typing import Annotated, Any, Callable, Iterable, Iterator, TypeVar

import torch
from torch import Tensor

from ganforge import EvalContext, FeatureExtractor, Metric, MetricSubject, distributed, hookimpl
from ganforge.cache import cache_dir, dataset_key
from ganforge.errors import GanforgeError
from ganforge.interfaces.dataset import Dataset
from ganforge.provenance import extractor_provenance, file_digest
from ganforge.requirements import Need, needs_of
from ganforge.spec import build_component
from ganforge.types import PositiveInt, Range
from ganforge_builtins.stats import (
    FeatureStats,
    FrechetReference,
    RunningStats,
    inception_score,
    kernel_inception_distance,
    load_stats,
    precision_recall,
    save_stats,
)

#: sample counts a covariance or a k-NN radius needs at least two of.
AtLeastTwo = Annotated[int, Range(min=2)]

SMALL_IMAGE_SIZE = 32
T = TypeVar("T")


def build_extractor(name: str, **params: object) -> FeatureExtractor:
    """The registered extractor ``name`` built with ``params``, validated as in a spec (the
    builder passes built instances; names and ``{name: ..., params}`` mappings are accepted
    too, for metrics built by hand)."""
    from ganforge.plugins import get_plugins

    extractor: FeatureExtractor = build_component(get_plugins().registry, "extractor", {"name": name, **params})
    return extractor


def default_extractor_name(dataset: Dataset) -> str:
    """``classifier`` for labelled images up to 32×32 (Inception features mean little for
    them, and it runs offline), ``inception-v3`` otherwise."""
    small = len(dataset.image_shape) == 3 and max(dataset.image_shape[1:]) <= SMALL_IMAGE_SIZE
    return "classifier" if small and dataset.num_classes > 0 else "inception-v3"


def _features(extractor: FeatureExtractor, batches: Iterable[tuple[Tensor, Tensor | None]]) -> Iterator[Tensor]:
    for images, _ in batches:
        yield extractor.features(images)


def _gathered(context: EvalContext, rows: Iterable[Tensor]) -> Tensor:
    """Every process's rows, computed on its share of the samples, in sample order."""
    return context.gather(torch.cat(list(rows)))


class FeatureMetric(Metric):
    """Base of the metrics that compare extractor outputs: resolves and prepares the
    extractor once per device, and keeps real-data results across evaluations."""

    #: The extractor used when none is given (``None``: chosen for the dataset, see
    #: :func:`default_extractor_name`); ``ganforge list`` shows its requirements.
    default_extractor: str | None = None
    #: What the metric needs besides its extractor, in words (e.g. a conditional generator).
    needs: tuple[str, ...] = ()

    @classmethod
    def requirements(cls) -> list[Need]:
        """The default extractor's requirements (both candidates' when it depends on the
        dataset), and what else the metric needs."""
        from ganforge.plugins import get_plugins

        names = [cls.default_extractor] if cls.default_extractor else ["classifier", "inception-v3"]
        out = [Need(what) for what in cls.needs]
        if not cls.default_extractor:
            out.append(Need("an extractor: classifier for labelled images up to 32x32, else inception-v3"))
        for name in names:
            try:
                factory = get_plugins().registry.get("extractor", name).factory
            except Exception:  # noqa: BLE001 - the extractor's plugin is not installed
                out.append(Need(f"extractor {name}", lambda name=name: f"extractor {name} not registered"))
                continue
            if cls.default_extractor:
                out += [Need(f"{name}: {n.what}", n.missing) for n in needs_of(factory)]
            else:  # the classifier needs nothing: only larger images depend on these
                out += [Need(f"{name} (images over 32x32): {n.what} ({'missing now' if n.status() else 'found'})") for n in needs_of(factory)]
        return out

    def __init__(self, extractor: FeatureExtractor | str | dict | None) -> None:
        self._extractor_spec = extractor
        self._extractor: FeatureExtractor | None = extractor if isinstance(extractor, FeatureExtractor) else None
        self._prepared_on: torch.device | None = None
        self._real_cache: dict[tuple, Any] = {}

    def extractor(self, context: EvalContext) -> FeatureExtractor:
        """The extractor, built (by name, or chosen for the dataset when none was given) and
        prepared for the context's dataset and device."""
        if self._extractor is None:
            spec = self._extractor_spec
            if isinstance(spec, dict):
                params = dict(spec)
                self._extractor = build_extractor(params.pop("name"), **params)
            else:
                self._extractor = build_extractor(spec if isinstance(spec, str) else default_extractor_name(context.dataset))
        if self._prepared_on != torch.device(context.device):
            self._extractor.prepare(context.dataset, context.device)
            self._prepared_on = torch.device(context.device)
        return self._extractor

    def seen(self, dataset: Any) -> int:
        """``id(dataset)``, with the dataset kept alive while this metric is: a later dataset
        can never take over the id, and with it another dataset's cached statistics."""
        self._real_cache.setdefault(("dataset", id(dataset)), dataset)
        return id(dataset)

    def real_cached(self, key: tuple, compute: Callable[[], T]) -> T:
        """``compute()`` once per key (dataset, split, sizes, device), then reused."""
        if key not in self._real_cache:
            self._real_cache[key] = compute()
        return self._real_cache[key]

    def provenance(self, context: EvalContext) -> dict[str, Any]:
        """The default (class, parameters, version) plus the extractor (class, layers, weights
        digest, preprocessing) and the precision of the statistics."""
        out = super().provenance(context)
        given = self._extractor_spec  # the parameter as given (the attribute of its name is the method)
        out["params"]["extractor"] = given if given is None or isinstance(given, (str, dict)) else type(given).__name__
        return {**out, "extractor": extractor_provenance(self.extractor(context)), "statistics": "float64"}

    def dataset_reference(self, context: EvalContext, split: str, samples: int | None) -> dict[str, Any]:
        """The real samples a metric compares with: dataset key (name and contents digest), split, count."""
        key = self.real_cached(("key", self.seen(context.dataset), split), lambda: dataset_key(context.dataset, split))
        return {"dataset": key, "split": split, "samples": self.real_count(context, samples, split)}

    def real_count(self, context: EvalContext, samples: int | None, split: str) -> int:
        """``samples`` capped at the split's size (``None``: the whole split)."""
        total = self.real_cached(("size", self.seen(context.dataset), split), lambda: len(context.dataset.load(split)))
        return total if samples is None else min(samples, total)


class FID(FeatureMetric):
    """Fréchet Inception Distance between generated and real images' features (lower is better).

    The Fréchet distance between Gaussian fits of extractor features.
    Statistics are accumulated in float64; the distance is exact (see ``ganforge_builtins.stats``).
    Reference statistics are cached in memory and as ``.npz`` under ``$GANFORGE_CACHE/stats``,
    keyed by dataset contents, split, extractor weights and sample count.

    :param samples: number of generated samples.
    :param extractor: feature extractor; default ``classifier`` for labelled images up to
        32×32, ``inception-v3`` otherwise.
    :param reference: an ``.npz`` of reference statistics (pytorch-fid format) to use instead
        of the dataset.
    :param reference_split: dataset split the reference statistics come from.
    :param reference_samples: real samples for the reference; ``None`` takes the whole split.
    :param cache: keep reference statistics on disk.
    """

    higher_is_better = False

    def __init__(
        self,
        samples: AtLeastTwo = 10000,
        extractor: FeatureExtractor | str | None = None,
        reference: str | None = None,
        reference_split: str = "train",
        reference_samples: AtLeastTwo | None = None,
        cache: bool = True,
    ) -> None:
        super().__init__(extractor)
        self.samples = samples
        self.reference = reference
        self.reference_split = reference_split
        self.reference_samples = reference_samples
        self.cache = cache

    def reference_stats(self, context: EvalContext) -> FrechetReference:
        """The prepared reference (its √Σ is computed once and reused every evaluation)."""
        extractor = self.extractor(context)
        if self.reference is not None:
            return self.real_cached(("file", self.reference, str(context.device)), lambda: FrechetReference(load_stats(self.reference, context.device)))
        n = self.real_count(context, self.reference_samples, self.reference_split)
        key = (self.seen(context.dataset), self.reference_split, n, str(context.device))
        return self.real_cached(key, lambda: FrechetReference(self._dataset_stats(context, extractor, n)))

    def _dataset_stats(self, context: EvalContext, extractor: FeatureExtractor, n: int) -> FeatureStats:
        path = cache_dir("stats", f"{dataset_key(context.dataset, self.reference_split)}-{extractor.cache_key}-n{n}.npz")
        if distributed.broadcast_object(self.cache and path.is_file()):  # rank 0's view decides, for every process
            stats = load_stats(path, "cpu") if context.ranks.is_main else None
            return distributed.broadcast_object(stats).to(context.device)
        running = RunningStats(keep_features=n <= (extractor.feature_dim or n))
        for features in _features(extractor, context.real(n, self.reference_split, shard=True)):
            running.update(features)
        running.combine_processes(context.device)
        stats = running.finalize()
        if self.cache and context.ranks.is_main:
            save_stats(stats, path)
        return stats

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        reference = self.reference_stats(context)
        extractor = self.extractor(context)
        running = RunningStats(keep_features=self.samples <= (extractor.feature_dim or self.samples))
        for features in _features(extractor, context.generated(self.samples, shard=True)):
            running.update(features)
        running.combine_processes(context.device)
        return {"fid": reference.distance(running.finalize())}

    def provenance(self, context: EvalContext) -> dict[str, Any]:
        """Adds the generated sample count, the reference (``.npz`` and its digest, or the
        dataset split and count) and the Fréchet route of the last evaluation."""
        reference: dict[str, Any]
        if self.reference is not None:
            reference = {"npz": str(self.reference), "sha256": file_digest(self.reference)}
        else:
            reference = self.dataset_reference(context, self.reference_split, self.reference_samples)
        routes = {getattr(r, "last_route", None) for r in self._real_cache.values() if isinstance(r, FrechetReference)}
        return {**super().provenance(context), "samples": self.samples, "reference": reference, "route": sorted(r for r in routes if r)}


class InceptionScore(FeatureMetric):
    """Inception Score of generated images, mean and std over splits (higher is better).

    exp E KL(p(y|x) ‖ p(y)) over the softmax of the extractor's logits.

    :param samples: number of generated samples.
    :param splits: number of consecutive chunks the score is averaged over.
    :param extractor: extractor with a classification head; default as for FID.
    """

    higher_is_better = True

    def __init__(self, samples: PositiveInt = 10000, splits: PositiveInt = 10, extractor: FeatureExtractor | str | None = None) -> None:
        if samples < splits:
            raise ValueError(f"IS needs samples >= splits, got samples={samples}, splits={splits}")
        super().__init__(extractor)
        self.samples = samples
        self.splits = splits

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        extractor = self.extractor(context)
        logits = _gathered(context, (extractor.logits(images) for images, _ in context.generated(self.samples, shard=True)))
        mean, std = inception_score(logits, self.splits)
        return {"is": mean, "is_std": std}


class KID(FeatureMetric):
    """Kernel Inception Distance, mean and std over random subsets (lower is better).

    Unbiased MMD² between real and generated features with the kernel (xᵀy / d + 1)³.

    :param samples: number of generated samples.
    :param subsets: number of random subsets.
    :param subset_size: samples per subset (at most the smaller set's size).
    :param extractor: feature extractor; default as for FID.
    :param reference_split: dataset split of the real samples.
    :param reference_samples: real samples; ``None`` takes as many as ``samples``.
    """

    higher_is_better = False

    def __init__(
        self,
        samples: AtLeastTwo = 10000,
        subsets: PositiveInt = 100,
        subset_size: AtLeastTwo = 1000,
        extractor: FeatureExtractor | str | None = None,
        reference_split: str = "train",
        reference_samples: AtLeastTwo | None = None,
    ) -> None:
        super().__init__(extractor)
        self.samples, self.subsets, self.subset_size = samples, subsets, subset_size
        self.reference_split = reference_split
        self.reference_samples = reference_samples

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        extractor = self.extractor(context)
        n = self.real_count(context, self.reference_samples or self.samples, self.reference_split)
        real = self.real_cached(
            (id(context.dataset), self.reference_split, n, str(context.device)),
            lambda: _gathered(context, _features(extractor, context.real(n, self.reference_split, shard=True))),
        )
        fake = _gathered(context, _features(extractor, context.generated(self.samples, shard=True)))
        mean, std = kernel_inception_distance(real, fake, self.subsets, self.subset_size, seed=context.seed)
        return {"kid": mean, "kid_std": std}

    def provenance(self, context: EvalContext) -> dict[str, Any]:
        """Adds the sample counts and the real split."""
        reference = self.dataset_reference(context, self.reference_split, self.reference_samples or self.samples)
        return {**super().provenance(context), "reference": reference}


class NeighbourMetric(FeatureMetric):
    """A metric on k-NN neighbourhoods of ``samples`` real and generated feature vectors
    (precision/recall, density/coverage); subclasses set ``samples``, ``k``, ``reference_split``."""

    samples: int
    k: int
    reference_split: str

    def real_and_fake(self, context: EvalContext) -> tuple[Tensor, Tensor]:
        """Real features (cached per dataset, split, count and device) and generated ones,
        extracted on each process's share and gathered."""
        extractor = self.extractor(context)
        n = self.real_count(context, self.samples, self.reference_split)
        real = self.real_cached(
            (id(context.dataset), self.reference_split, n, str(context.device)),
            lambda: _gathered(context, _features(extractor, context.real(n, self.reference_split, shard=True))),
        )
        return real, _gathered(context, _features(extractor, context.generated(self.samples, shard=True)))

    def provenance(self, context: EvalContext) -> dict[str, Any]:
        """Adds the sample counts and the real split."""
        return {**super().provenance(context), "samples": self.samples, "reference": self.dataset_reference(context, self.reference_split, self.samples)}


class PrecisionRecall(NeighbourMetric):
    """Improved precision and recall of generated images (higher is better).

    Kynkäänniemi et al., 2019: k-NN manifold overlap of generated and real features;
    checkpoint selection uses precision, the first value.

    :param samples: number of generated samples, and of real ones.
    :param k: neighbour whose distance sets each sample's radius.
    :param extractor: feature extractor; default as for FID.
    :param reference_split: dataset split of the real samples.
    """

    higher_is_better = True

    def __init__(self, samples: AtLeastTwo = 5000, k: PositiveInt = 3, extractor: FeatureExtractor | str | None = None, reference_split: str = "train") -> None:
        if samples <= k:
            raise ValueError(f"precision/recall needs samples > k, got samples={samples}, k={k}")
        super().__init__(extractor)
        self.samples, self.k = samples, k
        self.reference_split = reference_split

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        precision, recall = precision_recall(*self.real_and_fake(context), self.k)
        return {"precision": precision, "recall": recall}


class ClassificationAccuracy(FeatureMetric):
    """Classification accuracy: share of conditional samples classified as the class asked for.

    Higher is better. Classes are requested in equal numbers. ``accuracy/real`` is the same
    classifier's accuracy on the real images of ``reference_split``: what a generator that
    draws exactly the data's distribution would score (a classifier that confuses some real
    classes caps it below 1; generated samples score above it only by being easier to tell
    apart than real ones).

    :param samples: number of generated samples.
    :param extractor: the classifier; by default the domain classifier trained on the dataset.
    :param reference_split: the labelled split ``accuracy/real`` is measured on; null for none.
    :param per_class: also log each class's share as ``accuracy/<class>`` (and ``accuracy/real/<class>``).
    """

    higher_is_better = True
    default_extractor = "classifier"
    needs = ("a conditional generator",)

    def __init__(
        self,
        samples: PositiveInt = 10000,
        extractor: FeatureExtractor | str | None = "classifier",
        reference_split: str | None = "test",
        per_class: bool = False,
    ) -> None:
        super().__init__(extractor)
        self.samples = samples
        self.reference_split = reference_split
        self.per_class = per_class

    @classmethod
    def check(cls, subject: MetricSubject) -> str | None:
        return None if subject.num_classes else "needs a conditional generator (one with num_classes); this one is unconditional"

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        if (unfit := self.check(MetricSubject.of(context.generator))) is not None:
            raise GanforgeError(f"metric 'accuracy' {unfit}")
        num_classes = context.generator.num_classes
        extractor = self.extractor(context)
        if extractor.num_classes != num_classes:
            raise GanforgeError(f"accuracy: the classifier knows {extractor.num_classes} classes, the generator {num_classes}")
        requested = torch.arange(self.samples) % num_classes
        correct, total = self._counts(context, extractor, num_classes, context.generated(self.samples, requested, shard=True))
        out = {"accuracy": float(correct.sum() / total.sum())}
        if self.per_class:
            out.update({f"accuracy/{c}": float(v) for c, v in enumerate(correct / total.clamp(min=1))})
        if self.reference_split is not None:
            split = self.reference_split
            real_correct, real_total = self.real_cached(
                ("accuracy", id(context.dataset), split, str(context.device)),
                lambda: self._counts(context, extractor, num_classes, self._labelled(context, split)),
            )
            out["accuracy/real"] = float(real_correct.sum() / real_total.sum())
            if self.per_class:
                out.update({f"accuracy/real/{c}": float(v) for c, v in enumerate(real_correct / real_total.clamp(min=1))})
        return out

    @staticmethod
    def _labelled(context: EvalContext, split: str) -> Iterator[tuple[Tensor, Tensor | None]]:
        if context.dataset.load(split).labels is None:
            raise GanforgeError(f"accuracy: the dataset's '{split}' split has no labels; set reference_split: null")
        return context.real(None, split, shard=True)

    @staticmethod
    def _counts(context: EvalContext, extractor: FeatureExtractor, num_classes: int, batches: Iterable[tuple[Tensor, Tensor | None]]) -> tuple[Tensor, Tensor]:
        """Per class: samples classified as their label, and samples (summed over processes)."""
        correct = torch.zeros(num_classes, dtype=torch.int64, device=context.device)
        total = torch.zeros(num_classes, dtype=torch.int64, device=context.device)
        for images, labels in batches:
            assert labels is not None
            labels = labels.to(context.device)
            hits = extractor.logits(images).argmax(dim=1).to(context.device) == labels
            correct += torch.bincount(labels[hits], minlength=num_classes)
            total += torch.bincount(labels, minlength=num_classes)
        return context.all_reduce_sum(correct).cpu().double(), context.all_reduce_sum(total).cpu().double()

    def provenance(self, context: EvalContext) -> dict[str, Any]:
        """Adds the real split ``accuracy/real`` comes from."""
        reference = None if self.reference_split is None else self.dataset_reference(context, self.reference_split, None)
        return {**super().provenance(context), "reference": reference}


@hookimpl
def register_metrics(register):
    register("fid", FID)
    register("is", InceptionScore)
    register("kid", KID)
    register("precision-recall", PrecisionRecall)
    register("accuracy", ClassificationAccuracy)
