"""Batches from an in-memory split: a seeded permutation per epoch, resumable at any batch,
shared out among the processes of a distributed run."""

from __future__ import annotations

from typing import Iterator, NamedTuple

import torch
from torch import Tensor

from ganforge.errors import GanforgeError
from ganforge.interfaces.dataset import DataSplit, to_model_range
from ganforge.interfaces.networks import Generator


def check_inputs(generator: Generator, split: DataSplit, generator_owner: str, dataset_owner: str) -> None:
    """Every input the generator reads (``Generator.inputs``) must be one the dataset yields,
    of the shape the generator declares in ``input_shapes`` when it declares one."""
    missing = [name for name in generator.inputs if name != "real" and name not in split.inputs]
    if missing:
        raise GanforgeError(
            f"{generator_owner} reads input '{missing[0]}', which {dataset_owner} does not provide "
            f"(it provides: {', '.join(split.inputs) or 'no named inputs'})"
        )
    for name in generator.inputs:
        wanted = generator.input_shapes.get(name)
        given = tuple(split.inputs[name].shape[1:]) if name in split.inputs else None
        if wanted is not None and given is not None and given != tuple(wanted):
            raise GanforgeError(
                f"{generator_owner} reads input '{name}' of shape {tuple(wanted)}, but {dataset_owner} gives {given}; "
                "make their settings agree (e.g. the same scale for generator and data)"
            )


class RealBatch(NamedTuple):
    """One batch of training data on the device: samples in [-1, 1], labels, named inputs."""

    samples: Tensor
    labels: Tensor | None
    inputs: dict[str, Tensor]


class BatchStream:
    """Endless :class:`RealBatch` batches on ``device``, dropping each epoch's
    incomplete last batch. The order of epoch ``e`` depends only on ``(seed, e)``, so a resumed
    run that starts at ``(epoch, batch)`` sees exactly the batches the uninterrupted run saw.

    With ``world_size`` processes this is a distributed sampler: ``batch_size`` is the global
    batch, every process draws the same permutation (per-epoch shuffling) and yields its
    ``rank``-th contiguous share of each global batch, so together the processes see exactly
    the batches one process would."""

    def __init__(
        self, split: DataSplit, batch_size: int, device: torch.device, seed: int, epoch: int = 0, batch: int = 0,
        rank: int = 0, world_size: int = 1,
    ) -> None:  # fmt: skip
        if len(split) < batch_size:
            raise GanforgeError(f"the dataset has {len(split)} samples, fewer than data.batch_size={batch_size}")
        # uint8 images are small: keep them on the device once instead of copying every batch.
        self.samples = split.samples.to(device)
        self.labels = None if split.labels is None else split.labels.to(device)
        self.inputs = {name: tensor.to(device) for name, tensor in split.inputs.items()}
        self.batch_size = batch_size
        self.batches_per_epoch = len(split) // batch_size
        self.seed = seed
        self.epoch = epoch
        self.batch = batch
        self._order = self._permutation(epoch)
        share = batch_size // world_size
        self._first, self._stop = rank * share, (rank + 1) * share

    def _permutation(self, epoch: int) -> Tensor:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        return torch.randperm(len(self.samples), generator=generator).to(self.samples.device)

    def __iter__(self) -> Iterator[RealBatch]:
        return self

    def __next__(self) -> RealBatch:
        if self.batch >= self.batches_per_epoch:
            self.epoch += 1
            self.batch = 0
            self._order = self._permutation(self.epoch)
        start = self.batch * self.batch_size
        index = self._order[start + self._first : start + self._stop]
        self.batch += 1
        samples = to_model_range(self.samples[index])
        labels = None if self.labels is None else self.labels[index]
        return RealBatch(samples, labels, {name: to_model_range(tensor[index]) for name, tensor in self.inputs.items()})
