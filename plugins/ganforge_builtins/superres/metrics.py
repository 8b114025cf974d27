"""PSNR, SSIM and LPIPS of a super-resolution generator on its dataset's test pairs, with the bicubic baseline."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ganforge import EvalContext, FeatureExtractor, Metric, hookimpl
from ganforge.errors import GanforgeError
from ganforge.interfaces import as_generated, to_model_range
from ganforge.interfaces.reading import ordered_batches
from ganforge.requirements import Need
from ganforge.spec import build_component
from ganforge.types import NonNegativeInt, PositiveInt
from ganforge_builtins.superres import quality
from ganforge_builtins.superres.data import bicubic_upsample


class _PairedMetric(Metric):
    """Scores ``generator(lr=...)`` against the targets of the dataset's ``split`` pairs."""

    higher_is_better = True
    key = ""
    score: Callable[[Tensor, Tensor, int], Tensor]

    def __init__(self, split: str = "test", border: NonNegativeInt | None = None, samples: PositiveInt | None = None) -> None:
        self.split, self.border, self.samples = split, border, samples
        self._bicubic: dict[tuple[int, str, int], float] = {}

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        data = context.dataset.load(self.split)
        first = data.get(0).inputs if len(data) else {}
        if "lr" not in first:
            raise GanforgeError(f"{self.key} needs paired data with an 'lr' input (the super-resolution dataset); {type(context.dataset).__name__} has none")
        count = len(data) if self.samples is None else min(self.samples, len(data))
        scale = data.get(0).image.shape[-1] // first["lr"].shape[-1]
        border = scale if self.border is None else self.border
        scores: list[Tensor] = []
        baseline: list[Tensor] = []
        key = (id(context.dataset), self.split, count)
        with torch.inference_mode():
            for batch in ordered_batches(data, range(count), context.batch_size, context.workers):
                target = batch.samples
                lr = to_model_range(batch.inputs["lr"]).to(context.device)
                z = context.generator.sample_latent(len(target), context.device)
                output = as_generated(context.generator(z, None, lr=lr)).samples.float().cpu()
                scores.append(self.pair_scores(output, target, border, context))
                if key not in self._bicubic:
                    baseline.append(self.pair_scores(bicubic_upsample(lr.cpu(), scale), target, border, context))
        if key not in self._bicubic:  # the baseline depends on the data alone: computed once
            self._bicubic[key] = float(torch.cat(baseline).mean())
        return {self.key: float(torch.cat(scores).mean()), f"{self.key}_bicubic": self._bicubic[key]}

    def pair_scores(self, output: Tensor, target: Tensor, border: int, context: EvalContext) -> Tensor:
        """One score per image of ``output`` (float in [-1, 1]) against ``target`` (uint8)."""
        return type(self).score(output, target, border)


class PSNR(_PairedMetric):
    """PSNR (dB) of the upscaled test inputs against their targets, SR convention: 8-bit levels, Y channel of YCbCr (BT.601), `border` pixels cropped, mean over images.

    Also returns ``psnr_bicubic``, the same for bicubic upscaling of the inputs (computed once
    per dataset, so every evaluation shows the gain over it). Colour images are measured on
    MATLAB ``rgb2ycbcr``'s Y (16..235), grey ones as they are; peak 255; per-image PSNR
    averaged over the images (an identical image scores infinity, as it should).

    Args:
        split: the dataset split of (lr, target) pairs to score.
        border: pixels cropped from each side before scoring; null means the scale factor.
        samples: the first this many pairs; null for all of them.
    """

    key = "psnr"
    score = staticmethod(quality.psnr)


class SSIM(_PairedMetric):
    """SSIM of the upscaled test inputs against their targets, SR convention: 8-bit levels, Y channel of YCbCr (BT.601), `border` pixels cropped, mean over images.

    Wang et al. (2004): 11×11 Gaussian window (σ 1.5), K1 0.01, K2 0.03, L 255, mean over the
    valid window positions, as BasicSR's ``calculate_ssim`` and scikit-image's
    ``structural_similarity(gaussian_weights=True, use_sample_covariance=False)``. Also returns
    ``ssim_bicubic``, the bicubic baseline (computed once per dataset).

    Args:
        split: the dataset split of (lr, target) pairs to score.
        border: pixels cropped from each side before scoring; null means the scale factor.
        samples: the first this many pairs; null for all of them.
    """

    key = "ssim"
    score = staticmethod(quality.ssim)


class LPIPS(_PairedMetric):
    """LPIPS (lower is better) of the upscaled test inputs against their targets, through `lpips-vgg16` (or another extractor), `border` pixels cropped, mean over images.

    The distance is the squared L2 distance between the extractor's features of output and
    target, which for ``lpips-vgg16`` is LPIPS v0.1 exactly (Zhang et al., 2018; the weights
    are found like Inception's, one line naming the missing file). Also returns
    ``lpips_bicubic``, the bicubic baseline (computed once per dataset).

    Args:
        extractor: the feature network; null builds ``lpips-vgg16`` (needs its weights).
        split: the dataset split of (lr, target) pairs to score.
        border: pixels cropped from each side before scoring; null means the scale factor.
        samples: the first this many pairs; null for all of them.
    """

    key = "lpips"
    higher_is_better = False

    @classmethod
    def requirements(cls) -> list[Need]:
        """What the default extractor, ``lpips-vgg16``, needs (nothing when another is given)."""
        from ganforge_builtins.extractors.lpips import LPIPSFeatures

        return LPIPSFeatures.requirements()

    def __init__(
        self, extractor: FeatureExtractor | None = None, split: str = "test", border: NonNegativeInt | None = None, samples: PositiveInt | None = None
    ) -> None:
        super().__init__(split, border, samples)
        self.extractor = extractor

    def pair_scores(self, output: Tensor, target: Tensor, border: int, context: EvalContext) -> Tensor:
        if self.extractor is None:
            from ganforge.plugins import get_plugins

            self.extractor = build_component(get_plugins().registry, "extractor", "lpips-vgg16")
        network = self.extractor.prepare(None, context.device)
        crop = (slice(None), slice(None), slice(border, -border or None), slice(border, -border or None))
        ours = network.features(output[crop].to(context.device))
        theirs = network.features(to_model_range(target[crop]).to(context.device))
        return (ours - theirs).square().sum(dim=1).cpu()


@hookimpl
def register_metrics(register):
    register("psnr", PSNR)
    register("ssim", SSIM)
    register("lpips", LPIPS)
