"""image-folder streamed from a folder or a stylegan-style ZIP, `ganforge dataset pack`, unreadable
files in the middle of a run, a folder changed under a resumed run, and validate's size check."""

from __future__ import annotations

import gc
import hashlib
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.interfaces.reading import hold_in_memory
from ganforge_builtins.data.image_folder import ImageFiles, ImageFolder, Index

from .conftest import invoke


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))


def write_images(folder: Path, count: int, size: tuple[int, int] = (40, 30), classes: tuple[str, ...] = (), suffix: str = ".png") -> None:
    rng = np.random.default_rng(count)
    for i in range(count):
        where = folder / classes[i % len(classes)] if classes else folder
        where.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(where / f"{i:04d}{suffix}")


def test_a_packed_zip_reads_back_exactly_what_the_folder_gives(tmp_path: Path) -> None:
    write_images(tmp_path / "src", 7, classes=("dog", "cat"))
    result = invoke("dataset", "pack", str(tmp_path / "src"), str(tmp_path / "out.zip"), "--size", "16", "--labels", "--workers", "1")
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_STORED}
        rows = json.loads(archive.read("dataset.json"))["labels"]
        assert rows[0] == ["00000/img00000000.png", 0] and len(rows) == 7
    folder, packed = ImageFolder(str(tmp_path / "src"), image_size=16), ImageFolder(str(tmp_path / "out.zip"), image_size=16)
    a, b = hold_in_memory(folder.load()), hold_in_memory(packed.load())
    assert torch.equal(a.samples, b.samples) and torch.equal(a.labels, b.labels)
    assert folder.class_names == ("cat", "dog") and packed.class_names == ("0", "1")
    again = invoke("dataset", "pack", str(tmp_path / "src"), str(tmp_path / "out.zip"), "--size", "16")
    assert again.exit_code == 2 and "--overwrite" in again.output


