"""DCGAN generator and discriminator (Radford et al., 2016) for small square images,
class-conditional when ``num_classes`` is set (label embeddings into G and D)."""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from torch import Tensor, nn

from ganforge import Discriminator, DiscriminatorOutput, Generator, hookimpl
from ganforge.types import NonNegativeInt, PositiveInt, Range
from ganforge_builtins.networks.conditioning import ConditionalBatchNorm, classes_or_none, require_labels

SUPPORTED_SIZES = (28, 32, 56, 64)


def _plan(image_shape: tuple[int, int, int]) -> tuple[int, int]:
    """(base spatial size, number of stride-2 stages) for an image shape."""
    if len(image_shape) != 3:
        raise ValueError(f"DCGAN needs image_shape (channels, height, width), got {image_shape}")
    _, height, width = image_shape
    if height != width or height not in SUPPORTED_SIZES:
        raise ValueError(f"DCGAN supports square images of size {SUPPORTED_SIZES}, got {height}x{width}")
    base = 7 if height % 7 == 0 else 4
    return base, (height // base).bit_length() - 1


class DCGANGenerator(Generator):
    """DCGAN generator: transposed convolutions with batch norm, tanh output; conditional with num_classes.

    Args:
        image_shape: (channels, size, size) from the dataset; size one of 28, 32, 56, 64.
        latent_dim: size of the Gaussian latent vector.
        width: channels of the last hidden layer (doubling towards the input).
        num_classes: make the generator class-conditional (see ``conditioning``).
        embed_dim: size of the label embedding joined to z (``conditioning: concat``).
        conditioning: how labels enter when conditional: ``concat``, a learned label
            embedding joined to z (the seed's cGAN), or ``batch-norm``: conditional batch norm
            (de Vries et al., 2017; Miyato & Koyama, 2018), every batch norm's scale and shift
            chosen by the label, z alone at the input; or ``concat+batch-norm``, both (the
            label at the input and in every batch norm, as BigGAN feeds its class embedding).
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        latent_dim: PositiveInt = 100,
        width: PositiveInt = 64,
        num_classes: NonNegativeInt | None = None,
        embed_dim: PositiveInt = 50,
        conditioning: Literal["concat", "batch-norm", "concat+batch-norm"] = "concat",
    ) -> None:
        super().__init__()
        base, stages = _plan(image_shape)
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        self.num_classes = classes_or_none(num_classes)
        self.conditioning = conditioning
        by_concat = bool(self.num_classes) and "concat" in conditioning
        self.embedding = nn.Embedding(self.num_classes, embed_dim) if by_concat else None
        by_norm = self.num_classes if "batch-norm" in conditioning else None
        self.norm_conditioned = bool(by_norm)  # the label also picks every batch norm's scale and shift

        def norm(channels: int) -> nn.Module:
            return ConditionalBatchNorm(channels, by_norm) if by_norm else nn.BatchNorm2d(channels)

        channels = width * 2 ** (stages - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim + (embed_dim if by_concat else 0), channels, base, 1, 0, bias=False),
            norm(channels),
            nn.ReLU(True),
        ]
        for _ in range(stages - 1):
            layers += [nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False), norm(channels // 2), nn.ReLU(True)]
            channels //= 2
        layers += [nn.ConvTranspose2d(channels, image_shape[0], 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        labels = require_labels(labels, self.num_classes, z.shape[0], "dcgan generator")
        if self.embedding is not None:
            z = torch.cat([z, self.embedding(labels)], dim=1)
        x = z[:, :, None, None]
        if not self.norm_conditioned or labels is None:
            return self.net(x)
        for layer in self.net:
            x = layer(x, labels) if isinstance(layer, ConditionalBatchNorm) else layer(x)
        return x


def _normalisation(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)  # one group = layer norm over (C, H, W), per sample
    return nn.Identity()


class DCGANDiscriminator(Discriminator):
    """DCGAN discriminator: strided convolutions, batch norm, leaky ReLU, optional dropout; conditional with num_classes.

    Args:
        image_shape: (channels, size, size) from the dataset; size one of 28, 32, 56, 64.
        width: channels of the first convolution (doubling with depth).
        num_classes: make the discriminator class-conditional (see ``conditioning``).
        dropout: dropout after every leaky ReLU (0 = none).
        norm: normalisation of the hidden convolutions; ``layer`` or ``none`` for gradient
            penalties, which are per-sample and so ill-defined under batch norm.
        conditioning: how labels enter when conditional: ``channel``, a learned label embedding
            shaped as one extra image channel joined to the input (the seed's cGAN), or
            ``projection`` (Miyato & Koyama, 2018): the score gains <embed(y), phi(x)>, phi the
            last hidden feature map summed over space.
        class_head: add AC-GAN's auxiliary classifier (Odena et al., 2017), a linear map from
            the last hidden feature map summed over space to ``num_classes`` logits, returned
            as ``extras["class_logits"]`` for the ``auxiliary-classifier`` term.
        twin_head: add TAC-GAN's twin classifier (Gong et al., 2019) beside the class head: a
            second linear map of the same pooled features, trained on fakes, returned as
            ``extras["twin_class_logits"]`` for ``auxiliary-classifier`` with ``twin_weight > 0``.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        width: PositiveInt = 64,
        num_classes: NonNegativeInt | None = None,
        dropout: Annotated[float, Range(min=0, max=1, max_exclusive=True)] = 0.0,
        norm: Literal["batch", "layer", "none"] = "batch",
        conditioning: Literal["channel", "projection"] = "channel",
        class_head: bool = False,
        twin_head: bool = False,
    ) -> None:
        super().__init__()
        base, stages = _plan(image_shape)
        self.conditioning = conditioning
        self.image_shape = tuple(image_shape)
        self.num_classes = classes_or_none(num_classes)
        size = image_shape[1]
        by_channel = bool(self.num_classes) and conditioning == "channel"
        self.embedding = nn.Embedding(self.num_classes, size * size) if by_channel else None
        in_channels = image_shape[0] + (1 if by_channel else 0)

        def activation() -> list[nn.Module]:
            return [nn.LeakyReLU(0.2, True)] + ([nn.Dropout(dropout)] if dropout > 0 else [])

        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 4, 2, 1, bias=False), *activation()]
        channels = width
        for _ in range(stages - 1):
            layers += [
                nn.Conv2d(channels, channels * 2, 4, 2, 1, bias=norm == "none"),
                _normalisation(norm, channels * 2),
                *activation(),
            ]
            channels *= 2
        layers.append(nn.Conv2d(channels, 1, base, 1, 0, bias=False))
        self.net = nn.Sequential(*layers)
        self.projection = nn.Embedding(self.num_classes, channels) if self.num_classes and conditioning == "projection" else None
        if class_head and not self.num_classes:
            raise ValueError("class_head needs num_classes: the auxiliary classifier predicts the class")
        self.class_head = nn.Linear(channels, self.num_classes) if class_head else None
        if twin_head and not class_head:
            raise ValueError("twin_head needs class_head: true; the twin classifier mirrors the class head")
        self.twin_head = nn.Linear(channels, self.num_classes) if twin_head else None
        self.apply(init_dcgan_weights)
        if self.projection is not None:
            # The projection sums the last feature map over space (7x7 or 4x4 terms per channel):
            # embedding's default N(0, 1) makes initial logits in the hundreds and BCE blow up.
            # Zero: training starts from the unconditional score and learns the class term.
            nn.init.zeros_(self.projection.weight)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor | DiscriminatorOutput:
        labels = require_labels(labels, self.num_classes, images.shape[0], "dcgan discriminator")
        if self.embedding is not None:
            label_map = self.embedding(labels).view(images.shape[0], 1, *self.image_shape[1:])
            images = torch.cat([images, label_map], dim=1)
        if self.projection is None and self.class_head is None:
            return self.net(images).flatten()
        hidden = self.net[:-1](images)  # state-dict keys stay those of the channel form
        scores = self.net[-1](hidden).flatten()
        pooled = hidden.sum(dim=(2, 3))
        if self.projection is not None:
            scores = scores + (self.projection(labels) * pooled).sum(dim=1)
        if self.class_head is None:
            return scores
        extras = {"class_logits": self.class_head(pooled)}
        if self.twin_head is not None:
            extras["twin_class_logits"] = self.twin_head(pooled)
        return DiscriminatorOutput(scores, extras)


def init_dcgan_weights(module: nn.Module) -> None:
    """The DCGAN paper's initialisation: N(0, 0.02) convolutions, N(1, 0.02) batch-norm scales."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)) and module.affine:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


@hookimpl
def register_generators(register):
    register("dcgan", DCGANGenerator)


@hookimpl
def register_discriminators(register):
    register("dcgan", DCGANDiscriminator)
