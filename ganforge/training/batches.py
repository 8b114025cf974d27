"""Batches of a split: a seeded permutation per epoch, resumable at any batch, shared out among
the processes of a distributed run; read from memory or through DataLoader workers."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterable, Iterator, NamedTuple

import torch
from torch import Tensor

from ganforge.errors import GanforgeError
from ganforge.interfaces.dataset import DataSplit, Split, to_model_range
from ganforge.interfaces.networks import Generator
from ganforge.interfaces.reading import Drawn, loader, mirror_flags, unreadable_limit


def check_inputs(generator: Generator, split: Split, generator_owner: str, dataset_owner: str) -> None:
    """Every input the generator reads (``Generator.inputs``) must be one the dataset yields,
    of the shape the generator declares in ``input_shapes`` when it declares one."""
    wanted_inputs = [name for name in generator.inputs if name != "real"]
    given = split.get(0).inputs if wanted_inputs and len(split) else {}
    missing = [name for name in wanted_inputs if name not in given]
    if missing:
        raise GanforgeError(
            f"{generator_owner} reads input '{missing[0]}', which {dataset_owner} does not provide "
            f"(it provides: {', '.join(given) or 'no named inputs'})"
        )
    for name in wanted_inputs:
        wanted = generator.input_shapes.get(name)
        shape = tuple(given[name].shape)
        if wanted is not None and shape != tuple(wanted):
            raise GanforgeError(
                f"{generator_owner} reads input '{name}' of shape {tuple(wanted)}, but {dataset_owner} gives {shape}; "
                "make their settings agree (e.g. the same scale for generator and data)"
            )


class RealBatch(NamedTuple):
    """One batch of training data on the device: samples in [-1, 1], labels, named inputs."""

    samples: Tensor
    labels: Tensor | None
    inputs: dict[str, Tensor]


def permutation(seed: int, epoch: int, n: int) -> Tensor:
    """The order of epoch ``epoch``: a function of ``(seed, epoch)`` alone."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


class ShareOrder:
    """The batch sampler of a streamed split: from ``(epoch, batch)`` on, forever, this process's
    share of each global batch as ``(epoch, index)`` keys, so the workers read only that share."""

    def __init__(self, n: int, batch_size: int, seed: int, epoch: int, batch: int, first: int, stop: int) -> None:
        self.n, self.batch_size, self.seed, self.epoch, self.batch = n, batch_size, seed, epoch, batch
        self.first, self.stop = first, stop

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        epoch, batch, per_epoch = self.epoch, self.batch, self.n // self.batch_size
        while True:
            order = permutation(self.seed, epoch, self.n).tolist()
            for b in range(batch, per_epoch):
                start = b * self.batch_size
                yield [(epoch, i) for i in order[start + self.first : start + self.stop]]
            epoch, batch = epoch + 1, 0


