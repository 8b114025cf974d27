"""CIFAR-10 read from its python pickle batches (a local folder, or torchvision's download)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge import Dataset, DataSplit, hookimpl
from ganforge.cache import cache_dir, data_roots
from ganforge.errors import GanforgeError

FOLDER = "cifar-10-batches-py"
BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR pickle batch as (uint8 images (N, 3, 32, 32), int64 labels (N,)).

    The batches are Python pickles, as the dataset's authors publish them: only read trusted files.
    """
    with open(path, "rb") as f:
        try:
            content: dict[Any, Any] = pickle.load(f, encoding="bytes")
        except Exception as exc:
            raise GanforgeError(f"{path}: not a CIFAR-10 python batch ({type(exc).__name__}: {exc})") from exc
    entries = {k.decode() if isinstance(k, bytes) else k: v for k, v in content.items()}
    if "data" not in entries or "labels" not in entries:
        raise GanforgeError(f"{path}: a CIFAR-10 batch needs 'data' and 'labels' entries, found {sorted(entries)}")
    data = np.asarray(entries["data"], dtype=np.uint8)
    labels = np.asarray(entries["labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.shape[0] != labels.shape[0]:
        raise GanforgeError(f"{path}: expected data of shape (N, 3072) and N labels, got {data.shape} and {labels.shape}")
    return data.reshape(-1, 3, 32, 32), labels


class CIFAR10(Dataset):
    """CIFAR-10: 32x32 colour images of 10 classes (50,000 train, 10,000 test).

    Args:
        root: a folder holding ``cifar-10-batches-py`` (or the batch files themselves);
            otherwise ``$GANFORGE_DATA`` and ganforge's data cache are searched.
        download: fetch the dataset with torchvision into the data cache when it is not found.
    """

    class_names = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

    def __init__(self, root: str | None = None, download: bool = True) -> None:
        self.image_shape = (3, 32, 32)
        self.root = root
        self.download = download

    def candidate_dirs(self) -> list[Path]:
        """Where the batch files are looked for, in order."""
        return [d for base in data_roots(self.root) for d in (base, base / FOLDER)]

    def locate(self, split: str) -> list[Path]:
        if split not in BATCHES:
            raise GanforgeError(f"cifar10 has splits 'train' and 'test', not '{split}'")
        for directory in self.candidate_dirs():
            paths = [directory / name for name in BATCHES[split]]
            if all(p.is_file() for p in paths):
                return paths
        if self.download and self._download():
            self.download = False
            return self.locate(split)
        looked = ", ".join(str(d) for d in self.candidate_dirs())
        raise GanforgeError(
            f"CIFAR-10 {split} batches ({', '.join(BATCHES[split])}) not found; looked in {looked}. "
            "Set data.root or $GANFORGE_DATA to the folder holding cifar-10-batches-py, or go online to download it"
        )

    def _download(self) -> bool:
        """Fetch the batches with torchvision into the data cache; False when offline."""
        import torchvision.datasets

        try:
            torchvision.datasets.CIFAR10(str(cache_dir("data")), download=True)
        except Exception:  # noqa: BLE001 - offline or mirror down: report where we looked instead
            return False
        return True

    def load(self, split: str = "train") -> DataSplit:
        images, labels = zip(*(read_batch(path) for path in self.locate(split)))
        return DataSplit(torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels)))


@hookimpl
def register_datasets(register):
    register("cifar10", CIFAR10)
