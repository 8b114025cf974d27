"""The dataset interface: a dataset gives each split as a :class:`Split`, a sequence of samples
read one index at a time; :class:`DataSplit` is the split whose tensors are all in memory.

A split of any size is read through ``torch.utils.data.DataLoader`` workers by the trainer and
by the metrics, one :meth:`Split.get` per sample, so neither memory nor the time to the first
step grows with the data; a small split is held in memory instead (``data.in_memory``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor

from ganforge.errors import GanforgeError
from ganforge.imaging import write_grid


class Sample(NamedTuple):
    """One sample: ``image`` (uint8 [0, 255] or float [-1, 1], shaped ``Dataset.image_shape``)
    and its named per-sample ``inputs`` (e.g. ``lr`` for super-resolution). Its label is
    ``Split.labels[index]``, known without decoding."""

    image: Tensor
    inputs: dict[str, Tensor] = {}  # noqa: RUF012 - never mutated: each sample builds its own dict


class UnreadableSample(GanforgeError):
    """Raised by :meth:`Split.get` for a sample whose file cannot be read (corrupt, truncated,
    gone); the message names the file. A training run skips such a sample with one warning and
    counts it; it stops only when more than a small share of the split is unreadable."""


class Split:
    """One split of a dataset: ``len(split)`` samples, each read on demand by :meth:`get`.

    Subclass it for data of any size: implement :meth:`__len__`, :meth:`get` (read and decode
    one sample, e.g. one image file) and :meth:`fingerprint`; set ``labels`` (int64 ``(N,)``,
    or ``None``) from the index, without decoding. ``get`` runs in DataLoader worker processes,
    so a split must be picklable (hold paths and small index tensors, not open files).

    ``augments`` says that :meth:`get` draws random numbers from its ``generator`` (random
    crops, say): the trainer then never holds the split's samples in memory, and passes a
    generator seeded from ``(seed, epoch, index)``, so each draw differs between epochs yet a
    resumed run repeats it exactly. Without a generator (evaluation, pictures) ``get`` must be
    deterministic.
    """

    labels: Tensor | None = None
    augments: bool = False

    def __len__(self) -> int:  # pragma: no cover - the contract
        raise NotImplementedError

    def get(self, index: int, generator: torch.Generator | None = None) -> Sample:  # pragma: no cover - the contract
        """Sample ``index`` (0 <= index < len), decoded; raises :class:`UnreadableSample` for a
        file that cannot be read. Random choices come from ``generator`` only."""
        raise NotImplementedError

    def fingerprint(self) -> str:
        """A digest of what the split holds, read from its index where it has one (names, sizes
        and modification times of its files, and every setting that changes a decoded sample):
        it keys cached reference statistics and tells a resumed run that its data changed.
        The default decodes every sample; a split of many files overrides it."""
        digest = hashlib.blake2b(digest_size=8)
        for index in range(len(self)):
            _digest_tensor(digest, self.get(index).image)
        if self.labels is not None:
            _digest_tensor(digest, self.labels)
        return digest.hexdigest()

    def changed_since(self, fingerprint: str) -> str | None:
        """None when the split is still the one ``fingerprint`` was taken of, else one phrase
        saying how it differs (e.g. "3 files added, 1 modified (cat/12.png)"). Asked on
        ``--resume``; it may look harder than :meth:`fingerprint` (a split that trusted a cached
        index reads every file's size and time). The default compares fingerprints."""
        now = self.fingerprint()
        return None if now == fingerprint else f"its contents changed (fingerprint {fingerprint} -> {now})"


@dataclass
class DataSplit(Split):
    """A split held in memory: the fast path for small data (Fashion-MNIST, CIFAR-10, toy sets).

    ``samples`` is uint8 in [0, 255] (images, converted to [-1, 1] per batch on the device)
    or floating point already in the model's range. ``labels`` is int64 ``(N,)`` or ``None``.
    ``inputs`` holds named per-sample tensors a generator may read (``Generator.inputs``),
    e.g. ``lr``, the low-resolution image of each high-resolution sample; uint8 inputs are
    converted to [-1, 1] like the samples.
    """

    samples: Tensor
    labels: Tensor | None = None
    inputs: dict[str, Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, tensor in self.inputs.items():
            if name == "real":
                raise ValueError("'real' names the batch's own samples; call the dataset input something else")
            if tensor.shape[0] != self.samples.shape[0]:
                raise ValueError(f"input '{name}' has {tensor.shape[0]} rows for {self.samples.shape[0]} samples")

    def __len__(self) -> int:
        return self.samples.shape[0]

    def get(self, index: int, generator: torch.Generator | None = None) -> Sample:
        return Sample(self.samples[index], {name: tensor[index] for name, tensor in self.inputs.items()})

    def fingerprint(self) -> str:
        digest = hashlib.blake2b(digest_size=8)
        for tensor in (self.samples, self.labels, *self.inputs.values()):
            if tensor is not None:
                _digest_tensor(digest, tensor)
        return digest.hexdigest()


def _digest_tensor(digest: hashlib.blake2b, tensor: Tensor) -> None:
    digest.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
    digest.update(tensor.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())


def to_model_range(samples: Tensor) -> Tensor:
    """uint8 [0, 255] -> float [-1, 1]; floating tensors pass through as float32."""
    if samples.dtype == torch.uint8:
        return samples.float().div_(127.5).sub_(1.0)
    return samples.float()


class Dataset:
    """A source of training samples. Subclasses set ``image_shape`` and ``class_names``
    in their constructor (without reading the data) and implement :meth:`load`."""

    image_shape: tuple[int, ...]
    class_names: tuple[str, ...] = ()

    @property
    def num_classes(self) -> int:
        """Number of classes; 0 for an unlabelled dataset."""
        return len(self.class_names)

    def load(self, split: str = "train") -> Split:  # pragma: no cover
        """The split ``split`` ("train" or "test"): a :class:`DataSplit` of tensors for small
        data, or a :class:`Split` that reads each sample on demand. Cheap for a streamed split
        (it reads the index, not the samples), so it may be called more than once."""
        raise NotImplementedError

    def save_samples(self, samples: Tensor, path: Path, nrow: int = 8) -> None:
        """Write generated samples (float in [-1, 1]) as one picture; images become a grid.

        The default draws images with the writer ``ganforge sample`` uses
        (:func:`ganforge.imaging.write_grid`): a grey PNG for one channel, RGB for three, written
        atomically. Datasets of other data (e.g. 2-D points) override it to draw their own picture.
        """
        write_grid(samples, nrow, Path(path))
