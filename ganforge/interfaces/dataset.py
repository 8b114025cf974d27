"""The dataset interface: in-memory tensors, loaded once, batched by index."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from ganforge.imaging import write_grid


@dataclass
class DataSplit:
    """One split of a dataset.

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

    def load(self, split: str = "train") -> DataSplit:  # pragma: no cover
        """Read ``split`` ("train" or "test") into memory."""
        raise NotImplementedError

    def save_samples(self, samples: Tensor, path: Path, nrow: int = 8) -> None:
        """Write generated samples (float in [-1, 1]) as one picture; images become a grid.

        The default draws images with the writer ``ganforge sample`` uses
        (:func:`ganforge.imaging.write_grid`): a grey PNG for one channel, RGB for three, written
        atomically. Datasets of other data (e.g. 2-D points) override it to draw their own picture.
        """
        write_grid(samples, nrow, Path(path))
