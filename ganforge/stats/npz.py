"""Statistics files in pytorch-fid's format: an ``.npz`` with ``mu`` and ``sigma``."""

from __future__ import annotations

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
    """Read a statistics file (ganforge's or pytorch-fid's) into float64 tensors on ``device``."""
    path = Path(path)
    try:
        with np.load(path) as data:
            mu, sigma = data["mu"], data["sigma"]
            n = int(data["num_samples"]) if "num_samples" in data.files else 0
    except (OSError, ValueError, KeyError) as exc:
        raise GanforgeError(f"{path}: not a statistics file with 'mu' and 'sigma' ({exc}); make one with `ganforge stats`") from exc
    return FeatureStats(
        torch.from_numpy(np.asarray(mu, dtype=np.float64)).to(device),
        torch.from_numpy(np.asarray(sigma, dtype=np.float64)).to(device),
        n,
    )
