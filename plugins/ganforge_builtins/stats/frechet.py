"""The Fréchet distance between two Gaussians, computed exactly without ``sqrtm``.

d² = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr √(Σ₁Σ₂). Only the trace of the square root is needed,
and it is a sum of square roots of eigenvalues. Write the reference covariance as a product
Σ₁ = F Fᵀ; then Σ₁Σ₂ has the non-zero eigenvalues of the symmetric Fᵀ Σ₂ F, so
tr √(Σ₁Σ₂) = Σ √eig(Fᵀ Σ₂ F). The routes, by what the statistics hold:

- ``cholesky`` (both dense, full rank): F = L, the Cholesky factor (a third of an ``eigh``'s
  work, cached by :class:`FrechetReference`); Lᵀ Σ₂ L takes two triangular products, formed
  only where ``eigvalsh`` reads them (one matmul's work in all), and one ``eigvalsh``.
- ``low-rank`` (one side's n ≤ d vectors kept, centred, B = Xᵀ/√(n − 1)): the n × n problem
  Bᵀ Σ_other B; both sides kept: the singular values of AᵀB (the nuclear norm), exact where
  the dense routes would pick up ~d − n spurious eigenvalues of order 1e-16 (each adding ~1e-8).
- ``eigh-rank`` (dense statistics of n ≤ d vectors, e.g. an ``.npz`` without its vectors): Σ
  has rank ≤ n − 1, so F is its top n − 1 eigenpairs, V √Λ; the same value as ``low-rank`` to
  float64 rounding.
- ``eigh`` (fallback, a singular dense Σ₁ of unknown rank: Cholesky fails, or a pivot is below
  d·ε of the largest diagonal): F = V √Λ over the eigenvalues above d·ε·λ_max.

All in float64 on the statistics' device (a GPU when they live there).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from ganforge_builtins.stats.gaussian import FeatureStats, StatisticsError

#: Names of the routes, as :attr:`FrechetReference.last_route` reports them.
ROUTES = ("cholesky", "low-rank", "eigh-rank", "eigh")


def _sum_sqrt(eigenvalues: Tensor) -> Tensor:
    # Rounding leaves tiny negative eigenvalues of a PSD matrix; they are zero.
    return eigenvalues.clamp(min=0).sqrt().sum()


def _centre(stats: FeatureStats) -> Tensor:
    assert stats.features is not None
    return stats.features.to(torch.float64) - stats.mu.to(stats.features.device)


def known_rank_factor(stats: FeatureStats) -> tuple[Tensor, str] | None:
    """F (d × r) with Σ = F Fᵀ when Σ's rank is known to be below d, else ``None``: from the
    kept vectors (``low-rank``) or, for dense statistics of n ≤ d vectors, from the top n − 1
    eigenpairs (``eigh-rank``)."""
    if stats.low_rank:
        return _centre(stats).T / math.sqrt(stats.n - 1), "low-rank"
    if 2 <= stats.n <= stats.dim:
        eigenvalues, eigenvectors = torch.linalg.eigh(stats.sigma.to(torch.float64))
        top = stats.n - 1
        return eigenvectors[:, -top:] * eigenvalues[-top:].clamp(min=0).sqrt(), "eigh-rank"
    return None


def dense_factor(sigma: Tensor) -> tuple[Tensor, str]:
    """F with Σ = F Fᵀ for a dense covariance: its lower Cholesky factor, or, when Σ is
    numerically singular, V √Λ over the eigenvalues above d·ε·λ_max (``eigh``)."""
    d = sigma.shape[0]
    tolerance = d * torch.finfo(torch.float64).eps
    factor, info = torch.linalg.cholesky_ex(sigma)
    if int(info) == 0:
        pivots = factor.diagonal().square()
        if float(pivots.min()) > tolerance * float(sigma.diagonal().max()):
            return factor, "cholesky"
    eigenvalues, eigenvectors = torch.linalg.eigh(sigma)
    keep = eigenvalues > tolerance * eigenvalues[-1].clamp(min=0)
    return eigenvectors[:, keep] * eigenvalues[keep].sqrt(), "eigh"


def congruence_lower(lower: Tensor, sigma: Tensor, block: int = 256) -> Tensor:
    """Lᵀ Σ L on and below its diagonal blocks (nothing meaningful above), for lower-triangular
    L and symmetric Σ.

    ``eigvalsh(UPLO="L")`` reads nothing else, so only what it reads is formed, by column
    blocks of width ``block``: Y = Σ L below its diagonal blocks (L's zeros skipped: 2/3 of
    a matmul's multiply-adds), then Lᵀ Y on and below the diagonal blocks (1/3): one matmul's
    work in all, where two full products would take two."""
    d = lower.shape[0]
    # Left uninitialised where nothing is written: those entries are never read, here or by eigvalsh.
    y = torch.empty_like(sigma)
    for start in range(0, d, block):
        stop = min(start + block, d)
        y[start:, start:stop] = sigma[start:, start:] @ lower[start:, start:stop]
    out = torch.empty_like(sigma)
    for start in range(0, d, block):
        stop = min(start + block, d)
        out[start:stop, :stop] = lower[start:, start:stop].T @ y[start:, :stop]
    return out


def _congruence(factor: Tensor, sigma: Tensor, route: str) -> Tensor:
    """Fᵀ Σ F, correct on and below the diagonal (what ``eigvalsh(UPLO="L")`` reads)."""
    sigma = sigma.to(factor.device, torch.float64)
    if route == "cholesky" and factor.device.type == "cpu":
        return congruence_lower(factor, sigma)
    return factor.T @ (sigma @ factor)  # on a GPU the full products are the faster launch


def _eigvalsh_lower(matrix: Tensor) -> Tensor:
    """Eigenvalues of the symmetric matrix whose lower triangle ``matrix`` holds (overwritten:
    callers pass a temporary). On the CPU
    through SciPy's LAPACK ``syevr`` (~20% faster than torch's ``eigvalsh`` at d = 2048 on one
    thread, measured interleaved): the C-ordered array is read, without a copy, as its Fortran
    transpose, whose upper triangle that is."""
    if matrix.device.type == "cpu" and matrix.dtype == torch.float64 and matrix.shape[0] > 64:
        from scipy.linalg import eigvalsh

        values = eigvalsh(matrix.contiguous().numpy().T, lower=False, driver="evr", check_finite=False, overwrite_a=True)
        return torch.from_numpy(np.ascontiguousarray(values))
    eigenvalues: Tensor = torch.linalg.eigvalsh(matrix, UPLO="L")
    return eigenvalues


class FrechetReference:
    """Reference statistics prepared for repeated Fréchet distances: the factor F of its
    covariance (Cholesky, or the kept vectors) is computed once and reused for every
    evaluation, as during training. :attr:`last_route` names the route the last
    :meth:`distance` took (one of :data:`ROUTES`)."""

    def __init__(self, stats: FeatureStats) -> None:
        self.stats = stats
        self._factor: tuple[Tensor, str] | None = None
        self.last_route: str | None = None

    @property
    def factor(self) -> tuple[Tensor, str]:
        """``(F, route)`` with Σ_ref = F Fᵀ (computed on first use)."""
        if self._factor is None:
            self._factor = known_rank_factor(self.stats) or dense_factor(self.stats.sigma.to(torch.float64))
        return self._factor

    @property
    def centred(self) -> Tensor:
        """The reference vectors minus their mean, float64 (only for low-rank statistics)."""
        return _centre(self.stats)

    def trace_sqrt_product(self, other: FeatureStats) -> Tensor:
        """tr √(Σ_ref Σ_other), by the cheapest exact route for the two ranks."""
        device = self.stats.mu.device
        other_thin = known_rank_factor(other.to(device))
        ref_factor, ref_route = self.factor
        if other_thin is not None and ref_route != "cholesky":
            self.last_route = "low-rank" if "low-rank" in (ref_route, other_thin[1]) else "eigh-rank"
            trace: Tensor = torch.linalg.svdvals(ref_factor.T @ other_thin[0]).sum()
            return trace
        if other_thin is not None:  # an r × r problem on the other side's factor
            self.last_route = other_thin[1]
            return _sum_sqrt(_eigvalsh_lower(_congruence(other_thin[0], self.stats.sigma, other_thin[1])))
        self.last_route = ref_route
        return _sum_sqrt(_eigvalsh_lower(_congruence(ref_factor, other.sigma, ref_route)))

    def distance(self, other: FeatureStats) -> float:
        """The squared Fréchet distance between the reference and ``other``."""
        ref = self.stats
        if other.dim != ref.dim:
            raise StatisticsError(
                f"cannot compare {ref.dim}-d statistics with {other.dim}-d statistics (made with different extractors?)"
            )
        device = ref.mu.device
        mu = other.mu.to(device, torch.float64)
        mean_term = (ref.mu.to(torch.float64) - mu).square().sum()
        traces = ref.sigma.to(torch.float64).trace() + other.sigma.to(device, torch.float64).trace()
        value = float(mean_term + traces - 2 * self.trace_sqrt_product(other).to(device))
        if not math.isfinite(value):
            raise ValueError("Fréchet distance is not finite: the statistics contain NaN or inf")
        return value


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
