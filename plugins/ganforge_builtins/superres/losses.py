"""Super-resolution losses: pixel distance to the target, and perceptual (feature-map) distance."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge import Batch, FeatureExtractor, Loss, hookimpl
from ganforge.errors import did_you_mean

Distance = Literal["l1", "mse"]


def distance(a: Tensor, b: Tensor, kind: Distance) -> Tensor:
    """Mean L1 or squared distance, in float32."""
    return F.l1_loss(a.float(), b.float()) if kind == "l1" else F.mse_loss(a.float(), b.float())


class PixelLoss(Loss):
    """Pixel loss: L1 or MSE between the generator's output and the real (high-resolution) target.

    The paired-data objective of SRResNet (MSE) and ESRGAN's PSNR stage (L1); the generator
    side only, so it also trains with ``discriminator: null``.

    Args:
        distance: l1 or mse.
        weight: factor on the loss.
    """

    def __init__(self, distance: Distance = "l1", weight: float = 1.0) -> None:
        self.distance, self.weight = distance, weight

    def generator_loss(self, batch: Batch) -> Tensor:
        return self.weight * distance(batch.fake, batch.real, self.distance)


class _Stop(Exception):
    """Raised by the hook once the layer has run: nothing after it is needed."""


class PerceptualLoss(Loss):
    """Perceptual loss: distance between feature maps of output and target at a hooked `layer` of any extractor (VGG19 by default).

    The extractor's own network runs with gradients (the output's features must reach the
    generator), its weights frozen, on the extractor's own preprocessing; a forward hook on
    ``layer`` takes that layer's raw map and the rest of the network is skipped. SRGAN uses
    VGG19 ``relu5_4`` (after the activation), ESRGAN ``conv5_4`` (before it). With
    ``layer: null`` the extractor's ``features`` are compared instead (for extractors that are
    not built on hooks). The target's features are computed without gradients.

    Args:
        extractor: the feature network (a nested component), e.g. {name: vgg19, weights: ...}.
        layer: the hooked layer's name in the extractor's network; null for its features.
        distance: l1 (ESRGAN) or mse (SRGAN).
        weight: factor on the loss (SRGAN scales VGG features by 1/12.75², ESRGAN uses 1).
    """

    def __init__(self, extractor: FeatureExtractor | None = None, layer: str | None = "relu5_4", distance: Distance = "mse", weight: float = 1.0) -> None:
        if extractor is None:
            from ganforge_builtins.extractors.vgg import VGG19

            extractor = VGG19(layers=layer or "relu5_4")
        self.extractor, self.layer, self.distance, self.weight = extractor, layer, distance, weight
        if layer is not None:
            network = getattr(extractor, "network", None)
            if not isinstance(network, nn.Module):
                raise ValueError(f"{type(extractor).__name__} has no hookable `network`; use an extractor built on HookExtractor or layer: null")
            modules = dict(network.named_modules())
            if layer not in modules:
                raise ValueError(f"{type(network).__name__} has no layer '{layer}'{did_you_mean(layer, modules)}")
            self.module = modules[layer]
        extractor.requires_grad_(False)
        self._device: torch.device | None = None

    def features(self, images: Tensor) -> Tensor:
        """The hooked layer's map of ``images`` (or the extractor's features), with gradients."""
        if self._device != images.device:
            self.extractor.to(images.device).eval()
            self._device = images.device
        if self.layer is None:
            return self.extractor.features(images)
        captured: list[Tensor] = []

        def hook(module: nn.Module, inputs: Any, output: Tensor) -> None:
            captured.append(output)
            raise _Stop

        handle = self.module.register_forward_hook(hook)
        try:
            self.extractor.network(self.extractor.preprocess(images))  # type: ignore[operator]
        except _Stop:
            pass
        finally:
            handle.remove()
        return captured[0]

    def generator_loss(self, batch: Batch) -> Tensor:
        with torch.no_grad():
            target = self.features(batch.real)
        return self.weight * distance(self.features(batch.fake), target, self.distance)


@hookimpl
def register_losses(register):
    register("pixel", PixelLoss)
    register("perceptual", PerceptualLoss)
