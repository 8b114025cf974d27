"""Gaussian statistics of feature vectors, accumulated in float64 on the features' device."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class FeatureStats:
    """Mean ``mu`` (d,), unbiased covariance ``sigma`` (d, d), both float64, of ``n`` vectors.

    ``features`` (n, d) keeps the vectors themselves when they were kept: the Fréchet
    distance uses them when ``n < d``, where the covariance is low-rank.
    """

    mu: Tensor
    sigma: Tensor
    n: int
    features: Tensor | None = None

    def __post_init__(self) -> None:
        d = self.mu.shape[0]
        if self.mu.ndim != 1 or self.sigma.shape != (d, d):
            raise ValueError(f"statistics need mu (d,) and sigma (d, d), got {tuple(self.mu.shape)} and {tuple(self.sigma.shape)}")

    @property
    def dim(self) -> int:
        return self.mu.shape[0]

    @property
    def low_rank(self) -> bool:
        """True when the vectors are kept and fewer than the dimension (sigma has rank < d)."""
        return self.features is not None and self.n <= self.dim

    def to(self, device: torch.device | str) -> FeatureStats:
        features = None if self.features is None else self.features.to(device)
        return FeatureStats(self.mu.to(device), self.sigma.to(device), self.n, features)

    @classmethod
    def from_features(cls, features: Tensor, keep: bool = True) -> FeatureStats:
        """Statistics of ``features`` (n, d); ``keep`` stores the vectors alongside."""
        running = RunningStats(keep_features=keep)
        running.update(features)
        return running.finalize()


class RunningStats:
    """Accumulates mean and covariance of feature batches in float64.

    Sums are taken relative to a shift (the first batch's mean), which avoids the
    cancellation of ``E[xx^T] - mu mu^T`` when features have a large mean; the result
    does not depend on the batch size beyond float64 rounding.
    """

    def __init__(self, keep_features: bool = False) -> None:
        self.keep_features = keep_features
        self.n = 0
        self._shift: Tensor | None = None
        self._sum: Tensor | None = None
        self._outer: Tensor | None = None
        self._kept: list[Tensor] = []

    def update(self, features: Tensor) -> None:
        """Add a batch of vectors (n, d), any floating dtype."""
        if features.ndim != 2:
            raise ValueError(f"features must be (n, d), got shape {tuple(features.shape)}")
        if features.shape[0] == 0:
            return
        x = features.detach().to(torch.float64)
        if self._shift is None:
            self._shift = x.mean(dim=0)
            d = x.shape[1]
            self._sum = torch.zeros(d, dtype=torch.float64, device=x.device)
            self._outer = torch.zeros(d, d, dtype=torch.float64, device=x.device)
        centred = x - self._shift
        self._sum += centred.sum(dim=0)
        self._outer.addmm_(centred.T, centred)
        self.n += x.shape[0]
        if self.keep_features:
            self._kept.append(features.detach())

    def finalize(self) -> FeatureStats:
        """Mean and unbiased (n - 1) covariance of everything added."""
        if self.n < 2 or self._sum is None or self._outer is None or self._shift is None:
            raise ValueError(f"statistics need at least 2 vectors, got {self.n}")
        mean_shifted = self._sum / self.n
        sigma = (self._outer - self.n * torch.outer(mean_shifted, mean_shifted)) / (self.n - 1)
        sigma = (sigma + sigma.T) / 2  # exact symmetry for eigh
        features = torch.cat(self._kept) if self.keep_features else None
        return FeatureStats(self._shift + mean_shifted, sigma, self.n, features)
