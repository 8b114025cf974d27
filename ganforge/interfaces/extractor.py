"""The feature-extractor interface: a network whose activations metrics compare."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from ganforge.interfaces.dataset import Dataset


class FeatureExtractor(nn.Module):
    """Maps samples to feature vectors ``(N, feature_dim)``, float32.

    Inputs are what generators and :class:`~ganforge.EvalContext` produce: float in
    [-1, 1], shape ``(N, C, H, W)``; uint8 images in [0, 255] are accepted too. Each
    extractor does its own preprocessing (resizing, normalisation) on its device.
    ``logits`` returns class logits when the network has a classification head (IS and
    accuracy need it) and raises ``NotImplementedError`` otherwise.
    """

    #: Length of the feature vectors; ``None`` until known (some learn it on first use).
    feature_dim: int | None = None
    #: Number of logits, or ``None`` when the network has no classification head.
    num_classes: int | None = None

    def prepare(self, dataset: Dataset | None, device: torch.device | str) -> FeatureExtractor:
        """Make the extractor ready to use on ``device`` for ``dataset``: metrics call this
        before extracting. The default moves it there in eval mode; an extractor that
        learns from the dataset (e.g. a classifier trained on first use) does so here."""
        return self.to(device).eval()

    @property
    def device(self) -> torch.device:
        """Where the network's parameters live (CPU for a parameterless extractor)."""
        parameter = next(self.parameters(), None)
        return parameter.device if parameter is not None else torch.device("cpu")

    def features(self, images: Tensor) -> Tensor:  # pragma: no cover
        """Feature vectors ``(N, feature_dim)`` of ``images``."""
        raise NotImplementedError

    def logits(self, images: Tensor) -> Tensor:
        """Class logits ``(N, num_classes)`` of ``images``."""
        raise NotImplementedError(f"{type(self).__name__} has no classification head")

    def features_and_logits(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Both at once; override to share one forward pass."""
        return self.features(images), self.logits(images)

    @property
    def cache_key(self) -> str:
        """A name for the network and its weights, used to key cached reference statistics:
        the class name and a digest of the state dict (computed once)."""
        key = getattr(self, "_cache_key", None)
        if key is None:
            key = f"{type(self).__name__.lower()}-{state_digest(self)}"
            object.__setattr__(self, "_cache_key", key)
        return key


def state_digest(module: nn.Module) -> str:
    """A short digest of a module's state dict (names and exact tensor bytes)."""
    digest = hashlib.sha1()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:12]
