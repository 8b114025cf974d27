"""The feature-extractor interface: a network whose activations metrics compare."""

from __future__ import annotations

from torch import Tensor, nn


class FeatureExtractor(nn.Module):
    """Maps samples in [-1, 1] to feature vectors ``(N, feature_dim)``, float32.

    ``logits`` returns class logits when the network has a classification head (IS and
    accuracy need it) and raises ``NotImplementedError`` otherwise.
    """

    feature_dim: int

    def features(self, images: Tensor) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def logits(self, images: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no classification head")
