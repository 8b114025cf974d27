"""A small CNN classifier for 28×28 / 32×32 images (~1M parameters, mostly in its 768-d
embedding layer, so it trains in minutes on a CPU)."""

from __future__ import annotations

from torch import Tensor, nn

EMBEDDING_LAYER = "embedding"


def _conv(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


class SmallClassifierNet(nn.Module):
    """Three 3×3 convolutions (width, 2·width, 4·width channels), each max-pooled, a ReLU
    embedding layer and a linear head. Inputs in [-1, 1]."""

    def __init__(self, in_channels: int, num_classes: int, width: int = 32, embedding_dim: int = 768) -> None:
        super().__init__()
        self.config = {"in_channels": in_channels, "num_classes": num_classes, "width": width, "embedding_dim": embedding_dim}
        self.body = nn.Sequential(
            *_conv(in_channels, width), nn.MaxPool2d(2),
            *_conv(width, 2 * width), nn.MaxPool2d(2),
            *_conv(2 * width, 4 * width), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(3),
        )  # fmt: skip
        self.embedding = nn.Sequential(nn.Flatten(), nn.Linear(4 * width * 9, embedding_dim), nn.ReLU(inplace=True))
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(embedding_dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.dropout(self.embedding(self.body(x))))
