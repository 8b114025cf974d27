"""MNIST and Fashion-MNIST read straight from their IDX files into uint8 tensors."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from ganforge import Dataset, DataSplit, hookimpl
from ganforge.cache import cache_dir, data_roots
from ganforge.errors import GanforgeError

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (gzip-compressed or not) into an array. A compressed file is
    decompressed once and kept in ganforge's cache while it is unchanged: every run and
    ``validate`` of a Fashion-MNIST spec would otherwise spend about half a second on it."""
    data = _uncompressed(path) if path.suffix == ".gz" else path.read_bytes()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise GanforgeError(f"{path}: not an IDX file (bad magic number)")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    offset = 4 + 4 * ndim
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - offset != expected:
        raise GanforgeError(f"{path}: truncated IDX file ({len(data) - offset} bytes of data, expected {expected})")
    return np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape)


def _uncompressed(path: Path) -> bytes:
    stat = path.stat()
    key = hashlib.blake2b(f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}".encode(), digest_size=8).hexdigest()
    cached = cache_dir("data", "idx", f"{path.name[: -len('.gz')]}-{key}")
    try:
        return cached.read_bytes()
    except OSError:
        pass
    with gzip.open(path, "rb") as f:
        data = f.read()
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary = cached.with_name(f"{cached.name}.tmp{os.getpid()}")
        temporary.write_bytes(data)
        temporary.replace(cached)
    except OSError:
        pass  # a cache is best effort: read-only or full, the file is decompressed each time
    return data


def _find(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


class IDXDataset(Dataset):
    """Base for the IDX-format datasets; subclasses set the names and class names.

    Args:
        root: folder holding the IDX files (looked for first; then $GANFORGE_DATA, the cache
            folder, torchvision's layout, /usr/share/datasets/<name>).
        download: fetch the files with torchvision when they are found nowhere and the machine is online.
    """

    slug: str  # Debian and $GANFORGE_DATA folder name
    torchvision_name: str  # torchvision's class and folder name

    def __init__(self, root: str | None = None, download: bool = True) -> None:
        self.image_shape = (1, 28, 28)
        self.root = root
        self.download = download

    def candidate_dirs(self) -> list[Path]:
        """Where the IDX files are looked for, in order."""
        dirs = []
        for base in data_roots(self.root):
            dirs += [base, base / self.slug, base / self.torchvision_name / "raw"]
        dirs.append(Path("/usr/share/datasets") / self.slug)
        return dirs

    def locate(self, split: str) -> tuple[Path, Path]:
        if split not in FILES:
            raise GanforgeError(f"{self.slug} has splits 'train' and 'test', not '{split}'")
        images_stem, labels_stem = FILES[split]
        for directory in self.candidate_dirs():
            images, labels = _find(directory, images_stem), _find(directory, labels_stem)
            if images and labels:
                return images, labels
        if self.download and self._download():
            return self.locate_after_download(split)
        looked = ", ".join(str(d) for d in self.candidate_dirs())
        raise GanforgeError(
            f"{self.torchvision_name} {split} files ({images_stem}[.gz]) not found; looked in {looked}. "
            f"Set data.root or $GANFORGE_DATA to a folder holding them"
            + (", or `apt-get install dataset-fashion-mnist`" if self.slug == "fashion-mnist" else "")
        )

    def locate_after_download(self, split: str) -> tuple[Path, Path]:
        self.download = False
        return self.locate(split)

    def _download(self) -> bool:
        """Fetch the files with torchvision into the default data folder; False when offline."""
        import torchvision.datasets

        try:
            getattr(torchvision.datasets, self.torchvision_name)(str(cache_dir("data")), download=True)
        except Exception:  # noqa: BLE001 - offline or mirror down: report where we looked instead
            return False
        return True

    def load(self, split: str = "train") -> DataSplit:
        images_path, labels_path = self.locate(split)
        images = torch.from_numpy(read_idx(images_path).copy()).unsqueeze(1)
        labels = torch.from_numpy(read_idx(labels_path).astype(np.int64))
        if images.shape[0] != labels.shape[0]:
            raise GanforgeError(f"{images_path}: {images.shape[0]} images but {labels.shape[0]} labels in {labels_path}")
        return DataSplit(images, labels)



class MNIST(IDXDataset):
    """MNIST handwritten digits, 28x28 grey, 10 classes.

    Args:
        root: folder holding the IDX files (searched first).
        download: fetch with torchvision when not found and online.
    """

    slug = "mnist"
    torchvision_name = "MNIST"
    class_names = tuple(str(i) for i in range(10))


class FashionMNIST(IDXDataset):
    """Fashion-MNIST clothing images, 28x28 grey, 10 classes.

    Args:
        root: folder holding the IDX files (searched first).
        download: fetch with torchvision when not found and online.
    """

    slug = "fashion-mnist"
    torchvision_name = "FashionMNIST"
    class_names = (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    )  # fmt: skip


@hookimpl
def register_datasets(register):
    register("mnist", MNIST)
    register("fashion-mnist", FashionMNIST)
