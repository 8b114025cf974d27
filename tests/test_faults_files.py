"""Fault suite, files: damaged checkpoints given to `sample` and `eval`, damaged statistics files
given to `fid`, image folders with empty, corrupt, non-image and decompression-bomb files given to
`fid` and `stats`: one clear line each, nothing else lost, never a traceback."""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.checkpoint import sealed
from ganforge_builtins.data.image_files import MAX_IMAGE_PIXELS

from .conftest import invoke


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ganforge.plugins import Plugins, set_plugins

    from .conftest import TINY_SPEC

    root = tmp_path_factory.mktemp("faults-files")
    (root / "tiny.yaml").write_text(TINY_SPEC)
    set_plugins(Plugins.create())
    try:
        result = invoke("run", str(root / "tiny.yaml"), "--out", str(root / "run"), "--quiet", "--set", "train.steps=2")
    finally:
        set_plugins(None)
    assert result.exit_code == 0, result.output
    return root


def edit(change: Callable[[dict], None]) -> Callable[[bytes, Path], None]:
    """A checkpoint saved with ``change`` made (its digest matches: what a run could have written)."""

    def damage(good: bytes, path: Path) -> None:
        state = torch.load(path, weights_only=True)
        change(state)
        torch.save(sealed(state), path)

    return damage


def flip_weight_byte(good: bytes, path: Path) -> None:
    """One byte inside the generator's largest weight flipped on disk: a bit rot or a bad copy."""
    state = torch.load(path, weights_only=True)
    weight = max(state["ema"].values(), key=lambda t: t.numel())
    at = good.find(weight.numpy().tobytes()[:64])
    assert at > 0
    path.write_bytes(good[: at + 20] + bytes([good[at + 20] ^ 0x10]) + good[at + 21 :])


def nan_weights(state: dict) -> None:
    state["ema"] = {k: v * float("nan") if v.is_floating_point() else v for k, v in state["ema"].items()}


def cut_weights(state: dict) -> None:
    state["ema"] = {k: v[:1] if v.dim() else v for k, v in state["ema"].items()}


