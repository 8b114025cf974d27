"""Perceptual path length (Karras et al., 2019), in W or in Z, on any feature extractor."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from ganforge import EvalContext, FeatureExtractor, hookimpl
from ganforge.errors import GanforgeError
from ganforge.interfaces import as_generated
from ganforge.types import PositiveFloat
from ganforge_builtins.metrics.standard import AtLeastTwo, FeatureMetric


def unit_slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation of the directions of rows ``a`` and ``b`` at fractions ``t`` (N,),
    returning unit vectors, as the reference PPL does (the mapping network normalises z anyway)."""
    a = a / a.norm(dim=1, keepdim=True)
    b = b / b.norm(dim=1, keepdim=True)
    d = (a * b).sum(dim=1, keepdim=True)
    p = t.unsqueeze(1) * torch.acos(d.clamp(-1.0, 1.0))
    c = b - d * a
    c = c / c.norm(dim=1, keepdim=True)
    out = a * torch.cos(p) + c * torch.sin(p)
    return out / out.norm(dim=1, keepdim=True)


def filtered_mean(distances: Tensor) -> float:
    """The mean of the values between the 1st (lower) and 99th (higher) percentiles, as the paper reports PPL."""
    values = distances.double()
    lo = torch.quantile(values, 0.01, interpolation="lower")
    hi = torch.quantile(values, 0.99, interpolation="higher")
    return float(values[(values >= lo) & (values <= hi)].mean())


class PerceptualPathLength(FeatureMetric):
    """Perceptual path length: E[d(G(lerp(w1, w2, t)), G(lerp(w1, w2, t + eps)))] / eps^2 (lower is better).

    t ~ U(0, 1) (``sampling: full``) or t = 0 (``end``); in W the ends are interpolated
    linearly, in Z along the great circle (slerp), as in the paper. d is the squared
    distance between the extractor's features of the two images: ``lpips-vgg16`` gives the
    paper's LPIPS distance (it needs its weight files), and any registered extractor serves,
    e.g. the domain ``classifier`` for small labelled images, offline. The value is the mean over the 1st-99th percentile range. ``space: w``
    needs a generator with a mapping network (``map_latent``, e.g. ``stylegan``).
    Conditional generators draw one random class per pair.

    Args:
        samples: interpolation pairs.
        space: ``w`` (lerp of mapped latents) or ``z`` (slerp of latents).
        epsilon: the step between the two images of a pair (1e-4).
        sampling: ``full`` (t uniform in [0, 1]) or ``end`` (t = 0).
        extractor: the feature extractor giving the distance; default ``classifier`` for labelled images up to 32x32, ``inception-v3`` otherwise.
    """

    higher_is_better = False

    def __init__(
        self,
        samples: AtLeastTwo = 10000,
        space: Literal["w", "z"] = "w",
        epsilon: PositiveFloat = 1e-4,
        sampling: Literal["full", "end"] = "full",
        extractor: FeatureExtractor | str | None = None,
    ) -> None:
        super().__init__(extractor)
        self.samples, self.space, self.epsilon, self.sampling = samples, space, epsilon, sampling

    def distances(self, context: EvalContext) -> Tensor:
        """The ``samples`` scaled distances d / eps^2, from the context's seed."""
        generator = context.generator
        if self.space == "w" and not callable(getattr(generator, "map_latent", None)):
            raise GanforgeError(f"ppl with space: w needs a generator with a mapping network (map_latent), and {type(generator).__name__} has none; use space: z")
        extractor = self.extractor(context)
        rng = torch.Generator().manual_seed(context.seed)
        device = torch.device(context.device)
        out = []
        with torch.inference_mode():
            for start in range(0, self.samples, context.batch_size):
                n = min(context.batch_size, self.samples - start)
                z = generator.sample_latent(2 * n, "cpu", rng).to(device)
                t = (torch.rand(n, generator=rng) if self.sampling == "full" else torch.zeros(n)).to(device)
                labels = torch.randint(generator.num_classes, (n,), generator=rng).to(device) if generator.num_classes else None
                both = None if labels is None else torch.cat([labels, labels])
                if self.space == "w":
                    w = generator.map_latent(z, both)  # type: ignore[operator]
                    w0, w1 = w[:n], w[n:]
                    shape = (-1,) + (1,) * (w.ndim - 1)
                    ends = torch.cat([torch.lerp(w0, w1, t.view(shape)), torch.lerp(w0, w1, (t + self.epsilon).view(shape))])
                else:
                    z0, z1 = z[:n].flatten(1), z[n:].flatten(1)
                    ends = torch.cat([unit_slerp(z0, z1, t), unit_slerp(z0, z1, t + self.epsilon)]).reshape(2 * n, *z.shape[1:])
                images = as_generated(generator(ends, both)).samples.float()
                features = extractor.features(images).double()
                out.append((features[:n] - features[n:]).square().sum(dim=1) / self.epsilon**2)
        return torch.cat(out)

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        return {f"ppl_{self.space}": filtered_mean(self.distances(context))}


@hookimpl
def register_metrics(register):
    register("ppl", PerceptualPathLength)
