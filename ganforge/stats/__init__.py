"""Feature statistics and the distances metrics compute from them.

Everything here is generic numerics on tensors (CPU or GPU), reusable by metric plugins:
running float64 Gaussian statistics, the exact Fréchet distance, the Inception Score,
KID and improved precision/recall, and the pytorch-fid ``.npz`` format.
"""

from ganforge.stats.frechet import FrechetReference, frechet_distance, frechet_distance_sqrtm
from ganforge.stats.gaussian import FeatureStats, RunningStats
from ganforge.stats.npz import load_stats, save_stats
from ganforge.stats.scores import inception_score, kernel_inception_distance, precision_recall

__all__ = [
    "FeatureStats",
    "FrechetReference",
    "RunningStats",
    "frechet_distance",
    "frechet_distance_sqrtm",
    "inception_score",
    "kernel_inception_distance",
    "load_stats",
    "precision_recall",
    "save_stats",
]
