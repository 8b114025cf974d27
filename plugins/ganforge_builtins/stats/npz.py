"""Statistics files in pytorch-fid's format: an ``.npz`` with ``mu`` and ``sigma``."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.errors import GanforgeError
from ganforge.files import atomic_write
from ganforge_builtins.stats.gaussian import FeatureStats


def save_stats(stats: FeatureStats, path: Path | str, provenance: dict[str, Any] | None = None) -> None:
    """Write ``mu``, ``sigma`` (float64) and ``num_samples``, plus ``features`` (the vectors
    themselves) when they were kept and ``n ≤ d``; atomically (:func:`atomic_write`), so a
    killed run never leaves a truncated cache file behind, with the user's umask.

    At n ≤ d the covariance is low-rank and the exact Fréchet route needs the vectors (they
    take less room than ``sigma`` then): with them the file gives the same FID as the images it
    was made from. ``provenance`` (how the statistics were made: extractor, weights digest,
    source) is stored as a JSON string. pytorch-fid reads ``mu`` and ``sigma`` and ignores the rest."""
    arrays: dict[str, Any] = {"mu": stats.mu.cpu().numpy(), "sigma": stats.sigma.cpu().numpy(), "num_samples": np.int64(stats.n)}
    if provenance is not None:
        arrays["provenance"] = np.array(json.dumps(provenance, sort_keys=True, default=str))
    if stats.low_rank:
        assert stats.features is not None
        arrays["features"] = stats.features.cpu().numpy()
    atomic_write(path, lambda f: np.savez(f, **arrays))


def load_stats(path: Path | str, device: torch.device | str = "cpu") -> FeatureStats:
    """Read a statistics file (ganforge's or pytorch-fid's) into float64 tensors on ``device``
    (and its ``features``, when it holds them, as they were saved).

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
            features = data["features"] if "features" in data.files else None
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
    if features is not None and features.shape != (n, np.shape(mu)[0]):
        raise GanforgeError(f"{path}: 'features' has shape {features.shape}, expected ({n}, {np.shape(mu)[0]}); rewrite it with `ganforge stats`")
    return FeatureStats(
        torch.from_numpy(np.asarray(mu, dtype=np.float64)).to(device),
        torch.from_numpy(np.asarray(sigma, dtype=np.float64)).to(device),
        n,
        None if features is None else torch.from_numpy(np.asarray(features)).to(device),
    )


def stats_provenance(path: Path | str) -> dict[str, Any] | None:
    """The provenance stored in a statistics file by :func:`save_stats`, or None (e.g. pytorch-fid's)."""
    try:
        with np.load(path) as data:
            if "provenance" not in data.files:
                return None
            parsed = json.loads(str(data["provenance"]))
    except (OSError, ValueError):
        return None
    return parsed if isinstance(parsed, dict) else None
