"""Reading a :class:`Split` through ``torch.utils.data.DataLoader`` workers: the seeded draws of
training (per-sample generators, x-flips, unreadable samples replaced), the plain ordered reads
of evaluation, and holding a small split in memory."""

from __future__ import annotations

import hashlib
import math
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Sequence

import torch
from torch import Tensor
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

from ganforge.errors import GanforgeError
from ganforge.interfaces.dataset import DataSplit, Sample, Split, UnreadableSample

#: a split of at most this many bytes of decoded samples is held in memory when
#: ``data.in_memory`` is left unset (256 MiB: CIFAR-10 and Fashion-MNIST are, FFHQ is not).
IN_MEMORY_BYTES = 256 * 2**20
#: an unreadable sample is replaced by the next index; this many unreadable in a row is an error.
MAX_REPLACEMENTS = 16


def mix(*numbers: int) -> int:
    """A 63-bit seed made from ``numbers`` (e.g. seed, epoch, index); unrelated for neighbours."""
    digest = hashlib.blake2b(",".join(map(str, numbers)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def sample_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """The generator of the random choices of drawing sample ``index`` in ``epoch``."""
    return torch.Generator().manual_seed(mix(seed, epoch, index))


def mirror_flags(seed: int, epoch: int, n: int) -> Tensor:
    """bool ``(n,)``: which samples of ``epoch`` are x-flipped by ``data.mirror`` (half of them)."""
    return torch.rand(n, generator=torch.Generator().manual_seed(mix(seed, epoch, -1))) < 0.5


def flipped(sample: Sample) -> Sample:
    """``sample`` mirrored left-right, its image-shaped inputs with it."""
    return Sample(sample.image.flip(-1), {name: t.flip(-1) if t.ndim >= 2 else t for name, t in sample.inputs.items()})


def byte_size(split: Split, image_shape: Sequence[int]) -> int:
    """The bytes ``split`` would take in memory as uint8 samples of ``image_shape``."""
    return len(split) * math.prod(image_shape)


class Drawn(NamedTuple):
    """A collated batch as the workers give it: uint8 (or float) samples, labels, inputs, and
    the messages of the samples that could not be read and were replaced."""

    samples: Tensor
    labels: Tensor | None
    inputs: dict[str, Tensor]
    skipped: list[str]

    def pin_memory(self) -> Drawn:
        return Drawn(self.samples.pin_memory(), None if self.labels is None else self.labels.pin_memory(),
                     {k: v.pin_memory() for k, v in self.inputs.items()}, self.skipped)  # fmt: skip


class Draws(TorchDataset[Any]):
    """The training view of a split for DataLoader workers: key ``(epoch, index)`` -> the sample
    drawn with the generator of ``(seed, epoch, index)``, mirrored when ``mirror`` picks it; an
    unreadable sample is replaced by the next readable index (so every batch is full and the
    replacement is the same in a resumed run) and reported with the batch."""

    def __init__(self, split: Split, seed: int, mirror: bool = False, augment: bool = True) -> None:
        self.split, self.seed, self.mirror, self.augment = split, seed, mirror, augment
        self._flags: tuple[int, Tensor] | None = None

    def __len__(self) -> int:
        return len(self.split)

    def flips(self, epoch: int) -> Tensor:
        if self._flags is None or self._flags[0] != epoch:
            self._flags = (epoch, mirror_flags(self.seed, epoch, len(self.split)))
        return self._flags[1]

    def __getitem__(self, key: tuple[int, int]) -> tuple[int, Sample, list[str]]:
        epoch, index = key
        n, skipped = len(self.split), []
        for attempt in range(min(n, MAX_REPLACEMENTS)):
            at = (index + attempt) % n
            generator = sample_generator(self.seed, epoch, at) if self.augment and self.split.augments else None
            try:
                sample = self.split.get(at, generator)
            except UnreadableSample as exc:
                skipped.append(str(exc))
                continue
            if self.mirror and bool(self.flips(epoch)[at]):
                sample = flipped(sample)
            return at, sample, skipped
        raise GanforgeError(f"{len(skipped)} samples in a row could not be read, the last: {skipped[-1]}")


def collate(items: list[tuple[int, Sample, list[str]]], labels: Tensor | None) -> Drawn:
    """Stack drawn samples into one batch (``labels`` are the split's, indexed here)."""
    indices = torch.tensor([index for index, _, _ in items], dtype=torch.int64)
    samples = torch.stack([sample.image for _, sample, _ in items])
    names = items[0][1].inputs.keys()
    inputs = {name: torch.stack([sample.inputs[name] for _, sample, _ in items]) for name in names}
    return Drawn(samples, None if labels is None else labels[indices], inputs, [m for _, _, s in items for m in s])


class Collate:
    """A picklable ``collate_fn`` carrying the split's labels."""

    def __init__(self, labels: Tensor | None) -> None:
        self.labels = labels

    def __call__(self, items: list[tuple[int, Sample, list[str]]]) -> Drawn:
        return collate(items, self.labels)


def loader(
    split: Split, batches: Iterable[list[Any]], workers: int, seed: int = 0, mirror: bool = False, pin_memory: bool = False,
    augment: bool = True,
) -> DataLoader[Any]:
    """A DataLoader reading the index batches ``batches`` (lists of ``(epoch, index)``) of
    ``split`` in ``workers`` processes (0: in this one). It never touches the global random
    state: a run draws the same numbers whether or not, and when, its loader starts."""
    return DataLoader(
        Draws(split, seed, mirror, augment), batch_sampler=batches, num_workers=workers, collate_fn=Collate(split.labels),  # type: ignore[arg-type]
        pin_memory=pin_memory, prefetch_factor=2 if workers else None, generator=torch.Generator().manual_seed(seed),
    )  # fmt: skip


def ordered_batches(split: Split, indices: range, batch_size: int, workers: int = 0) -> Iterator[Drawn]:
    """``split``'s samples at ``indices`` in order, ``batch_size`` at a time, deterministic (no
    augmentation): what evaluation and holding in memory read."""
    chunks = [[(0, i) for i in indices[start : start + batch_size]] for start in range(0, len(indices), batch_size)]
    if isinstance(split, DataSplit):  # already in memory: slice it
        for chunk in chunks:
            rows = torch.tensor([i for _, i in chunk], dtype=torch.int64)
            yield Drawn(split.samples[rows], None if split.labels is None else split.labels[rows],
                        {k: v[rows] for k, v in split.inputs.items()}, [])  # fmt: skip
        return
    yield from loader(split, chunks, min(workers, len(chunks)), augment=False)


def hold_in_memory(split: Split, workers: int = 0, batch_size: int = 256, skipped: Callable[[str], None] | None = None) -> DataSplit:
    """``split`` decoded once into a :class:`DataSplit` (``workers`` decoding in parallel). An
    unreadable sample is an error, or, with ``skipped``, reported through it and replaced by the
    next readable one (as in training) unless more than :func:`unreadable_limit` are."""
    if isinstance(split, DataSplit):
        return split
    parts = list(ordered_batches(split, range(len(split)), batch_size, workers))
    unreadable = [m for part in parts for m in part.skipped]
    if unreadable and (skipped is None or len(unreadable) > unreadable_limit(len(split))):
        raise GanforgeError(f"{unreadable[0]}; remove or replace the file ({len(unreadable)} of {len(split)} unreadable)")
    for message in unreadable:
        assert skipped is not None
        skipped(message)
    inputs = {name: torch.cat([p.inputs[name] for p in parts]) for name in parts[0].inputs}
    return DataSplit(torch.cat([p.samples for p in parts]), split.labels, inputs)


def unreadable_limit(size: int) -> int:
    """How many unreadable samples a split of ``size`` may have before a run stops: 1%, at least 1."""
    return max(1, size // 100)


def choose_in_memory(split: Split, image_shape: Sequence[int], in_memory: bool | None, owner: str = "the dataset") -> bool:
    """Whether the trainer holds ``split`` in memory: ``data.in_memory`` when set, else when it
    is small (:data:`IN_MEMORY_BYTES`); never a split that augments each draw."""
    if isinstance(split, DataSplit):
        return True
    if split.augments:
        if in_memory:
            raise GanforgeError(f"data.in_memory: true, but {owner} draws a fresh augmentation every time (a random crop); remove data.in_memory")
        return False
    return bool(in_memory) if in_memory is not None else byte_size(split, image_shape) <= IN_MEMORY_BYTES
