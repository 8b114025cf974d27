"""The augmentation interface: a differentiable transform of every image the discriminator sees.

The trainer applies the spec's ``augment:`` inside ``Batch.score``, so real samples, fakes and
the inputs of gradient penalties are all augmented, in both phases, and gradients flow through
the transform back to the generator (and to a penalty's input).
"""

from __future__ import annotations

from torch import Tensor, nn


class Augment(nn.Module):
    """A differentiable augmentation (DiffAugment, ADA, ...).

    ``forward(images)`` returns augmented images of the same shape, drawing its randomness
    from torch's global generator (so a resumed run repeats it). State that must survive a
    resume (ADA's probability ``p``) lives in buffers: the trainer checkpoints
    ``state_dict()`` and restores it exactly.
    """

    def forward(self, images: Tensor) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def observe(self, real_scores: Tensor) -> None:
        """Called after every discriminator update with that update's real scores (detached).

        Adaptive augmentations (ADA) adjust their strength here; the default does nothing.
        """

    def log_values(self) -> dict[str, float]:
        """Values to record in metrics.jsonl with the losses, e.g. ``{"augment/p": 0.12}``."""
        return {}
