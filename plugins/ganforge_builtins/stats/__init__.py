"""Feature statistics and the distances metrics compute from them.

Everything here is generic numerics on tensors (CPU or GPU), reusable by metric plugins:
running float64 Gaussian statistics, the exact Fréchet distance, the Inception Score,
KID, improved precision/recall, density/coverage, the RBF MMD of CMMD, and the pytorch-fid
``.npz`` format.
"""

from ganforge_builtins.stats.frechet import FrechetReference, frechet_distance, frechet_distance_sqrtm
from ganforge_builtins.stats.gaussian import FeatureStats, RunningStats
from ganforge_builtins.stats.npz import load_stats, save_stats, stats_provenance
from ganforge_builtins.stats.scores import density_coverage, inception_score, kernel_inception_distance, mmd_rbf, precision_recall

__all__ = [
    "FeatureStats",
    "FrechetReference",
    "RunningStats",
    "density_coverage",
    "frechet_distance",
    "frechet_distance_sqrtm",
    "inception_score",
    "kernel_inception_distance",
    "load_stats",
    "mmd_rbf",
    "precision_recall",
    "save_stats",
    "stats_provenance",
]
