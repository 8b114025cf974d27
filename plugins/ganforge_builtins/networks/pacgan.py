"""PacGAN packing (Lin et al., 2018) around any registered discriminator, registered as `pacgan`."""

from __future__ import annotations

import copy
from typing import Any, Literal, Mapping, Sequence

from torch import Tensor

from ganforge import Discriminator, DiscriminatorOutput, hookimpl
from ganforge.errors import GanforgeError
from ganforge.interfaces.networks import as_output


def packed_shape(image_shape: Sequence[int], pack: int) -> tuple[int, ...]:
    """The shape of one pack: ``pack`` times the channels of an image ``(C, H, W)``, or
    ``pack`` times the features of a vector ``(D,)``; the first axis either way."""
    shape = tuple(int(s) for s in image_shape)
    if not shape:
        raise ValueError("image_shape must have at least one axis to pack along")
    return (shape[0] * pack, *shape[1:])


def pack_samples(samples: Tensor, pack: int) -> Tensor:
    """``(N, C, ...)`` -> ``(N / pack, pack * C, ...)``: samples ``pack * i`` to ``pack * i + pack - 1``
    joined along their first axis (channels, or features), in order."""
    n = samples.shape[0]
    if n % pack:
        raise GanforgeError(f"pacgan: a batch of {n} samples does not split into packs of {pack}; use a data.batch_size that is a multiple of {pack}")
    return samples.reshape(n // pack, pack * samples.shape[1], *samples.shape[2:])


class PacDiscriminator(Discriminator):
    """PacGAN (Lin et al., 2018): another discriminator scoring packs of samples joined along the channel or feature axis.

    The inner discriminator is written in the spec as its own entry and validated like any
    other; the builder gives it ``image_shape`` with ``pack`` times the channels (images) or
    features (vectors), so it is built for a whole pack. The forward pass returns one score
    per pack, ``N / pack`` scores: losses compare packs of reals with packs of fakes, R1 and
    R2 penalise each pack's gradient norm, WGAN-GP interpolates pack by pack. Unconditional
    only: a pack holds samples of different classes, so there is no one label to give it.

    Args:
        discriminator: the discriminator that scores a pack, e.g. ``{name: mlp, hidden: [128, 128]}``;
            built for the packed shape (when built outside a spec, build it for that shape yourself).
        pack: samples per pack, m = 2, 3 or 4 (the paper's PacGAN2, PacGAN3, PacGAN4).
    """

    def __init__(self, discriminator: Discriminator, pack: Literal[2, 3, 4] = 2) -> None:
        super().__init__()
        if discriminator.num_classes:
            raise ValueError(
                f"pacgan packs unconditional discriminators, got one with num_classes={discriminator.num_classes}: "
                "the samples of a pack have different labels; drop num_classes from the inner discriminator"
            )
        if getattr(discriminator, "pack", 1) != 1:
            raise ValueError("pacgan cannot wrap a discriminator that packs samples itself")
        if list(discriminator.loss_terms()):
            raise ValueError("pacgan cannot wrap a discriminator that brings its own loss terms (e.g. InfoGAN's): they read per-sample outputs a pack does not have")
        self.discriminator = copy.deepcopy(discriminator)  # the one given stays as it was
        self.pack = pack

    @classmethod
    def injected_into(cls, param: str, params: Mapping[str, Any], injected: Mapping[str, Any]) -> dict[str, Any]:
        """The inner discriminator is built for a whole pack: ``image_shape`` with ``pack`` times the first axis."""
        values = dict(injected)
        pack = params.get("pack", 2)
        if param == "discriminator" and values.get("image_shape") is not None:
            values["image_shape"] = packed_shape(values["image_shape"], pack)
        return values

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor | DiscriminatorOutput:
        output = as_output(self.discriminator(pack_samples(images, self.pack)))
        return output if output.extras else output.scores


@hookimpl
def register_discriminators(register):
    register("pacgan", PacDiscriminator)