#: (case, how to damage a good checkpoint, the expected fragment)
CHECKPOINTS = [
    ("empty", lambda good, path: path.write_bytes(b""), "the file is empty"),
    ("truncated-half", lambda good, path: path.write_bytes(good[: len(good) // 2]), "truncated or corrupted"),
    ("truncated-header", lambda good, path: path.write_bytes(good[:40]), "truncated or corrupted"),
    ("text", lambda good, path: path.write_text("not a checkpoint\n"), "not a torch checkpoint"),
    ("garbage-header", lambda good, path: path.write_bytes(b"\x00" * 512 + good[512:]), "cannot read checkpoint"),
    ("not-a-mapping", lambda good, path: torch.save([1, 2, 3], path), "is not a ganforge checkpoint (found list"),
    ("flipped-byte", flip_weight_byte, "do not match the digest written with them"),
    ("edited-without-digest", lambda good, path: torch.save({**torch.load(path, weights_only=True), "step": 7}, path), "do not match the digest"),
    ("weights-not-tensors", edit(lambda s: s.__setitem__("ema", 5)), "the generator weights are not a state dict of tensors"),
    ("nan-weights", edit(nan_weights), "the generator weights hold NaN or infinite values"),
    ("wrong-shapes", edit(cut_weights), "the weights do not fit the spec's generator (size mismatch for"),
    ("no-spec", edit(lambda s: s.pop("spec")), "holds no spec"),
    ("spec-damaged", edit(lambda s: s.__setitem__("spec", {"generator": 3})), "missing required section"),
]


@pytest.mark.parametrize(("case", "damage", "fragment"), CHECKPOINTS, ids=[c[0] for c in CHECKPOINTS])
@pytest.mark.parametrize("command", ["sample", "eval"])
def test_a_damaged_checkpoint_is_one_line(trained: Path, tmp_path: Path, command: str, case: str, damage: Callable, fragment: str) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained / "run", run)
    path = run / "checkpoints/last.pt"
    good = path.read_bytes()
    damage(good, path)
    args = ["sample", str(run), "--n", "4", "--out", str(tmp_path / "grid.png")] if command == "sample" else ["eval", str(run), "--metric", "{name: mode-coverage}"]
    result = invoke(*args, "--device", "cpu")
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == (4 if case == "spec-damaged" else 1), result.stderr  # one line per problem
    assert all(line.startswith("Error: ") for line in lines) and fragment in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "grid.png").exists()
    assert (run / "spec.yaml").read_bytes() == (trained / "run/spec.yaml").read_bytes()  # nothing else touched


def write_npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


D = 768  # the classifier extractor's feature size
STATS = [
    ("missing-mu", lambda p: write_npz(p, sigma=np.eye(D)), "(no 'mu'; it has sigma)"),
    ("missing-both", lambda p: write_npz(p, mean=np.zeros(D)), "(no 'mu' or 'sigma'; it has mean)"),
    ("sigma-not-square", lambda p: write_npz(p, mu=np.zeros(D), sigma=np.zeros((D, 3))), "mu must have shape (d,) and sigma (d, d)"),
    ("mu-2d", lambda p: write_npz(p, mu=np.zeros((D, D)), sigma=np.eye(D)), "mu must have shape (d,) and sigma (d, d)"),
    ("nan-mu", lambda p: write_npz(p, mu=np.full(D, np.nan), sigma=np.eye(D)), "mu or sigma holds NaN or infinite values"),
    ("inf-sigma", lambda p: write_npz(p, mu=np.zeros(D), sigma=np.eye(D) * np.inf), "mu or sigma holds NaN or infinite values"),
    ("strings", lambda p: write_npz(p, mu=np.array(["a"] * D), sigma=np.eye(D)), "mu and sigma must be numbers"),
    ("pickled-objects", lambda p: write_npz(p, mu=np.array([object()], dtype=object), sigma=np.eye(1)), "Object arrays cannot be loaded"),
    ("other-dimension", lambda p: write_npz(p, mu=np.zeros(4), sigma=np.eye(4)), "cannot compare 4-d statistics with 768-d statistics"),
    ("not-a-zip", lambda p: p.write_bytes(b"junk"), "not an .npz statistics file (not a zip archive"),
    ("truncated", lambda p: p.write_bytes(write_npz(p, mu=np.zeros(D), sigma=np.eye(D)).read_bytes()[:1000]), "not an .npz statistics file"),
    ("empty", lambda p: p.write_bytes(b""), "not an .npz statistics file"),
]


@pytest.mark.parametrize(("case", "write", "fragment"), STATS, ids=[s[0] for s in STATS])
def test_a_damaged_statistics_file_is_one_line(tmp_path: Path, classifier_file: str, case: str, write: Callable, fragment: str) -> None:
    good = write_npz(tmp_path / "good.npz", mu=np.zeros(D), sigma=np.eye(D))
    bad = tmp_path / "bad.npz"
    write(bad)
    result = invoke("fid", str(bad), str(good), "--extractor", f"{{name: classifier, weights: {classifier_file}}}", "--device", "cpu")
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr
    assert "Traceback" not in result.output


def png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims ``width`` x ``height`` pixels: a decompression bomb's shape,
    a few bytes on disk (PIL refuses it from the header alone)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def bad_folder(folder: Path, good: int = 5) -> list[str]:
    """``good`` readable 28x28 images plus one file of each bad kind; returns the bad names."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(good):
        Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8)).save(folder / f"ok{i}.png")
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.jpg").write_text("this is not an image")
    data = (folder / "ok0.png").read_bytes()
    (folder / "truncated.png").write_bytes(data[: len(data) // 2])
    (folder / "garbage.bmp").write_bytes(b"BM" + bytes(rng.integers(0, 255, 200, dtype=np.uint8)))
    png_header_only(folder / "bomb-over-limit.png", 9000, 9000)  # 81 Mpx: above the limit, below PIL's own error
    png_header_only(folder / "bomb-huge.png", 100_000, 100_000)
    (folder / "notes.txt").write_text("not an image extension: ignored")
    return ["bomb-huge.png", "bomb-over-limit.png", "empty.png", "garbage.bmp", "text.jpg", "truncated.png"]


def test_stats_reports_and_skips_each_bad_image(tmp_path: Path, classifier_file: str) -> None:
    assert MAX_IMAGE_PIXELS < 9000 * 9000
    bad = bad_folder(tmp_path / "images")
    out = tmp_path / "ref.npz"
    result = invoke("stats", str(tmp_path / "images"), "--extractor", f"{{name: classifier, weights: {classifier_file}}}", "--out", str(out), "--device", "cpu")
    assert result.exit_code == 0, result.output
    warnings = sorted(line for line in result.stderr.splitlines() if line.startswith("Warning: skipped "))
    assert [Path(w.split()[2].rstrip(":")).name for w in warnings] == bad, result.stderr
    assert "decompression bomb" in result.stderr and "empty file" in result.stderr and "not an image file" in result.stderr
    assert "wrote" in result.stdout and "5 samples" in result.stdout
    assert "Traceback" not in result.output


def test_fid_skips_bad_images_in_both_folders(tmp_path: Path, classifier_file: str) -> None:
    bad_folder(tmp_path / "a")
    bad_folder(tmp_path / "b")
    result = invoke("fid", str(tmp_path / "a"), str(tmp_path / "b"), "--extractor", f"{{name: classifier, weights: {classifier_file}}}", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("FID: ")
    assert sum(line.startswith("Warning: skipped ") for line in result.stderr.splitlines()) == 12


def test_a_folder_with_no_readable_image_is_one_line(tmp_path: Path, classifier_file: str) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"")
    (folder / "b.png").write_text("no")
    result = invoke("stats", str(folder), "--extractor", f"{{name: classifier, weights: {classifier_file}}}", "--out", str(tmp_path / "x.npz"), "--device", "cpu")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == f"Error: {folder}: none of the 2 image files could be read (see the warnings above)"
    assert not (tmp_path / "x.npz").exists()
