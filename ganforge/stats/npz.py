"""Statistics files in pytorch-fid's format: an ``.npz`` with ``mu`` and ``sigma``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from ganforge.errors import GanforgeError
from ganforge.stats.gaussian import FeatureStats


def save_stats(stats: FeatureStats, path: Path | str) -> None:
    """Write ``mu``, ``sigma`` (float64) and ``num_samples``, plus ``features`` (the vectors
    themselves) when they were kept and ``n ≤ d``; atomically, so a killed run never leaves a
    truncated cache file behind.

    At n ≤ d the covariance is low-rank and the exact Fréchet route needs the vectors (they
    take less room than ``sigma`` then): with them the file gives the same FID as the images it
    was made from. pytorch-fid reads ``mu`` and ``sigma`` and ignores the rest."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            arrays = {"mu": stats.mu.cpu().numpy(), "sigma": stats.sigma.cpu().numpy(), "num_samples": np.int64(stats.n)}
            if stats.low_rank:
                assert stats.features is not None
                arrays["features"] = stats.features.cpu().numpy()
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_stats(path: Path | str, device: torch.device | str = "cpu") -> FeatureStats:
    """Read a statistics file (ganforge's or pytorch-fid's) into float64 tensors on ``device``
    (and its ``features``, when it holds them, as they were saved)."""
    path = Path(path)
    try:
        with np.load(path) as data:
            mu, sigma = data["mu"], data["sigma"]
            n = int(data["num_samples"]) if "num_samples" in data.files else 0
            features = data["features"] if "features" in data.files else None
    except (OSError, ValueError, KeyError) as exc:
        raise GanforgeError(f"{path}: not a statistics file with 'mu' and 'sigma' ({exc}); make one with `ganforge stats`") from exc
    return FeatureStats(
        torch.from_numpy(np.asarray(mu, dtype=np.float64)).to(device),
        torch.from_numpy(np.asarray(sigma, dtype=np.float64)).to(device),
        n,
        None if features is None else torch.from_numpy(np.asarray(features)).to(device),
    )
