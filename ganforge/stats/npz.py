"""Statistics files in pytorch-fid's format: an ``.npz`` with ``mu`` and ``sigma``."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch

from ganforge.errors import GanforgeError
from ganforge.files import atomic_write
from ganforge.stats.gaussian import FeatureStats


def save_stats(stats: FeatureStats, path: Path | str) -> None:
    """Write ``mu``, ``sigma`` (float64) and ``num_samples``; atomically (:func:`atomic_write`), so
    a killed run never leaves a truncated cache file behind, with the user's umask."""
    mu, sigma = stats.mu.cpu().numpy(), stats.sigma.cpu().numpy()
    atomic_write(path, lambda f: np.savez(f, mu=mu, sigma=sigma, num_samples=np.int64(stats.n)))


def load_stats(path: Path | str, device: torch.device | str = "cpu") -> FeatureStats:
    """Read a statistics file (ganforge's or pytorch-fid's) into float64 tensors on ``device``.

    Refused in one line naming the file: not an ``.npz`` archive, ``mu``/``sigma`` missing,
    not numbers (pickled objects are never loaded), shapes other than ``(d,)`` and ``(d, d)``,
    NaN or infinite values."""
    path = Path(path)
    fix = "make one with `ganforge stats`"
    if path.is_file() and not zipfile.is_zipfile(path):
        raise GanforgeError(f"{path}: not an .npz statistics file (not a zip archive; truncated or another format?); {fix}")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in ("mu", "sigma") if key not in data.files]
            if missing:
                raise GanforgeError(f"{path}: not a statistics file with 'mu' and 'sigma' (no {' or '.join(repr(k) for k in missing)}; it has {', '.join(data.files) or 'nothing'}); {fix}")
            mu, sigma = data["mu"], data["sigma"]
            n = int(data["num_samples"]) if "num_samples" in data.files else 0
    except GanforgeError:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        raise GanforgeError(f"{path}: not a statistics file with 'mu' and 'sigma' ({' '.join(str(exc).split()) or type(exc).__name__}); {fix}") from None
    if not (np.issubdtype(mu.dtype, np.number) and np.issubdtype(sigma.dtype, np.number)):
        raise GanforgeError(f"{path}: mu and sigma must be numbers, not {mu.dtype} and {sigma.dtype}; {fix}")
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise GanforgeError(f"{path}: mu must have shape (d,) and sigma (d, d), not {mu.shape} and {sigma.shape}; {fix}")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise GanforgeError(f"{path}: mu or sigma holds NaN or infinite values; {fix}")
    return FeatureStats(
        torch.from_numpy(np.asarray(mu, dtype=np.float64)).to(device),
        torch.from_numpy(np.asarray(sigma, dtype=np.float64)).to(device),
        n,
    )
