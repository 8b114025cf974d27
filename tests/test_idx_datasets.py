"""MNIST/Fashion-MNIST IDX reading and the places the files are looked for."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.plugins import Plugins
from ganforge_builtins.data.idx import FashionMNIST, read_idx


def write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", n) for n in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


def make_split(directory: Path, n: int, compress: bool, prefix: str = "train") -> tuple[np.ndarray, np.ndarray]:
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    stem = "train" if prefix == "train" else "t10k"
    write_idx(directory / f"{stem}-images-idx3-ubyte", images, compress)
    write_idx(directory / f"{stem}-labels-idx1-ubyte", labels, compress)
    return images, labels


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GANFORGE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(FashionMNIST, "candidate_dirs", _without_debian(FashionMNIST.candidate_dirs))


def _without_debian(method):  # the machine may have the real files installed; tests must not see them
    return lambda self: [d for d in method(self) if not str(d).startswith("/usr/share/datasets")]


@pytest.mark.parametrize("compress", [True, False])
def test_reads_idx_files_into_uint8_tensors(tmp_path: Path, compress: bool) -> None:
    images, labels = make_split(tmp_path / "data", 5, compress)
    split = FashionMNIST(root=str(tmp_path / "data"), download=False).load("train")
    assert split.samples.dtype == torch.uint8 and split.samples.shape == (5, 1, 28, 28)
    assert torch.equal(split.samples[:, 0], torch.from_numpy(images))
    assert split.labels.dtype == torch.int64 and split.labels.tolist() == labels.tolist()


def test_search_order_root_then_env_then_torchvision_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_split(tmp_path / "env" / "FashionMNIST" / "raw", 3, True)
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path / "env"))
    assert len(FashionMNIST(download=False).load()) == 3  # $GANFORGE_DATA in torchvision's layout
    make_split(tmp_path / "root" / "fashion-mnist", 4, False)
    assert len(FashionMNIST(root=str(tmp_path / "root"), download=False).load()) == 4  # explicit root wins


def test_missing_files_say_where_we_looked(tmp_path: Path) -> None:
    with pytest.raises(GanforgeError) as info:
        FashionMNIST(root=str(tmp_path / "nowhere"), download=False).load("test")
    message = str(info.value)
    assert "\n" not in message
    assert "FashionMNIST test files (t10k-images-idx3-ubyte[.gz]) not found" in message
    assert str(tmp_path / "nowhere") in message and "$GANFORGE_DATA" in message
    assert "apt-get install dataset-fashion-mnist" in message


def test_truncated_and_foreign_files_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad-idx"
    path.write_bytes(b"\x00\x00\x08\x01" + struct.pack(">I", 10) + b"\x01\x02")
    with pytest.raises(GanforgeError, match="truncated IDX file"):
        read_idx(path)
    path.write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(GanforgeError, match="bad magic number"):
        read_idx(path)


def test_class_names_and_shape_without_reading_data(plugins: Plugins) -> None:
    dataset = plugins.registry.get("dataset", "fashion-mnist").factory(download=False)
    assert dataset.image_shape == (1, 28, 28) and dataset.num_classes == 10
    assert dataset.class_names[0] == "T-shirt/top" and dataset.class_names[-1] == "Ankle boot"


def test_a_compressed_file_is_decompressed_once_while_it_is_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    images = np.arange(2 * 3 * 3).reshape(2, 3, 3)
    write_idx(tmp_path / "images", images, compress=True)
    path = tmp_path / "images.gz"
    assert (read_idx(path) == images).all()
    with monkeypatch.context() as patched:
        patched.setattr(gzip, "open", None)  # a second read does not decompress
        assert (read_idx(path) == images).all()
    write_idx(tmp_path / "images", images[:1] + 7, compress=True)  # replaced: read afresh
    assert (read_idx(path) == images[:1] + 7).all()
