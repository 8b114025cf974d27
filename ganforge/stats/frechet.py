"""The Fréchet distance between two Gaussians, computed exactly without ``sqrtm``.

d² = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr √(Σ₁Σ₂). Only the trace of the square root is needed,
and it is a sum of square roots of eigenvalues, so it is computed from symmetric
eigenproblems:

- both sides full-rank (n ≥ d): tr √(√Σ₁ Σ₂ √Σ₁), with √Σ₁ from ``eigh`` computed once per
  reference and reused for every evaluation; only the lower triangle of the symmetric
  product is formed, which is all ``eigvalsh`` reads;
- one side low-rank (its n ≤ d vectors B kept, centred): the non-zero eigenvalues of Σ₁Σ₂ are
  those of B Σ₁ Bᵀ / (m − 1), an m × m problem;
- both low-rank: they are the squared singular values of A Bᵀ / √((n − 1)(m − 1)), so the
  trace term is that product's nuclear norm. The dense routes would pick up ~d − n spurious
  eigenvalues of order 1e-16 (each adding ~1e-8) where this one is exact.
All in float64 on the statistics' device.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from ganforge.stats.gaussian import FeatureStats, StatisticsError


def _sum_sqrt(eigenvalues: Tensor) -> Tensor:
    # Rounding leaves tiny negative eigenvalues of a PSD matrix; they are zero.
    return eigenvalues.clamp(min=0).sqrt().sum()


class FrechetReference:
    """Reference statistics prepared for repeated Fréchet distances (√Σ cached)."""

    def __init__(self, stats: FeatureStats) -> None:
        self.stats = stats
        self._sqrt_sigma: Tensor | None = None
        self._centred: Tensor | None = None

    @property
    def sqrt_sigma(self) -> Tensor:
        """The symmetric square root of the reference covariance (computed on first use)."""
        if self._sqrt_sigma is None:
            eigenvalues, eigenvectors = torch.linalg.eigh(self.stats.sigma)
            self._sqrt_sigma = (eigenvectors * eigenvalues.clamp(min=0).sqrt()) @ eigenvectors.T
        return self._sqrt_sigma

    @property
    def centred(self) -> Tensor:
        """The reference vectors minus their mean, float64 (only for low-rank statistics)."""
        if self._centred is None:
            assert self.stats.features is not None
            self._centred = _centre(self.stats)
        return self._centred

    def trace_sqrt_product(self, other: FeatureStats) -> Tensor:
        """tr √(Σ_ref Σ_other), by the cheapest exact route for the two ranks."""
        ref = self.stats
        if ref.low_rank and other.low_rank:
            product = self.centred @ _centre(other).T
            distance: Tensor = torch.linalg.svdvals(product).sum() / math.sqrt((ref.n - 1) * (other.n - 1))
            return distance
        if other.low_rank:
            return _low_rank_trace(_centre(other), ref.sigma.to(other.mu.device), other.n)
        if ref.low_rank:
            return _low_rank_trace(self.centred, other.sigma.to(ref.mu.device), ref.n)
        root = self.sqrt_sigma
        product = _lower_triangle_of_product(root @ other.sigma.to(root.device), root)
        return _sum_sqrt(torch.linalg.eigvalsh(product, UPLO="L"))

    def distance(self, other: FeatureStats) -> float:
        """The squared Fréchet distance between the reference and ``other``."""
        ref = self.stats
        if other.dim != ref.dim:
            raise StatisticsError(
                f"cannot compare {ref.dim}-d statistics with {other.dim}-d statistics (made with different extractors?)"
            )
        device = ref.mu.device
        mu = other.mu.to(device, torch.float64)
        mean_term = (ref.mu - mu).square().sum()
        traces = ref.sigma.trace() + other.sigma.to(torch.float64).trace().to(device)
        value = float(mean_term + traces - 2 * self.trace_sqrt_product(other).to(device))
        if not math.isfinite(value):
            raise ValueError("Fréchet distance is not finite: the statistics contain NaN or inf")
        return value


def _lower_triangle_of_product(left: Tensor, right: Tensor, block: int = 256) -> Tensor:
    """``left @ right`` correct on and below the diagonal (what ``eigvalsh(UPLO="L")`` reads),
    for a product known to be symmetric, by row blocks: ~55% of a full product's work at d = 2048."""
    d = left.shape[0]
    out = torch.zeros(d, d, dtype=left.dtype, device=left.device)
    for start in range(0, d, block):
        stop = min(start + block, d)
        out[start:stop, :stop] = left[start:stop] @ right[:, :stop]
    return out


def _centre(stats: FeatureStats) -> Tensor:
    assert stats.features is not None
    return stats.features.to(torch.float64) - stats.mu.to(stats.features.device)


def _low_rank_trace(centred: Tensor, sigma: Tensor, n: int) -> Tensor:
    inner = centred @ sigma.to(centred.device) @ centred.T / (n - 1)
    return _sum_sqrt(torch.linalg.eigvalsh((inner + inner.T) / 2))


def frechet_distance(a: FeatureStats, b: FeatureStats) -> float:
    """The squared Fréchet distance (the FID value) between two sets of statistics."""
    return FrechetReference(a).distance(b)


def frechet_distance_sqrtm(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """The textbook route of pytorch-fid: ``scipy.linalg.sqrtm(Σ₁Σ₂)``.

    Slow (and inaccurate when a covariance is singular); kept as the reference that
    tests and ``bench/fid.py`` compare the exact routes with.
    """
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * 1e-6
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"imaginary component {np.max(np.abs(covmean.imag))}")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))
