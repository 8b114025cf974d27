"""The metric interface: a metric looks at a generator and its dataset and returns numbers."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

import torch
from torch import Tensor

from ganforge import distributed
from ganforge.distributed import Ranks
from ganforge.interfaces.dataset import Dataset, to_model_range
from ganforge.interfaces.networks import Generator, as_generated
from ganforge.interfaces.reading import ordered_batches
from ganforge.version import __version__


@dataclass
class EvalContext:
    """What a metric may use: the generator (the EMA copy when the run keeps one), in eval
    mode, the dataset, the device, and a seed so evaluations are repeatable.

    In a distributed run every process evaluates with its own context (``ranks``). A metric
    that does nothing special computes the same value on every process; one that asks for
    ``shard=True`` samples gets only its process's share of them, and combines what each
    process computed with :meth:`gather` (rows, in sample order) or :meth:`all_reduce_sum`.

    ``progress``, when set, is told after each batch a metric has consumed how far
    :meth:`generated` and :meth:`real` are: ``progress(what, done, total)`` with ``what``
    ``"generated"`` or ``"real <split>"`` (this process's share when sharded).
    """

    generator: Generator
    dataset: Dataset
    device: torch.device
    seed: int = 0
    batch_size: int = 250
    ranks: Ranks = field(default_factory=Ranks)
    progress: Callable[[str, int, int], None] | None = None
    #: DataLoader processes reading a streamed split's real samples (``data.workers``)
    workers: int = 0

    def generated(self, n: int, labels: Tensor | None = None, shard: bool = False) -> Iterator[tuple[Tensor, Tensor | None]]:
        """Yield ``(samples in [-1, 1], labels)`` batches, ``n`` samples in all, from a
        seeded generator. Conditional generators get ``labels`` or uniform random classes.
        With ``shard``, only this process's share ``ranks.shard(n)`` of those same samples."""
        rng = torch.Generator().manual_seed(self.seed)
        num_classes = self.generator.num_classes
        if num_classes and labels is None:
            labels = torch.randint(num_classes, (n,), generator=rng)
        share = self.ranks.shard(n) if shard else range(n)
        with torch.inference_mode():
            for start in range(0, n, self.batch_size):
                size = min(self.batch_size, n - start)
                z = self.generator.sample_latent(size, "cpu", rng)  # every batch's latents, to stay on the seeded stream
                first, stop = max(start, share.start), min(start + size, share.stop)
                if first >= stop:
                    continue
                z = z[first - start : stop - start].to(self.device)
                y = None if labels is None else labels[first:stop].to(self.device)
                yield as_generated(self.generator(z, y)).samples, y
                self._report("generated", stop - share.start, len(share))

    def real(self, n: int | None = None, split: str = "train", shard: bool = False) -> Iterator[tuple[Tensor, Tensor | None]]:
        """Yield ``(samples in [-1, 1], labels)`` batches of the first ``n`` real samples
        (with ``shard``, of this process's share of them). A streamed split is read through
        ``workers`` DataLoader processes, never held whole in memory."""
        data = self.dataset.load(split)
        total = len(data) if n is None else min(n, len(data))
        share = self.ranks.shard(total) if shard else range(total)
        done = 0
        for batch in ordered_batches(data, share, self.batch_size, self.workers):
            done += len(batch.samples)
            yield to_model_range(batch.samples.to(self.device)), None if batch.labels is None else batch.labels.to(self.device)
            self._report(f"real {split}", done, len(share))

    def _report(self, what: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(what, done, total)

    def gather(self, rows: Tensor) -> Tensor:
        """Every process's ``rows`` (dim 0) in rank order: from ``shard=True`` batches, all
        ``n`` samples' rows in sample order. The rows themselves in a single process."""
        return distributed.all_gather_rows(rows)

    def all_reduce_sum(self, tensor: Tensor) -> Tensor:
        """``tensor`` summed over the processes, in place (itself in a single process)."""
        return distributed.all_reduce_sum(tensor)


@dataclass(frozen=True)
class MetricSubject:
    """What a metric is asked to measure, as the spec says it before anything is built.

    The spec resolver makes one for each metric of a spec from the registered generator class
    and the resolved parameters (see :func:`~ganforge.interfaces.networks.declared`), and asks
    :meth:`Metric.check` about it; :meth:`of` makes one from a built generator.

    Attributes:
        generator: the generator's class name, as messages name it (``DCGANGenerator``).
        num_classes: the classes it is conditioned on (None or 0: unconditional): its
            ``num_classes`` constructor parameter, else its class's ``num_classes``.
        inputs: what it reads from each real batch (its class's ``inputs``): a dataset's named
            inputs, or ``real``, the samples themselves (an encoder).
        data: the spec's ``data:`` entry, resolved: ``name``, the dataset's parameters with
            their defaults, ``batch_size``...; empty for a subject made by :meth:`of`.
    """

    generator: str
    num_classes: int | None = None
    inputs: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, generator: Generator) -> MetricSubject:
        """The subject of a built generator (for :meth:`Metric.evaluate` and the conformance kit)."""
        return cls(type(generator).__name__, generator.num_classes, tuple(generator.inputs))


class Metric:
    """A quality measure of a generator.

    :meth:`evaluate` returns named values, e.g. ``{"fid": 12.3}``. ``higher_is_better``
    tells checkpoint selection which direction wins for the metric's first value.
    """

    higher_is_better: bool = False

    def evaluate(self, context: EvalContext) -> dict[str, float]:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def check(cls, subject: MetricSubject) -> str | None:
        """Why this metric cannot measure ``subject`` (e.g. "needs a conditional generator"),
        or None.

        A classmethod deciding from the subject alone: the spec resolver asks it of every
        metric of a spec before anything is built, so ``ganforge validate`` and the start of a
        run report it at the metric's line, not the first evaluation hours later. A metric
        used directly may ask it again in :meth:`evaluate`, of
        ``MetricSubject.of(context.generator)``."""
        return None

    def provenance(self, context: EvalContext) -> dict[str, Any]:
        """How this metric's values are computed, as a JSON-able dict (see
        :mod:`ganforge.provenance`); called after :meth:`evaluate` with the same context.

        The default names the metric's class, its constructor parameters (read from the
        attributes of the same names) and ganforge's version; metrics that use an
        extractor or a reference add them. Two values with different provenance are not
        comparable."""
        params: dict[str, Any] = {}
        for name in list(inspect.signature(type(self).__init__).parameters)[1:]:
            if hasattr(self, name):
                value = getattr(self, name)
                params[name] = value if isinstance(value, (str, int, float, bool, type(None), list, tuple, dict)) else type(value).__name__
        cls = type(self)
        return {"metric": f"{cls.__module__}.{cls.__qualname__}", "params": params, "ganforge_version": __version__}
