"""Writing files atomically, with the user's umask, and one-line errors when a write fails.

Checkpoints, statistics files, sample pictures and a run's status all go through
:func:`atomic_write`: the bytes go to a temporary file in the same directory, which is flushed,
synced and renamed over the target, so a kill or a full disk at any moment leaves either the
previous file or the new one, never a torn one. ``mkstemp`` creates files mode 0600; the
temporary file is given ``0666 & ~umask`` first (0644 under the usual umask 022), the mode
``open()`` would have given, so colleagues on a shared cluster can read what a run wrote.
"""

from __future__ import annotations

import errno
import os
import tempfile
import threading
from pathlib import Path
from typing import IO, Callable

from ganforge.errors import GanforgeError

_UMASK_LOCK = threading.Lock()


class WriteError(GanforgeError):
    """A file could not be written (disk full, read-only or missing directory, permissions).
    The previous file at that path, if any, is intact."""

    def __init__(self, path: Path | str, cause: OSError, message: str | None = None) -> None:
        self.path = Path(path)
        self.cause = cause
        reason = cause.strerror or str(cause) or type(cause).__name__
        if cause.errno == errno.ENOSPC:
            reason = "no space left on device"
        super().__init__(message or f"cannot write {self.path}: {reason}; the previous file there (if any) is intact")


def current_umask() -> int:
    """The process's umask, read without changing it where Linux tells it (``/proc/self/status``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:  # elsewhere the only way to read it is to set it
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


class _Recording:
    """A binary file that remembers the OSError its write raised: libraries such as torch.save
    turn it into a RuntimeError, and the cause must still be reported as a failed write."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.error: OSError | None = None

    def write(self, data: bytes) -> int:  # type: ignore[override]
        try:
            return self.file.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def __getattr__(self, name: str) -> object:
        return getattr(self.file, name)


def make_directory(path: Path) -> Path:
    """``mkdir -p path``, or a :class:`WriteError` in one line (a file in the way, not permitted)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
        raise WriteError(path, exc, f"cannot make the folder {path}: {blocker} is a file" if blocker else None) from None
    return path


def atomic_write(path: Path | str, write: Callable[[IO[bytes]], object], *, sync: bool = True) -> None:
    """Create or replace ``path`` with what ``write(file)`` writes into a binary file.

    Raises :class:`WriteError` (one line: the path and the cause) when the directory cannot be
    made, the file cannot be written (ENOSPC, read-only directory) or renamed; the temporary file
    is removed and a previous file at ``path`` is left as it was. Errors of ``write`` itself that
    are not failed writes propagate unchanged.
    """
    path = Path(path)
    make_directory(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise WriteError(path, exc) from None
    recording: _Recording | None = None
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), 0o666 & ~current_umask())
            recording = _Recording(file)
            write(recording)  # type: ignore[arg-type]
            file.flush()
            if sync:
                os.fsync(file.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise WriteError(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        if recording is not None and recording.error is not None:
            raise WriteError(path, recording.error) from None
        raise


def atomic_write_text(path: Path | str, text: str, *, sync: bool = False) -> None:
    """:func:`atomic_write` for UTF-8 text (small bookkeeping files: status, logs)."""
    atomic_write(path, lambda file: file.write(text.encode("utf-8")), sync=sync)
