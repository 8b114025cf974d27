"""Helpers shared by class-conditional networks. Not a plugin."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def classes_or_none(num_classes: int | None) -> int | None:
    """A ``num_classes`` constructor argument (``None`` or 0 = unconditional; its hint,
    ``NonNegativeInt | None``, keeps out the rest) as the network keeps it: ``None`` or >= 1."""
    return num_classes or None


def require_labels(labels: Tensor | None, num_classes: int | None, batch_size: int, network: str) -> Tensor | None:
    """The labels a conditional network needs, checked; ``None`` for an unconditional one."""
    if not num_classes:
        return None
    if labels is None:
        raise ValueError(f"{network} is conditional (num_classes={num_classes}) and needs class labels")
    if labels.shape != (batch_size,):
        raise ValueError(f"{network} needs labels of shape ({batch_size},), got {tuple(labels.shape)}")
    return labels


def one_hot(labels: Tensor, num_classes: int, like: Tensor) -> Tensor:
    """Labels as one-hot rows with ``like``'s dtype and device."""
    return F.one_hot(labels, num_classes).to(dtype=like.dtype, device=like.device)


class ConditionalBatchNorm(nn.Module):
    """Batch norm whose scale and shift are chosen by the class label (plain batch norm when unconditional)."""

    def __init__(self, channels: int, num_classes: int | None) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=num_classes is None)
        if num_classes:
            self.scale = nn.Embedding(num_classes, channels)
            self.shift = nn.Embedding(num_classes, channels)
            nn.init.ones_(self.scale.weight)
            nn.init.zeros_(self.shift.weight)

    def forward(self, x: Tensor, labels: Tensor | None) -> Tensor:
        x = self.norm(x)
        if labels is None:
            return x
        return x * self.scale(labels)[:, :, None, None] + self.shift(labels)[:, :, None, None]
