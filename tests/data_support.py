"""A streamed dataset for tests: each sample made on demand from its index, optionally with a
random per-draw shift (``augments``) and a log of which process read which index."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor

from ganforge import Dataset, hookimpl
from ganforge.interfaces.dataset import Sample, Split


class PatternSplit(Split):
    """``size`` 1x``side``x``side`` uint8 images, sample ``i`` seeded by ``i``; not held in memory."""

    def __init__(self, size: int, side: int, labelled: bool, augments: bool, log: str | None) -> None:
        self.size, self.side, self.augments, self.log = size, side, augments, log
        self.labels = torch.arange(size) % 2 if labelled else None

    def __len__(self) -> int:
        return self.size

    def get(self, index: int, generator: torch.Generator | None = None) -> Sample:
        if self.log:
            with open(Path(self.log) / f"reads-{os.environ.get('RANK', '0')}-{os.getpid()}.txt", "a") as f:
                f.write(f"{index}\n")
        image = torch.randint(0, 200, (1, self.side, self.side), generator=torch.Generator().manual_seed(index), dtype=torch.uint8)
        if self.augments and generator is not None:
            image = image + torch.randint(0, 50, (), generator=generator).to(torch.uint8)  # the per-draw augmentation
        return Sample(image, {"noisy": image.flip(-2)})

    def fingerprint(self) -> str:
        return f"patterns-{self.size}-{self.side}"


class Patterns(Dataset):
    """The test's streamed dataset. Args: size, side, labelled, augments, log (a folder)."""

    def __init__(self, size: int = 48, side: int = 8, labelled: bool = False, augments: bool = False, log: str | None = None) -> None:
        self.image_shape = (1, side, side)
        self.class_names = ("even", "odd") if labelled else ()
        self.split = PatternSplit(size, side, labelled, augments, log)

    def load(self, split: str = "train") -> PatternSplit:
        return self.split


class PatternsPlugin:
    __name__ = "test-streamed-data"

    @hookimpl
    def register_datasets(self, register):
        register("test-patterns", Patterns)


def reads(log: Path) -> dict[str, list[int]]:
    """Which indices each rank read: rank -> indices (all its worker processes together)."""
    out: dict[str, list[int]] = {}
    for path in sorted(log.glob("reads-*.txt")):
        out.setdefault(path.name.split("-")[1], []).extend(int(line) for line in path.read_text().split())
    return out


def as_tensor(values: list[int]) -> Tensor:
    return torch.tensor(sorted(values))
