"""Mode coverage on toy Gaussian mixtures: modes covered and the share of high-quality samples."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ganforge import EvalContext, Metric, hookimpl
from ganforge.errors import GanforgeError
from ganforge.types import PositiveFloat, PositiveInt


def mode_statistics(samples: Tensor, centers: Tensor, std: float, sigmas: float = 3.0, min_samples: int = 1) -> dict[str, float]:
    """``modes``: modes with at least ``min_samples`` high-quality samples; ``high_quality``: share
    of samples within ``sigmas`` standard deviations of their nearest mode; ``mode_kl``:
    KL(nearest-mode histogram of all samples || uniform), 0 for a perfect spread."""
    distances = torch.cdist(samples.reshape(-1, 2).double(), centers.double())
    nearest_distance, nearest = distances.min(dim=1)
    good = nearest_distance <= sigmas * std
    per_mode = torch.bincount(nearest[good], minlength=len(centers))
    shares = torch.bincount(nearest, minlength=len(centers)).double() / len(nearest)
    nonzero = shares[shares > 0]
    return {
        "modes": float((per_mode >= min_samples).sum()),
        "high_quality": float(good.double().mean()),
        "mode_kl": float((nonzero * (nonzero * len(centers)).log()).sum()),
    }


class ModeCoverage(Metric):
    """Modes covered and share of high-quality samples (within 3 sigma of a mode) on ring/grid data.

    As in VEEGAN and PacGAN: a sample is high quality when it lies within ``sigmas`` standard
    deviations of its nearest mode; a mode is covered when at least ``min_samples`` high-quality
    samples are nearest to it. Also reports ``mode_kl``, the KL divergence of the generated
    mode histogram from the uniform one.

    Args:
        num_samples: generated samples to evaluate (the papers use 2,500).
        sigmas: the high-quality radius in standard deviations.
        min_samples: high-quality samples a mode needs to count as covered.
    """

    higher_is_better = True

    def __init__(self, num_samples: PositiveInt = 2500, sigmas: PositiveFloat = 3.0, min_samples: PositiveInt = 1) -> None:
        self.num_samples = num_samples
        self.sigmas = sigmas
        self.min_samples = min_samples

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        centers = getattr(context.dataset, "mode_centers", None)
        std = getattr(context.dataset, "mode_std", None)
        if centers is None or std is None or not math.isfinite(std):
            raise GanforgeError(
                f"mode-coverage needs a Gaussian-mixture dataset with known modes (ring, grid), "
                f"not {type(context.dataset).__name__}; remove the metric from this spec"
            )
        samples = torch.cat([x.float().cpu() for x, _ in context.generated(self.num_samples)])
        return mode_statistics(samples, centers, std, self.sigmas, self.min_samples)


@hookimpl
def register_metrics(register):
    register("mode-coverage", ModeCoverage)
