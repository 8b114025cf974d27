"""The loss interface: every objective, adversarial loss or penalty, is a ``Loss``.

The trainer sums the ``discriminator_loss`` of every active term (the spec's ``loss``,
its ``penalties`` and the networks' own ``loss_terms()``) for the discriminator update,
and their ``generator_loss`` for the generator update. A term returns ``None`` for a
side it does not touch.
"""

from __future__ import annotations

from typing import Callable, Literal

import torch
from torch import Tensor, nn

from ganforge.interfaces.networks import DiscriminatorOutput, as_output

Phase = Literal["discriminator", "generator"]


class Batch:
    """Everything one update knows; discriminator outputs are computed on first use and cached.

    In the ``discriminator`` phase ``fake`` is detached from the generator. In the
    ``generator`` phase the real samples are scored without gradients (the discriminator is
    not updated then), so relativistic losses cost one forward pass and no backward.
    """

    def __init__(
        self,
        phase: Phase,
        real: Tensor,
        fake: Tensor,
        latent: Tensor,
        labels: Tensor | None,
        discriminator: Callable[..., Tensor | DiscriminatorOutput],
        generator: nn.Module,
    ) -> None:
        self.phase = phase
        self.real = real
        self.fake = fake
        self.latent = latent
        self.labels = labels
        self.discriminator = discriminator
        self.generator = generator
        self._real_output: DiscriminatorOutput | None = None
        self._fake_output: DiscriminatorOutput | None = None

    def score(self, images: Tensor) -> DiscriminatorOutput:
        """Run the discriminator on any images (e.g. gradient-penalty interpolates)."""
        return as_output(self.discriminator(images, self.labels))

    @property
    def real_output(self) -> DiscriminatorOutput:
        if self._real_output is None:
            if self.phase == "generator":
                with torch.no_grad():
                    self._real_output = self.score(self.real)
            else:
                self._real_output = self.score(self.real)
        return self._real_output

    @property
    def fake_output(self) -> DiscriminatorOutput:
        if self._fake_output is None:
            self._fake_output = self.score(self.fake)
        return self._fake_output

    @property
    def real_scores(self) -> Tensor:
        return self.real_output.scores

    @property
    def fake_scores(self) -> Tensor:
        return self.fake_output.scores


class Loss:
    """An objective for the discriminator, the generator, or both.

    Subclasses override one or both of :meth:`discriminator_loss` and
    :meth:`generator_loss`; each returns a scalar tensor, or ``None`` when the term does
    not apply to that side. Constructor parameters are the spec's keys.

    ``name`` labels the term's values in metrics.jsonl (``loss/d/<name>``) when a run has
    several terms; a term from the spec is labelled by its registered name instead.
    Call the discriminator through ``batch.score`` (or ``batch.discriminator(...)``), never
    read attributes from ``batch.discriminator``: under several processes it is a
    DistributedDataParallel wrapper.
    """

    name: str  # optional; the class name is used when absent

    def discriminator_loss(self, batch: Batch) -> Tensor | None:
        """The discriminator's objective on this batch (to be minimised)."""
        return None

    def generator_loss(self, batch: Batch) -> Tensor | None:
        """The generator's objective on this batch (to be minimised)."""
        return None

    def after_discriminator_step(self, discriminator: nn.Module) -> None:
        """Called after each discriminator optimiser step (e.g. WGAN weight clipping)."""
