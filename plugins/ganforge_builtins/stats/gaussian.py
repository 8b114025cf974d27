"""Gaussian statistics of feature vectors, accumulated in float64 on the features' device."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ganforge import distributed
from ganforge.errors import GanforgeError


class StatisticsError(GanforgeError, ValueError):
    """Statistics that cannot be used: wrong shapes, or two of different dimensions."""


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
            raise StatisticsError(f"statistics need mu (d,) and sigma (d, d), got {tuple(self.mu.shape)} and {tuple(self.sigma.shape)}")

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
        assert self._sum is not None and self._outer is not None
        self._sum += centred.sum(dim=0)
        self._outer.addmm_(centred.T, centred)
        self.n += x.shape[0]
        if self.keep_features:
            self._kept.append(features.detach())

    def combine_processes(self, device: torch.device | str) -> None:
        """Turn each process's statistics (of its share of the vectors, in a distributed run)
        into those of all the vectors, on every process; nothing happens in a single process.

        Every process re-centres its float64 sums on one common shift, then they are summed
        over the processes; kept vectors are gathered in rank order. The result equals the
        single-process statistics of the same vectors up to float64 rounding."""
        if not distributed.active():
            return
        dims = [d for d in distributed.all_gather_objects(None if self._shift is None else self._shift.shape[0]) if d is not None]
        if not dims:
            return
        d = dims[0]
        shift = self._shift if self._shift is not None else torch.zeros(d, dtype=torch.float64, device=device)
        total = self._sum if self._sum is not None else torch.zeros(d, dtype=torch.float64, device=device)
        outer = self._outer if self._outer is not None else torch.zeros(d, d, dtype=torch.float64, device=device)
        weighted = distributed.all_reduce_sum(torch.cat([shift * self.n, torch.tensor([float(self.n)], dtype=torch.float64, device=shift.device)]))
        count = int(weighted[-1].item())
        common = weighted[:-1] / count
        delta = shift - common  # x - common = (x - shift) + delta
        outer = outer + torch.outer(delta, total) + torch.outer(total, delta) + self.n * torch.outer(delta, delta)
        total = total + self.n * delta
        self._sum, self._outer = distributed.all_reduce_sum(total), distributed.all_reduce_sum(outer)
        self._shift, self.n = common, count
        if self.keep_features:
            mine = torch.cat(self._kept) if self._kept else torch.zeros(0, d, device=device)
            self._kept = [distributed.all_gather_rows(mine)]

    def finalize(self) -> FeatureStats:
        """Mean and unbiased (n - 1) covariance of everything added."""
        if self.n < 2 or self._sum is None or self._outer is None or self._shift is None:
            raise ValueError(f"statistics need at least 2 vectors, got {self.n}")
        mean_shifted = self._sum / self.n
        sigma = (self._outer - self.n * torch.outer(mean_shifted, mean_shifted)) / (self.n - 1)
        sigma = (sigma + sigma.T) / 2  # exact symmetry for eigh
        features = torch.cat(self._kept) if self.keep_features else None
        return FeatureStats(self._shift + mean_shifted, sigma, self.n, features)
