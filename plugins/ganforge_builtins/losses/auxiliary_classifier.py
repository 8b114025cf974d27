"""AC-GAN's auxiliary classification term (Odena et al., 2017) and TAC-GAN's twin (Gong et al., 2019), registered as `auxiliary-classifier`."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor

from ganforge import Batch, DiscriminatorOutput, Loss, hookimpl
from ganforge.errors import GanforgeError
from ganforge.types import NonNegativeFloat, PositiveFloat

#: the discriminator's extras this term reads -> (what provides them, the dcgan option that adds it)
HEADS = {"class_logits": ("a class head", "class_head"), "twin_class_logits": ("a twin class head", "twin_head")}


class AuxiliaryClassifierLoss(Loss):
    """AC-GAN's class term: a class head on the discriminator, which the generator must satisfy.

    The discriminator's class head learns to name the class of real images, and the generator
    is pushed to make images that head names as the class asked for.

    Discriminator side: ``weight * CE(class_logits(real), labels)``, plus
    ``fake_weight * CE(class_logits(fake), labels)`` (the paper trains the head on fakes too;
    0 by default, as in most later work, because it rewards the generator for images that are
    easy to classify rather than real). Generator side: ``weight * CE(class_logits(fake), labels)``.
    The head's accuracy on the real batch is logged as ``loss/d/auxiliary-classifier/accuracy``.
    Needs a discriminator with a class head (``dcgan`` with ``class_head: true``).

    With ``twin_weight``, TAC-GAN's correction: minimising CE on fakes alone also minimises the
    entropy of the class given the image, so the generator learns to avoid images near class
    borders and each class narrows to its most typical items. A twin head learns to name the
    class of *fakes* (``twin_weight * CE(twin_class_logits(fake), labels)`` in the
    discriminator update, logged as ``.../twin_accuracy``) and the generator's side becomes
    ``weight * CE(class_logits(fake)) - twin_weight * CE(twin_class_logits(fake))``. With
    ``twin_weight == weight`` (the paper) that cancels the entropy term and leaves the generator
    matching the real class-conditional distribution; less interpolates towards AC-GAN.

    Args:
        weight: the term's weight on both sides (1 in the paper).
        fake_weight: the weight of the head's cross-entropy on fakes in the discriminator update.
        twin_weight: the weight of TAC-GAN's twin classifier, 0 = none (needs
            ``discriminator.twin_head: true``).
    """

    def __init__(self, weight: PositiveFloat = 1.0, fake_weight: NonNegativeFloat = 0.0, twin_weight: NonNegativeFloat = 0.0) -> None:
        self.weight = weight
        self.fake_weight = fake_weight
        self.twin_weight = twin_weight

    @staticmethod
    def _logits(output: DiscriminatorOutput, batch: Batch, key: str = "class_logits") -> tuple[Tensor, Tensor]:
        if batch.labels is None:
            raise GanforgeError("auxiliary-classifier needs labelled data and a class-conditional generator (num_classes)")
        if key not in output.extras:
            head, option = HEADS[key]
            raise GanforgeError(f"auxiliary-classifier needs a discriminator with {head}: set discriminator.{option}: true")
        return output.extras[key], batch.labels

    def discriminator_loss(self, batch: Batch) -> Tensor:
        logits, labels = self._logits(batch.real_output, batch)
        batch.log("accuracy", (logits.argmax(dim=1) == labels).float().mean())
        total = self.weight * F.cross_entropy(logits, labels)
        if self.fake_weight > 0:
            fake_logits, _ = self._logits(batch.fake_output, batch)
            total = total + self.fake_weight * F.cross_entropy(fake_logits, labels)
        if self.twin_weight > 0:
            twin_logits, _ = self._logits(batch.fake_output, batch, "twin_class_logits")
            batch.log("twin_accuracy", (twin_logits.argmax(dim=1) == labels).float().mean())
            total = total + self.twin_weight * F.cross_entropy(twin_logits, labels)
        return total

    def generator_loss(self, batch: Batch) -> Tensor:
        logits, labels = self._logits(batch.fake_output, batch)
        value = self.weight * F.cross_entropy(logits, labels)
        if self.twin_weight > 0:
            twin_logits, _ = self._logits(batch.fake_output, batch, "twin_class_logits")
            value = value - self.twin_weight * F.cross_entropy(twin_logits, labels)
        return value


@hookimpl
def register_losses(register: Any) -> None:
    register("auxiliary-classifier", AuxiliaryClassifierLoss)