def test_a_stylegan_dataset_zip_with_labels_reads_as_it_is(tmp_path: Path) -> None:
    """The layout stylegan2-ada's dataset_tool writes: 00000/img00000000.png ... and dataset.json."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (5, 12, 12, 3), dtype=np.uint8)
    labels = [2, 0, 1, 2, 0]
    with zipfile.ZipFile(tmp_path / "ffhq.zip", "w") as archive:
        for i, image in enumerate(pixels):
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, format="png")
            archive.writestr(f"00000/img{i:08d}.png", buffer.getvalue())
        archive.writestr("dataset.json", json.dumps({"labels": [[f"00000/img{i:08d}.png", label] for i, label in enumerate(labels)]}))
    dataset = ImageFolder(str(tmp_path / "ffhq.zip"), image_size=12)
    data = hold_in_memory(dataset.load())
    assert dataset.class_names == ("0", "1", "2")
    assert torch.equal(data.samples, torch.from_numpy(pixels).permute(0, 3, 1, 2))
    assert data.labels.tolist() == labels
    with zipfile.ZipFile(tmp_path / "unlabelled.zip", "w") as archive:
        archive.writestr("00000/img00000000.png", _png(pixels[0]))
        archive.writestr("dataset.json", json.dumps({"labels": None}))
    assert ImageFolder(str(tmp_path / "unlabelled.zip"), image_size=12).load().labels is None


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="png")
    return buffer.getvalue()


SPEC = """\
seed: 1
device: cpu
generator: {{name: dcgan, latent_dim: 8, width: 8}}
discriminator: {{name: dcgan, width: 8}}
loss: lsgan
data: {{name: image-folder, root: {root}, image_size: 28, channels: 1, batch_size: 10, workers: 1, in_memory: false}}
train: {{steps: {steps}, log_every: 1}}
"""


def test_a_corrupt_file_in_the_middle_of_a_run_is_skipped_and_counted(tmp_path: Path) -> None:
    write_images(tmp_path / "images", 120, suffix=".jpg")
    (tmp_path / "images/0057.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(root=tmp_path / "images", steps=13))  # 12 batches an epoch: the whole folder is read
    result = invoke("run", str(spec), "--out", str(tmp_path / "run"), "--quiet")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("Warning: skipped")]
    assert len(warnings) == 1 and "0057.jpg: cannot read the image" in warnings[0]
    records = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    assert records[-1]["data_skipped"] == 1
    resumed = invoke("run", str(spec), "--out", str(tmp_path / "run"), "--quiet", "--set", "train.steps=26", "--resume")  # reads 0057 again
    assert resumed.exit_code == 0 and "Warning: skipped" not in resumed.output  # warned once per run, resumed or not
    assert json.loads((tmp_path / "run/metrics.jsonl").read_text().splitlines()[-1])["data_skipped"] == 1
    # more than 1% unreadable stops the run with one line
    for i in range(0, 120, 20):
        (tmp_path / f"images/{i:04d}.jpg").write_bytes(b"not an image")
    stopped = invoke("run", str(spec), "--out", str(tmp_path / "stopped"), "--quiet")
    assert stopped.exit_code != 0
    assert "could not be read (more than 1)" in stopped.output.strip().splitlines()[-1]


def test_a_folder_changed_under_a_run_is_noticed_on_resume(tmp_path: Path) -> None:
    write_images(tmp_path / "images", 30)
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(root=tmp_path / "images", steps=2))
    assert invoke("run", str(spec), "--out", str(tmp_path / "run"), "--quiet").exit_code == 0
    same = invoke("run", str(spec), "--out", str(tmp_path / "run"), "--quiet", "--set", "train.steps=3", "--resume")
    assert same.exit_code == 0 and "changed since the run started" not in same.output
    write_images(tmp_path / "more", 31)
    (tmp_path / "more/0030.png").rename(tmp_path / "images/new.png")
    (tmp_path / "images/0004.png").write_bytes((tmp_path / "more/0000.png").read_bytes())
    resumed = invoke("run", str(spec), "--out", str(tmp_path / "run"), "--quiet", "--set", "train.steps=4", "--resume")
    assert resumed.exit_code == 0, resumed.output
    lines = [line for line in resumed.output.splitlines() if "changed since the run started" in line]
    assert len(lines) == 1 and "1 file added, 1 file modified (e.g. new.png)" in lines[0]


def test_validate_knows_the_size_from_the_index(tmp_path: Path) -> None:
    write_images(tmp_path / "images", 12)
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(root=tmp_path / "images", steps=2))
    result = invoke("validate", str(spec), "--set", "data.batch_size=99999999999999999999999")
    assert result.exit_code == 2
    assert "data.batch_size: 99999999999999999999999 is more than the 12 samples" in result.output
    assert "12 training samples, 1 batches of 10" in invoke("validate", str(spec)).output


def _no_listing(*args: object, **kwargs: object) -> None:
    raise AssertionError("the folder was listed again")


def test_an_unchanged_folder_starts_from_its_cached_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_images(tmp_path / "images", 6, classes=("a", "b"))
    first = ImageFolder(str(tmp_path / "images"), image_size=16)
    assert not first._index.cached
    with monkeypatch.context() as patched:
        patched.setattr("os.scandir", _no_listing)  # a cached index stats the folders only, not each file
        again = ImageFolder(str(tmp_path / "images"), image_size=16)
    assert again._index.cached and again._index == first._index and again.class_names == ("a", "b")
    assert again.load().fingerprint() == first.load().fingerprint()
    # a file added to a class folder changes that folder's time: the index is read afresh
    write_images(tmp_path / "more", 1)
    (tmp_path / "more/0000.png").rename(tmp_path / "images/b/new.png")
    grown = ImageFolder(str(tmp_path / "images"), image_size=16)
    assert not grown._index.cached and "b/new.png" in grown._index.names
    # so does a new labels file beside the images
    names = grown._index.names
    (tmp_path / "images/dataset.json").write_text(json.dumps({"labels": [[n, 1] for n in names]}))
    relabelled = ImageFolder(str(tmp_path / "images"), image_size=16)
    assert not relabelled._index.cached and set(relabelled._index.labels or ()) == {1}


def test_a_zip_is_reindexed_when_the_archive_changes(tmp_path: Path) -> None:
    write_images(tmp_path / "src", 4)
    assert invoke("dataset", "pack", str(tmp_path / "src"), str(tmp_path / "d.zip"), "--size", "16", "--workers", "1").exit_code == 0
    first = ImageFolder(str(tmp_path / "d.zip"), image_size=16)
    assert not first._index.cached and ImageFolder(str(tmp_path / "d.zip"), image_size=16)._index.cached
    write_images(tmp_path / "src", 5)
    assert invoke("dataset", "pack", str(tmp_path / "src"), str(tmp_path / "d.zip"), "--size", "16", "--workers", "1", "--overwrite").exit_code == 0
    again = ImageFolder(str(tmp_path / "d.zip"), image_size=16)
    assert not again._index.cached and len(again._index.names) == 5


def test_a_file_rewritten_in_place_is_found_on_resume_and_drops_the_cached_index(tmp_path: Path) -> None:
    write_images(tmp_path / "images", 5)
    ImageFolder(str(tmp_path / "images"), image_size=16)
    split = ImageFolder(str(tmp_path / "images"), image_size=16).load()
    assert split.index.cached and split.changed_since(split.fingerprint()) is None
    write_images(tmp_path / "other", 9)
    (tmp_path / "images/0002.png").write_bytes((tmp_path / "other/0008.png").read_bytes())  # the folder's time stays
    assert ImageFolder(str(tmp_path / "images"), image_size=16)._index.cached  # the stamp cannot see it ...
    assert split.changed_since(split.fingerprint()) == f"{tmp_path / 'images'}: 1 file modified (e.g. 0002.png)"  # ... resume does
    assert not ImageFolder(str(tmp_path / "images"), image_size=16)._index.cached


def test_the_fingerprint_of_a_folder_is_the_one_runs_before_the_cache_recorded(tmp_path: Path) -> None:
    write_images(tmp_path / "images", 3, classes=("x",))
    split = ImageFolder(str(tmp_path / "images"), image_size=16, channels=1).load()
    index = split.index
    digest = hashlib.blake2b(b"image-folder size=16 channels=1", digest_size=8)
    for row in zip(index.names, index.sizes, index.times):
        digest.update("{}\0{}\0{}\n".format(*row).encode())
    digest.update(repr((index.labels, index.classes)).encode())
    assert split.fingerprint() == digest.hexdigest()


def _private_dirty_kib() -> int:
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Private_Dirty:"):
            return int(line.split()[1])
    raise AssertionError("no Private_Dirty in smaps_rollup")


def _copied_in_a_fork(read: Callable[[], int]) -> tuple[int, int]:
    """(KiB of the parent's memory a forked child copied while it ran ``read``, what ``read`` returned)."""
    gc.collect()
    gc.freeze()  # as after the parent's own collections: the child's collector leaves these alone
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker
        before = _private_dirty_kib()
        result = read()
        os.write(writer, f"{_private_dirty_kib() - before} {result}".encode())
        os._exit(0)
    os.waitpid(pid, 0)
    gc.unfreeze()
    copied, result = map(int, os.read(reader, 100).split())
    return copied, result


@pytest.mark.skipif(not Path("/proc/self/smaps_rollup").is_file() or not hasattr(os, "fork"), reason="needs Linux's /proc and fork")
def test_a_forked_worker_reads_every_name_without_copying_them(tmp_path: Path) -> None:
    """DataLoader workers are forked: reading 400k names from a tuple writes each str's
    reference count and copies ~30 MB of pages into the worker; the packed names copy none.
    What the child allocates itself lands in the parent's half-used pages too (a few MB in a
    long-lived test process), hence a comparison with the tuple rather than an absolute bar."""
    names = tuple(f"class-{i % 10}/image-{i:08d}.jpg" for i in range(400_000))
    split = ImageFiles(tmp_path, Index(names, (1,) * len(names), (0,) * len(names), None, ()), 16, 3)
    from_tuple, expected = _copied_in_a_fork(lambda: sum(len(split.index.names[i]) for i in range(len(split))))
    packed, total = _copied_in_a_fork(lambda: sum(len(split.names[i]) for i in range(len(split))))
    assert total == expected == sum(len(n) for n in names)
    assert from_tuple > 15_000, f"reading the tuple copied only {from_tuple} KiB: the measurement does not see copies"
    assert packed < from_tuple / 3, f"the worker copied {packed} KiB reading the packed names, {from_tuple} KiB from the tuple"
