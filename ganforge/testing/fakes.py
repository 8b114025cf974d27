"""Small, fast, seeded components the conformance kit pairs with the component under test
(a loss needs networks, a metric a generator and a dataset). Plugin authors may use them
in their own tests too."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.interfaces import Dataset, DataSplit, Discriminator, FeatureExtractor, Generator


def _size(image_shape: tuple[int, ...]) -> int:
    return math.prod(image_shape)


class TinyGenerator(Generator):
    """One linear layer and tanh; conditional on labels through an added embedding.

    Args:
        image_shape: shape of one sample.
        latent_dim: size of the Gaussian latent vector.
        num_classes: number of classes when conditional, else None.
    """

    def __init__(self, image_shape: tuple[int, ...] = (1, 8, 8), latent_dim: int = 8, num_classes: int | None = None) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.embedding = nn.Embedding(num_classes, latent_dim) if num_classes else None
        self.linear = nn.Linear(latent_dim, _size(self.image_shape))

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        if self.embedding is not None:
            if labels is None:
                raise ValueError("TinyGenerator is conditional and needs labels")
            z = z + self.embedding(labels)
        return torch.tanh(self.linear(z)).view(z.shape[0], *self.image_shape)


class TinyDiscriminator(Discriminator):
    """A one-hidden-layer perceptron; conditional through a projection of a label embedding.

    Args:
        image_shape: shape of one sample.
        hidden: hidden units.
        num_classes: number of classes when conditional, else None.
    """

    def __init__(self, image_shape: tuple[int, ...] = (1, 8, 8), hidden: int = 16, num_classes: int | None = None) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.hidden = nn.Linear(_size(tuple(image_shape)), hidden)
        self.out = nn.Linear(hidden, 1)
        self.embedding = nn.Embedding(num_classes, hidden) if num_classes else None

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        h = F.leaky_relu(self.hidden(images.flatten(1)), 0.2)
        scores = self.out(h).squeeze(1)
        if self.embedding is not None:
            if labels is None:
                raise ValueError("TinyDiscriminator is conditional and needs labels")
            scores = scores + (self.embedding(labels) * h).sum(1)
        return scores


class TinyImages(Dataset):
    """Seeded uint8 images: a bright square whose corner depends on the class.

    Args:
        image_shape: shape of one image, (channels, height, width).
        size: images per split.
        num_classes: number of classes (0 for unlabelled).
        seed: seed of the images.
    """

    def __init__(self, image_shape: tuple[int, int, int] = (1, 28, 28), size: int = 64, num_classes: int = 4, seed: int = 0) -> None:
        self.image_shape = tuple(image_shape)
        self.class_names = tuple(f"class {i}" for i in range(num_classes))
        self.size = size
        self.seed = seed

    def load(self, split: str = "train") -> DataSplit:
        rng = torch.Generator().manual_seed(self.seed + (0 if split == "train" else 1))
        channels, height, width = self.image_shape
        labels = torch.randint(max(self.num_classes, 1), (self.size,), generator=rng)
        images = torch.rand(self.size, channels, height, width, generator=rng) * 64
        for i, label in enumerate(labels.tolist()):
            top, left = (label % 2) * (height // 2), (label // 2 % 2) * (width // 2)
            images[i, :, top : top + height // 2, left : left + width // 2] += 160
        return DataSplit(images.to(torch.uint8), labels if self.num_classes else None)


class RandomFeatures(FeatureExtractor):
    """Fixed random projections of pooled pixels: a fast, deterministic stand-in for a
    pretrained network in metric tests, with a classification head.

    Args:
        feature_dim: length of the feature vectors.
        num_classes: number of logits.
        seed: seed of the projections.
    """

    def __init__(self, feature_dim: int = 16, num_classes: int = 4, seed: int = 0) -> None:
        super().__init__()
        self.feature_dim: int = feature_dim
        self.num_classes = num_classes
        self.seed = seed
        rng = torch.Generator().manual_seed(seed)
        self.register_buffer("head", torch.randn(feature_dim, num_classes, generator=rng))
        self._projections: dict[int, Tensor] = {}

    def _inputs(self, images: Tensor) -> Tensor:
        x = images.float() / 127.5 - 1 if images.dtype == torch.uint8 else images.float()
        if x.ndim == 4:
            x = F.adaptive_avg_pool2d(x.mean(1, keepdim=True), 4)
        return x.flatten(1)

    def _projection(self, in_dim: int, device: torch.device) -> Tensor:
        if in_dim not in self._projections:
            rng = torch.Generator().manual_seed(self.seed * 1000 + in_dim)
            self._projections[in_dim] = torch.randn(in_dim, self.feature_dim, generator=rng) / math.sqrt(in_dim)
        return self._projections[in_dim].to(device)

    def features(self, images: Tensor) -> Tensor:
        x = self._inputs(images)
        return torch.tanh(x @ self._projection(x.shape[1], x.device))

    def logits(self, images: Tensor) -> Tensor:
        head: Tensor = self.head  # type: ignore[assignment]
        return self.features(images) @ head.to(images.device)
