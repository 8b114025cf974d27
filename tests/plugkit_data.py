"""Tiny stand-ins for real data files (IDX, CIFAR-10 batches, image folders), so that
file-backed datasets can be checked in tests without the real downloads."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
from PIL import Image

IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def write_idx_folder(folder: Path, n: int = 16, seed: int = 0) -> Path:
    """MNIST-format files, gzip-compressed: n 28x28 images and labels per split."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for images_name, labels_name in IDX_FILES.values():
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        with gzip.open(folder / images_name, "wb") as f:
            f.write(bytes([0, 0, 0x08, 3]) + b"".join(d.to_bytes(4, "big") for d in images.shape) + images.tobytes())
        with gzip.open(folder / labels_name, "wb") as f:
            f.write(bytes([0, 0, 0x08, 1]) + n.to_bytes(4, "big") + labels.tobytes())
    return folder


def write_cifar_folder(folder: Path, n: int = 8, seed: int = 0) -> Path:
    """CIFAR-10 python batches (data_batch_1..5, test_batch) of n images each."""
    batches = folder / "cifar-10-batches-py"
    batches.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        content = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": [i % 10 for i in range(n)]}
        with open(batches / name, "wb") as f:
            pickle.dump(content, f)
    return folder


def write_image_folder(folder: Path, classes: int = 2, per_class: int = 3, size: int = 12) -> Path:
    """PNG images in one subfolder per class."""
    rng = np.random.default_rng(0)
    for c in range(classes):
        (folder / f"class{c}").mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"class{c}" / f"{i}.png")
    return folder