class BatchStream:
    """Endless :class:`RealBatch` batches on ``device``, dropping each epoch's
    incomplete last batch. The order of epoch ``e`` depends only on ``(seed, e)``, and each
    sample's random choices (``mirror``, a split's own augmentation) on ``(seed, e, index)``,
    so a resumed run that starts at ``(epoch, batch)`` sees exactly the batches the
    uninterrupted run saw, whatever the number of ``workers``.

    A :class:`DataSplit` is kept on the device and indexed there; any other split is read by
    ``workers`` DataLoader processes into pinned memory, and the next batch is copied to a CUDA
    device while the current step runs. A sample that cannot be read is replaced by the next
    index, reported once through ``warn`` and counted (:meth:`log_values`); more than
    ``max(1, 1%)`` of the split unreadable stops the run.

    With ``world_size`` processes this is a distributed sampler: ``batch_size`` is the global
    batch, every process draws the same permutation (per-epoch shuffling) and reads only its
    ``rank``-th contiguous share of each global batch, so together the processes see exactly
    the batches one process would."""

    def __init__(
        self, split: Split, batch_size: int, device: torch.device, seed: int, epoch: int = 0, batch: int = 0,
        rank: int = 0, world_size: int = 1, *, workers: int = 0, mirror: bool = False,
        warn: Callable[[str], None] = print, skipped: Iterable[str] = (),
    ) -> None:  # fmt: skip
        if len(split) < batch_size:
            raise GanforgeError(f"the dataset has {len(split)} samples, fewer than data.batch_size={batch_size}")
        self.size, self.batch_size, self.seed, self.mirror = len(split), batch_size, seed, mirror
        self.batches_per_epoch = len(split) // batch_size
        self.epoch, self.batch = epoch, batch
        self.device, self.warn = device, warn
        share = batch_size // world_size
        self._first, self._stop = rank * share, (rank + 1) * share
        self.skipped: dict[str, None] = dict.fromkeys(skipped)  # unreadable samples' messages, in order, once each
        if isinstance(split, DataSplit):
            # uint8 images are small: keep them on the device once instead of copying every batch.
            self.samples = split.samples.to(device)
            self.labels = None if split.labels is None else split.labels.to(device)
            self.inputs = {name: tensor.to(device) for name, tensor in split.inputs.items()}
            self._order = permutation(seed, epoch, self.size).to(device)
            self._flips = mirror_flags(seed, epoch, self.size).to(device) if mirror else None
            self._batches: Iterator[Drawn] | None = None
        else:
            order = ShareOrder(self.size, batch_size, seed, epoch, batch, self._first, self._stop)
            cuda = device.type == "cuda"
            self._batches = iter(loader(split, order, workers, seed, mirror, pin_memory=cuda))
            self._copies = torch.cuda.Stream(device) if cuda else None
            self._ahead: RealBatch | None = None

    def __iter__(self) -> Iterator[RealBatch]:
        return self

    def __next__(self) -> RealBatch:
        if self.batch >= self.batches_per_epoch:
            self.epoch += 1
            self.batch = 0
            if self._batches is None:
                self._order = permutation(self.seed, self.epoch, self.size).to(self.device)
                self._flips = mirror_flags(self.seed, self.epoch, self.size).to(self.device) if self.mirror else None
        self.batch += 1
        if self._batches is None:
            return self._from_memory()
        if self._copies is None:
            return self._to_device(self._next_drawn())
        current = self._ahead if self._ahead is not None else self._to_device(self._next_drawn())
        torch.cuda.current_stream(self.device).wait_stream(self._copies)
        for tensor in (current.samples, current.labels, *current.inputs.values()):
            if tensor is not None:
                tensor.record_stream(torch.cuda.current_stream(self.device))
        self._ahead = self._to_device(self._next_drawn())  # copied on the side stream during this step
        return current

    def _from_memory(self) -> RealBatch:
        start = (self.batch - 1) * self.batch_size
        index = self._order[start + self._first : start + self._stop]
        samples = self.samples[index]
        if self._flips is not None:
            flip = self._flips[index].view(-1, *([1] * (samples.ndim - 1)))
            samples = torch.where(flip, samples.flip(-1), samples)
        inputs = {name: tensor[index] for name, tensor in self.inputs.items()}
        if self._flips is not None:
            inputs = {name: torch.where(self._flips[index].view(-1, *([1] * (t.ndim - 1))), t.flip(-1), t) if t.ndim >= 3 else t
                      for name, t in inputs.items()}  # fmt: skip
        labels = None if self.labels is None else self.labels[index]
        return RealBatch(to_model_range(samples), labels, {name: to_model_range(t) for name, t in inputs.items()})

    def _next_drawn(self) -> Drawn:
        assert self._batches is not None
        drawn = next(self._batches)
        for message in drawn.skipped:
            if message not in self.skipped:
                self.skipped[message] = None
                self.warn(f"Warning: skipped {message} (the next sample is used in its place)")
        limit = unreadable_limit(self.size)
        if len(self.skipped) > limit:
            raise GanforgeError(
                f"{len(self.skipped)} of the {self.size} samples could not be read (more than {limit}), e.g. {next(iter(self.skipped))}; "
                "fix or remove those files, then continue with --resume"
            )
        return drawn

    def _to_device(self, drawn: Drawn) -> RealBatch:
        with torch.cuda.stream(self._copies) if self._copies is not None else contextlib.nullcontext():
            def move(t: Tensor) -> Tensor:
                return to_model_range(t.to(self.device, non_blocking=True))

            labels = None if drawn.labels is None else drawn.labels.to(self.device, non_blocking=True)
            return RealBatch(move(drawn.samples), labels, {name: move(t) for name, t in drawn.inputs.items()})

    def log_values(self) -> dict[str, Any]:
        """What metrics.jsonl records of the data: the count of unreadable samples skipped so far."""
        return {"data_skipped": len(self.skipped)} if self.skipped else {}


