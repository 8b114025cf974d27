"""Inception Score, Kernel Inception Distance, improved precision/recall, density/coverage
and the RBF-kernel MMD of CMMD, on tensors."""

from __future__ import annotations

import torch
from torch import Tensor


def inception_score(logits: Tensor, splits: int = 10) -> tuple[float, float]:
    """Mean and standard deviation over ``splits`` consecutive chunks of exp(E KL(p(y|x) ‖ p(y)))."""
    if logits.shape[0] < splits:
        raise ValueError(f"inception score needs at least {splits} samples for {splits} splits, got {logits.shape[0]}")
    log_p = torch.log_softmax(logits.to(torch.float64), dim=1)
    chunk = logits.shape[0] // splits
    scores = []
    for k in range(splits):
        part = log_p[k * chunk : (k + 1) * chunk]
        log_marginal = torch.logsumexp(part, dim=0) - torch.log(torch.tensor(float(part.shape[0]), dtype=torch.float64))
        kl = (part.exp() * (part - log_marginal)).sum(dim=1).mean()
        scores.append(kl.exp())
    values = torch.stack(scores)
    return float(values.mean()), float(values.std(unbiased=False))


def kernel_inception_distance(
    real: Tensor, fake: Tensor, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """KID: unbiased MMD² with the kernel (xᵀy / d + 1)³, mean and std over random subsets."""
    x, y = real.to(torch.float64), fake.to(torch.float64)
    size = min(subset_size, x.shape[0], y.shape[0])
    if size < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    d = x.shape[1]
    rng = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        a = x[torch.randperm(x.shape[0], generator=rng)[:size].to(x.device)]
        b = y[torch.randperm(y.shape[0], generator=rng)[:size].to(y.device)]
        k_aa = (a @ a.T / d + 1) ** 3
        k_bb = (b @ b.T / d + 1) ** 3
        k_ab = (a @ b.T / d + 1) ** 3
        off_diagonal = (k_aa.sum() - k_aa.diagonal().sum() + k_bb.sum() - k_bb.diagonal().sum()) / (size * (size - 1))
        values.append(off_diagonal - 2 * k_ab.mean())
    stacked = torch.stack(values)
    return float(stacked.mean()), float(stacked.std(unbiased=False))


def _kth_neighbour_radii(points: Tensor, k: int, chunk: int) -> Tensor:
    radii = []
    for start in range(0, points.shape[0], chunk):
        distances = torch.cdist(points[start : start + chunk], points)
        # Index k, not k - 1: each point's nearest neighbour is itself at distance 0.
        radii.append(distances.kthvalue(k + 1, dim=1).values)
    return torch.cat(radii)


def _share_inside(queries: Tensor, centres: Tensor, radii: Tensor, chunk: int) -> float:
    inside = 0
    for start in range(0, queries.shape[0], chunk):
        distances = torch.cdist(queries[start : start + chunk], centres)
        inside += int((distances <= radii[None, :]).any(dim=1).sum())
    return inside / queries.shape[0]


def precision_recall(real: Tensor, fake: Tensor, k: int = 3, chunk: int = 1024) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al., 2019) with k-NN radii.

    Precision: share of fake vectors inside some real vector's k-NN ball; recall: share of
    real vectors inside some fake vector's ball.
    """
    if min(real.shape[0], fake.shape[0]) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} samples in each set")
    x, y = real.to(torch.float64), fake.to(torch.float64)
    real_radii = _kth_neighbour_radii(x, k, chunk)
    fake_radii = _kth_neighbour_radii(y, k, chunk)
    return _share_inside(y, x, real_radii, chunk), _share_inside(x, y, fake_radii, chunk)


def density_coverage(real: Tensor, fake: Tensor, k: int = 5, chunk: int = 1024) -> tuple[float, float]:
    """Density and coverage (Naeem et al., 2020), exactly as the authors' ``prdc`` computes them.

    Each real vector's radius is the distance to its k-th nearest real neighbour (itself
    excluded). Density: the number of real balls each fake vector lies strictly inside,
    divided by k, averaged over the fake vectors (unbounded above; 1 on average for matching
    distributions). Coverage: the share of real vectors whose nearest fake vector lies
    strictly inside their ball. Distances in float64.
    """
    if real.shape[0] <= k:
        raise ValueError(f"density/coverage with k={k} needs more than {k} real samples, got {real.shape[0]}")
    if fake.shape[0] < 1:
        raise ValueError("density/coverage needs at least one fake sample")
    x, y = real.to(torch.float64), fake.to(torch.float64)
    radii = _kth_neighbour_radii(x, k, chunk)
    inside = torch.zeros((), dtype=torch.float64, device=x.device)
    nearest_fake = torch.full((x.shape[0],), float("inf"), dtype=torch.float64, device=x.device)
    for start in range(0, y.shape[0], chunk):
        distances = torch.cdist(x, y[start : start + chunk])  # (real, fake chunk)
        inside += (distances < radii[:, None]).sum()
        nearest_fake = torch.minimum(nearest_fake, distances.min(dim=1).values)
    density = float(inside) / (k * y.shape[0])
    coverage = float((nearest_fake < radii).double().mean())
    return density, coverage


def mmd_rbf(x: Tensor, y: Tensor, sigma: float = 10.0, unbiased: bool = False, chunk: int = 2048) -> float:
    """MMD² between two sets of vectors with the Gaussian RBF kernel exp(−‖a − b‖² / (2σ²)).

    ``unbiased=False`` is the minimum-variance (V-statistic) estimator of Gretton et al.
    (2012), Eq. 5: the means of the full kernel matrices, diagonals included, as
    google-research's CMMD ``distance.py`` computes it. ``unbiased=True`` drops the
    diagonals of the within-set terms (the U-statistic). Float64, by blocks of ``chunk`` rows.
    """
    if x.shape[0] < 2 or y.shape[0] < 2:
        raise ValueError("MMD needs at least 2 vectors in each set")
    a, b = x.to(torch.float64), y.to(torch.float64)
    gamma = 1.0 / (2.0 * sigma**2)

    def kernel_sum(p: Tensor, q: Tensor) -> Tensor:
        total = torch.zeros((), dtype=torch.float64, device=p.device)
        q_norms = q.square().sum(1)
        for start in range(0, p.shape[0], chunk):
            block = p[start : start + chunk]
            squared = (block.square().sum(1)[:, None] + q_norms[None, :] - 2 * block @ q.T).clamp(min=0)
            total += torch.exp(-gamma * squared).sum()
        return total

    n, m = a.shape[0], b.shape[0]
    k_xx, k_yy, k_xy = kernel_sum(a, a), kernel_sum(b, b), kernel_sum(a, b)
    if unbiased:  # the diagonal terms are exp(0) = 1
        value = (k_xx - n) / (n * (n - 1)) + (k_yy - m) / (m * (m - 1)) - 2 * k_xy / (n * m)
    else:
        value = k_xx / n**2 + k_yy / m**2 - 2 * k_xy / (n * m)
    return float(value)
