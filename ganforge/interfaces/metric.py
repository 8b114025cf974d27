"""The metric interface: a metric looks at a generator and its dataset and returns numbers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch
from torch import Tensor

from ganforge.interfaces.dataset import Dataset, to_model_range
from ganforge.interfaces.networks import Generator


@dataclass
class EvalContext:
    """What a metric may use: the generator (the EMA copy when the run keeps one), in eval
    mode, the dataset, the device, and a seed so evaluations are repeatable."""

    generator: Generator
    dataset: Dataset
    device: torch.device
    seed: int = 0
    batch_size: int = 250

    def generated(self, n: int, labels: Tensor | None = None) -> Iterator[tuple[Tensor, Tensor | None]]:
        """Yield ``(samples in [-1, 1], labels)`` batches, ``n`` samples in all, from a
        seeded generator. Conditional generators get ``labels`` or uniform random classes."""
        rng = torch.Generator().manual_seed(self.seed)
        num_classes = self.generator.num_classes
        if num_classes and labels is None:
            labels = torch.randint(num_classes, (n,), generator=rng)
        with torch.inference_mode():
            for start in range(0, n, self.batch_size):
                size = min(self.batch_size, n - start)
                z = self.generator.sample_latent(size, "cpu", rng).to(self.device)
                y = None if labels is None else labels[start : start + size].to(self.device)
                yield self.generator(z, y), y

    def real(self, n: int | None = None, split: str = "train") -> Iterator[tuple[Tensor, Tensor | None]]:
        """Yield ``(samples in [-1, 1], labels)`` batches of the first ``n`` real samples."""
        data = self.dataset.load(split)
        total = len(data) if n is None else min(n, len(data))
        for start in range(0, total, self.batch_size):
            stop = min(start + self.batch_size, total)
            x = to_model_range(data.samples[start:stop].to(self.device))
            y = None if data.labels is None else data.labels[start:stop].to(self.device)
            yield x, y


class Metric:
    """A quality measure of a generator.

    :meth:`evaluate` returns named values, e.g. ``{"fid": 12.3}``. ``higher_is_better``
    tells checkpoint selection which direction wins for the metric's first value.
    """

    higher_is_better: bool = False

    def evaluate(self, context: EvalContext) -> dict[str, float]:  # pragma: no cover
        raise NotImplementedError
