"""Numerics of the metrics: Fréchet distance routes, running statistics, .npz, IS, KID, PR."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganforge_builtins.stats import (
    FeatureStats,
    FrechetReference,
    RunningStats,
    frechet_distance,
    frechet_distance_sqrtm,
    inception_score,
    kernel_inception_distance,
    load_stats,
    precision_recall,
    save_stats,
)


def relu_features(n: int, d: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    """Non-negative, correlated features, like pooled activations after a ReLU."""
    g = torch.Generator().manual_seed(seed)
    mixing = torch.randn(d, d, generator=g) / math.sqrt(d)
    return (torch.randn(n, d, generator=g) @ mixing + shift).relu()


def textbook(a: FeatureStats, b: FeatureStats) -> float:
    return frechet_distance_sqrtm(a.mu.numpy(), a.sigma.numpy(), b.mu.numpy(), b.sigma.numpy())


@pytest.mark.parametrize(("n", "d"), [(400, 64), (40, 64), (64, 64)])
def test_frechet_matches_scipy_sqrtm(n: int, d: int) -> None:
    a = FeatureStats.from_features(relu_features(n, d, 0))
    b = FeatureStats.from_features(relu_features(n, d, 1, shift=0.3))
    exact = frechet_distance(a, b)
    assert exact == pytest.approx(textbook(a, b), rel=1e-6)


def test_frechet_mixed_ranks_match_dense_route() -> None:
    d = 48
    full = FeatureStats.from_features(relu_features(300, d, 2))
    low = FeatureStats.from_features(relu_features(30, d, 3, shift=0.2))
    expected = textbook(full, low)
    assert frechet_distance(full, low) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(low, full) == pytest.approx(expected, rel=1e-6)
    without_features = FeatureStats(full.mu, full.sigma, full.n)
    assert frechet_distance(without_features, low) == pytest.approx(expected, rel=1e-6)


def test_low_rank_route_beats_dense_routes_where_they_go_wrong() -> None:
    # At n < d the textbook route accumulates spurious eigenvalues; the SVD route equals the
    # same quantity computed from the n x n Gram problem in exact-ish float64.
    d, n = 256, 32
    a = FeatureStats.from_features(relu_features(n, d, 4))
    b = FeatureStats.from_features(relu_features(n, d, 5))
    ref = FrechetReference(a)
    gram = ref.centred @ (b.features.double() - b.mu).T / math.sqrt((n - 1) * (n - 1))
    nuclear = np.linalg.svd(gram.numpy(), compute_uv=False).sum()
    assert float(ref.trace_sqrt_product(b)) == pytest.approx(nuclear, rel=1e-12)


def test_two_gaussians_with_known_parameters_give_closed_form() -> None:
    # Σ₁ = diag(s1), Σ₂ = diag(s2) commute: d² = ‖μ₁−μ₂‖² + Σ (√s1 − √s2)².
    d = 5
    mu1, mu2 = torch.arange(d, dtype=torch.float64), torch.ones(d, dtype=torch.float64)
    s1 = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=torch.float64)
    s2 = torch.tensor([4.0, 1.0, 0.5, 9.0, 2.0], dtype=torch.float64)
    rotation, _ = torch.linalg.qr(torch.randn(d, d, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    a = FeatureStats(mu1, rotation @ torch.diag(s1) @ rotation.T, 1000)
    b = FeatureStats(mu2, rotation @ torch.diag(s2) @ rotation.T, 1000)
    closed_form = float((mu1 - mu2).square().sum() + (s1.sqrt() - s2.sqrt()).square().sum())
    assert frechet_distance(a, b) == pytest.approx(closed_form, rel=1e-10)


@pytest.mark.parametrize("n", [500, 20])
def test_identical_sets_give_zero(n: int) -> None:
    stats = FeatureStats.from_features(relu_features(n, 32, 6))
    assert abs(frechet_distance(stats, stats)) < 1e-9


def test_cached_reference_gives_same_value_on_every_call() -> None:
    ref = FrechetReference(FeatureStats.from_features(relu_features(200, 16, 7)))
    others = [FeatureStats.from_features(relu_features(200, 16, s, shift=0.1 * s)) for s in (8, 9)]
    first = [ref.distance(o) for o in others]
    assert [ref.distance(o) for o in others] == first
    assert first == [frechet_distance(ref.stats, o) for o in others]


def test_running_stats_match_numpy_and_ignore_batch_size() -> None:
    features = relu_features(301, 12, 10, shift=50.0)  # large mean: tests the cancellation guard
    expected_mu = features.double().mean(0).numpy()
    expected_sigma = np.cov(features.double().numpy(), rowvar=False)
    for batch in (1, 7, 301):
        running = RunningStats()
        for start in range(0, 301, batch):
            running.update(features[start : start + batch])
        stats = running.finalize()
        assert stats.n == 301 and stats.mu.dtype == torch.float64
        np.testing.assert_allclose(stats.mu.numpy(), expected_mu, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(stats.sigma.numpy(), expected_sigma, rtol=1e-10, atol=1e-10)


def test_running_stats_need_two_vectors() -> None:
    running = RunningStats()
    running.update(torch.ones(1, 3))
    with pytest.raises(ValueError, match="at least 2"):
        running.finalize()


def test_npz_round_trip_in_pytorch_fid_format(tmp_path) -> None:
    stats = FeatureStats.from_features(relu_features(50, 8, 11))
    path = tmp_path / "sub" / "ref.npz"
    save_stats(stats, path)
    with np.load(path) as raw:  # what pytorch-fid reads
        assert raw["mu"].dtype == np.float64 and raw["sigma"].shape == (8, 8)
    loaded = load_stats(path)
    assert torch.equal(loaded.mu, stats.mu) and torch.equal(loaded.sigma, stats.sigma) and loaded.n == 50
    np.savez(tmp_path / "pytorch_fid.npz", mu=stats.mu.numpy(), sigma=stats.sigma.numpy())
    assert torch.equal(load_stats(tmp_path / "pytorch_fid.npz").sigma, stats.sigma)


def test_load_stats_rejects_other_files(tmp_path) -> None:
    from ganforge.errors import GanforgeError

    np.savez(tmp_path / "x.npz", a=np.zeros(2))
    with pytest.raises(GanforgeError, match="'mu' and 'sigma'"):
        load_stats(tmp_path / "x.npz")


def test_inception_score_of_uniform_and_confident_predictions() -> None:
    uniform = torch.zeros(100, 10)
    assert inception_score(uniform) == pytest.approx((1.0, 0.0), abs=1e-12)
    confident = torch.full((100, 10), -1e4)
    confident[torch.arange(100), torch.arange(100) % 10] = 0.0
    mean, std = inception_score(confident)
    assert mean == pytest.approx(10.0, rel=1e-9) and std == pytest.approx(0.0, abs=1e-9)


def test_kid_of_identical_sets_is_near_zero_and_of_shifted_sets_positive() -> None:
    x = relu_features(200, 16, 12)
    # Subsets as large as the set: both sides see the same vectors, in another order.
    same, spread = kernel_inception_distance(x, x, subsets=5, subset_size=200)
    shifted, _ = kernel_inception_distance(x, x + 1.0, subsets=5, subset_size=200)
    assert shifted > 0 and abs(same) < 2e-3 * shifted and spread < 1e-12
    # The unbiased estimator on one set twice: 2 (S - T) / (m (m - 1)) - 2 S / m².
    kernel = (x.double() @ x.double().T / 16 + 1) ** 3
    total, trace, m = kernel.sum(), kernel.trace(), 200
    assert same == pytest.approx(float(2 * (total - trace) / (m * (m - 1)) - 2 * total / m**2), rel=1e-9)


def test_precision_recall_of_identical_and_disjoint_sets() -> None:
    x = relu_features(120, 8, 13)
    assert precision_recall(x, x) == (1.0, 1.0)
    assert precision_recall(x, x + 100.0) == (0.0, 0.0)


def test_lower_triangle_congruence_in_uneven_blocks() -> None:
    from ganforge_builtins.stats.frechet import congruence_lower

    g = torch.Generator().manual_seed(14)
    x = torch.randn(200, 70, generator=g, dtype=torch.float64)
    lower = torch.linalg.cholesky(torch.cov(x.T))
    sigma = torch.cov((x + torch.randn(200, 70, generator=g, dtype=torch.float64)).T)
    out = congruence_lower(lower, sigma, block=16)
    torch.testing.assert_close(torch.tril(out), torch.tril(lower.T @ sigma @ lower), rtol=1e-12, atol=1e-12)


def test_routes_taken_and_their_agreement() -> None:
    # Full rank: Cholesky; n < d with vectors: low-rank; dense n < d with n known: eigh-rank;
    # dense n < d, n unknown (pytorch-fid's .npz): Cholesky fails or is refused, eigh fallback.
    d = 96
    full_a, full_b = (FeatureStats.from_features(relu_features(400, d, s, shift=0.1 * s)) for s in (20, 21))
    ref = FrechetReference(full_a)
    assert ref.distance(full_b) == pytest.approx(textbook(full_a, full_b), rel=1e-10)
    assert ref.last_route == "cholesky"
    low_a, low_b = (FeatureStats.from_features(relu_features(40, d, s, shift=0.1 * s)) for s in (22, 23))
    values = {}
    for name, (a, b) in {
        "low-rank": (low_a, low_b),
        "eigh-rank": (FeatureStats(low_a.mu, low_a.sigma, low_a.n), FeatureStats(low_b.mu, low_b.sigma, low_b.n)),
        "eigh": (FeatureStats(low_a.mu, low_a.sigma, 0), FeatureStats(low_b.mu, low_b.sigma, 0)),
    }.items():
        reference = FrechetReference(a)
        values[name] = reference.distance(b)
        assert reference.last_route == name
    assert values["eigh-rank"] == pytest.approx(values["low-rank"], rel=1e-11)
    assert values["eigh"] == pytest.approx(values["low-rank"], rel=1e-9)
    # mixed: a full-rank reference against low-rank statistics (sqrtm is off by ~1e-8 at n < d)
    mixed = FrechetReference(full_a)
    assert mixed.distance(low_b) == pytest.approx(textbook(full_a, low_b), rel=1e-6) and mixed.last_route == "low-rank"


def test_singular_full_rank_sized_covariance_falls_back_to_eigh() -> None:
    # n > d but a dead (constant) feature: sigma is singular although n > d.
    features = relu_features(300, 24, 24)
    features[:, 5] = 1.0
    a = FeatureStats.from_features(features)
    b = FeatureStats.from_features(relu_features(300, 24, 25, shift=0.2))
    reference = FrechetReference(a)
    assert reference.distance(b) == pytest.approx(textbook(a, b), rel=1e-8)
    assert reference.last_route == "eigh"


def test_npz_keeps_the_vectors_below_the_dimension_and_gives_the_same_fid(tmp_path) -> None:
    d = 64
    a, b = (FeatureStats.from_features(relu_features(30, d, s, shift=0.1 * s)) for s in (26, 27))
    save_stats(a, tmp_path / "a.npz")
    save_stats(b, tmp_path / "b.npz")
    loaded_a, loaded_b = load_stats(tmp_path / "a.npz"), load_stats(tmp_path / "b.npz")
    assert loaded_a.features is not None and loaded_a.low_rank
    assert frechet_distance(loaded_a, loaded_b) == frechet_distance(a, b)
    assert frechet_distance(loaded_a, b) == frechet_distance(a, b)
    big = FeatureStats.from_features(relu_features(100, 8, 28))
    save_stats(big, tmp_path / "big.npz")
    with np.load(tmp_path / "big.npz") as raw:
        assert "features" not in raw.files  # n > d: mu and sigma say everything
