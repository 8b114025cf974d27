"""Atomic writes: the user's umask, one-line errors naming path and cause, the previous file intact;
one image writer for run pictures and `ganforge sample`."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import IO, Iterator

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge import files
from ganforge.checkpoint import load_checkpoint, save_checkpoint
from ganforge.errors import GanforgeError
from ganforge.files import WriteError, atomic_write, current_umask
from ganforge_builtins.stats import save_stats
from ganforge_builtins.stats.gaussian import FeatureStats

from .conftest import invoke


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def stats(n: int = 3) -> FeatureStats:
    return FeatureStats(torch.zeros(n, dtype=torch.float64), torch.eye(n, dtype=torch.float64), 10)


def test_umask_is_read_without_changing_it(umask_022: None) -> None:
    assert current_umask() == 0o022 and os.umask(0o022) == 0o022


def test_checkpoints_stats_and_grids_keep_the_umask(tmp_path: Path, umask_022: None) -> None:
    save_checkpoint({"step": 1}, tmp_path / "c.pt")
    save_stats(stats(), tmp_path / "s.npz")
    atomic_write(tmp_path / "x.bin", lambda f: f.write(b"x"))
    assert [mode(tmp_path / n) for n in ("c.pt", "s.npz", "x.bin")] == [0o644, 0o644, 0o644]
    os.umask(0o077)
    save_checkpoint({"step": 2}, tmp_path / "private.pt")
    assert mode(tmp_path / "private.pt") == 0o600


def test_a_run_writes_its_files_with_the_umask(tiny_spec: Path, tmp_path: Path, umask_022: None) -> None:
    out = tmp_path / "run"
    assert invoke("run", str(tiny_spec), "--out", str(out), "--quiet", "--set", "train.steps=2").exit_code == 0
    written = [p for p in out.rglob("*") if p.is_file()]
    assert written and {p.relative_to(out).as_posix(): mode(p) for p in written} == {p.relative_to(out).as_posix(): 0o644 for p in written}


def failing_write(monkeypatch: pytest.MonkeyPatch, after: int = 100) -> None:
    """Every write through atomic_write fails with ENOSPC after ``after`` bytes (a full disk)."""
    real = files._Recording.write

    def write(self: files._Recording, data: bytes) -> int:
        written = getattr(self, "_written", 0)
        if written + len(data) > after:
            real(self, bytes(data)[: max(0, after - written)])
            self.error = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            raise self.error
        self._written = written + len(data)  # type: ignore[attr-defined]
        return real(self, data)

    monkeypatch.setattr(files._Recording, "write", write)


@pytest.mark.parametrize("what", ["checkpoint", "stats", "grid"])
def test_a_write_that_fails_half_way_raises_one_line_and_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    from ganforge.imaging import write_grid

    path = tmp_path / {"checkpoint": "last.pt", "stats": "ref.npz", "grid": "grid.png"}[what]
    write = {
        "checkpoint": lambda: save_checkpoint({"step": 7, "w": torch.randn(1000)}, path),
        "stats": lambda: save_stats(stats(64), path),
        "grid": lambda: write_grid(torch.rand(16, 1, 28, 28) * 2 - 1, 4, path),
    }[what]
    write()
    before = path.read_bytes()
    failing_write(monkeypatch)
    with pytest.raises(WriteError) as caught:
        write()
    assert str(caught.value) == f"cannot write {path}: no space left on device; the previous file there (if any) is intact"
    assert isinstance(caught.value, GanforgeError) and "\n" not in str(caught.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary file left behind


def test_a_failing_sync_or_rename_is_a_write_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.EIO, "Input/output error")))
    with pytest.raises(WriteError, match="cannot write .*c.pt: Input/output error"):
        save_checkpoint({"step": 1}, tmp_path / "c.pt")
    assert list(tmp_path.iterdir()) == []


def test_a_directory_that_cannot_be_made_is_a_write_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(WriteError) as caught:
        save_stats(stats(), tmp_path / "file" / "stats.npz")
    assert str(caught.value) == f"cannot make the folder {tmp_path / 'file'}: {tmp_path / 'file'} is a file"
    (tmp_path / "locked").mkdir(mode=0o500)
    if os.geteuid() != 0:  # root writes anywhere
        with pytest.raises(WriteError, match="cannot write .*locked/sub: Permission denied; "):
            save_stats(stats(), tmp_path / "locked" / "sub" / "stats.npz")


def test_errors_of_the_writer_itself_propagate(tmp_path: Path) -> None:
    def broken(f: IO[bytes]) -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        atomic_write(tmp_path / "x", broken)
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_during_a_run_stops_it_in_one_line_with_the_last_checkpoint_intact(
    tiny_spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    assert invoke("run", str(tiny_spec), "--out", str(out), "--quiet", "--set", "train.steps=2").exit_code == 0
    before = (out / "checkpoints/last.pt").read_bytes()
    real = files.atomic_write

    def full_for_checkpoints(path: Path | str, write, *, sync: bool = True) -> None:  # type: ignore[no-untyped-def]
        if Path(path).suffix == ".pt":
            raise WriteError(path, OSError(errno.ENOSPC, "No space left on device"))
        real(path, write, sync=sync)

    monkeypatch.setattr("ganforge.checkpoint.atomic_write", full_for_checkpoints)
    result = invoke("run", str(tiny_spec), "--out", str(out), "--quiet", "--set", "train.steps=4", "--resume")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: cannot write {out / 'checkpoints/last.pt'}: no space left on device; the previous file there (if any) is intact"
    )
    assert "Traceback" not in result.output
    assert (out / "checkpoints/last.pt").read_bytes() == before and load_checkpoint(out / "checkpoints/last.pt")["step"] == 2
    status = json.loads((out / "status.json").read_text())
    assert status["status"] == "failed" and "no space left on device" in status["message"]


def test_run_pictures_and_sample_use_one_writer(tiny_spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert invoke("run", str(tiny_spec), "--out", str(out), "--quiet", "--set", "train.steps=2").exit_code == 0
    with Image.open(out / "samples/step_0000002.png") as picture:
        assert picture.mode == "L"
    assert invoke("sample", str(out), "--n", "4", "--out", str(tmp_path / "grid.png")).exit_code == 0
    with Image.open(tmp_path / "grid.png") as picture:
        assert picture.mode == "L"
    colour = tmp_path / "colour"
    result = invoke("run", str(tiny_spec), "--out", str(colour), "--quiet", "--set", "train.steps=1", "--set", "data.channels=3")
    assert result.exit_code == 0, result.output
    with Image.open(colour / "samples/step_0000001.png") as picture:
        assert picture.mode == "RGB" and np.asarray(picture).shape[2] == 3
