"""AC-GAN's auxiliary classification term (Odena et al., 2017), registered as `auxiliary-classifier`."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor

from ganforge import Batch, DiscriminatorOutput, Loss, hookimpl
from ganforge.errors import GanforgeError
from ganforge.types import NonNegativeFloat, PositiveFloat


class AuxiliaryClassifierLoss(Loss):
    """AC-GAN's class term: the discriminator's class head learns to name the class of real
    images, and the generator is pushed to make images that head names as the class asked for.

    Discriminator side: ``weight * CE(class_logits(real), labels)``, plus
    ``fake_weight * CE(class_logits(fake), labels)`` (the paper trains the head on fakes too;
    0 by default, as in most later work, because it rewards the generator for images that are
    easy to classify rather than real). Generator side: ``weight * CE(class_logits(fake), labels)``.
    The head's accuracy on the real batch is logged as ``loss/d/auxiliary-classifier/accuracy``.
    Needs a discriminator with a class head (``dcgan`` with ``class_head: true``).

    Args:
        weight: the term's weight on both sides (1 in the paper).
        fake_weight: the weight of the head's cross-entropy on fakes in the discriminator update.
    """

    def __init__(self, weight: PositiveFloat = 1.0, fake_weight: NonNegativeFloat = 0.0) -> None:
        if weight <= 0 or fake_weight < 0:
            raise ValueError(f"auxiliary-classifier needs weight > 0 and fake_weight >= 0, got {weight} and {fake_weight}")
        self.weight = weight
        self.fake_weight = fake_weight

    @staticmethod
    def _logits(output: DiscriminatorOutput, batch: Batch) -> tuple[Tensor, Tensor]:
        if batch.labels is None:
            raise GanforgeError("auxiliary-classifier needs labelled data and a class-conditional generator (num_classes)")
        if "class_logits" not in output.extras:
            raise GanforgeError("auxiliary-classifier needs a discriminator with a class head: set discriminator.class_head: true")
        return output.extras["class_logits"], batch.labels

    def discriminator_loss(self, batch: Batch) -> Tensor:
        logits, labels = self._logits(batch.real_output, batch)
        batch.log("accuracy", (logits.argmax(dim=1) == labels).float().mean())
        total = self.weight * F.cross_entropy(logits, labels)
        if self.fake_weight > 0:
            fake_logits, _ = self._logits(batch.fake_output, batch)
            total = total + self.fake_weight * F.cross_entropy(fake_logits, labels)
        return total

    def generator_loss(self, batch: Batch) -> Tensor:
        logits, labels = self._logits(batch.fake_output, batch)
        return self.weight * F.cross_entropy(logits, labels)


@hookimpl
def register_losses(register: Any) -> None:
    register("auxiliary-classifier", AuxiliaryClassifierLoss)
