"""The loss interface: every objective, adversarial loss or penalty, is a ``Loss``.

The trainer sums the ``discriminator_loss`` of every active term (the spec's ``loss``,
its ``penalties`` and the networks' own ``loss_terms()``) for the discriminator update,
and their ``generator_loss`` for the generator update. A term returns ``None`` for a
side it does not touch.
"""

from __future__ import annotations

from typing import Callable, Literal, Mapping

import torch
from torch import Tensor, nn

from ganforge.errors import GanforgeError
from ganforge.interfaces.networks import DiscriminatorOutput, as_output

Phase = Literal["discriminator", "generator"]


class NoDiscriminator(GanforgeError):
    """A term asked for discriminator scores in a run without a discriminator."""

    def __init__(self, term: str = "this loss term") -> None:
        super().__init__(f"{term} needs a discriminator, and the spec has discriminator: null; add one or drop the term")


class Batch:
    """Everything one update knows; discriminator outputs are computed on first use and cached.

    In the ``discriminator`` phase ``fake`` is detached from the generator. In the
    ``generator`` phase the real samples are scored without gradients (the discriminator is
    not updated then), so relativistic losses cost one forward pass and no backward.

    ``inputs`` holds the dataset's named inputs for these samples (e.g. ``lr``),
    ``fake_extras`` what the generator returned beside its samples (e.g. a VAE's ``mean``).
    Reach the discriminator only through :meth:`score`: it applies the spec's augmentation
    first, so every image the discriminator sees is augmented alike.
    """

    def __init__(
        self,
        *,
        phase: Phase,
        real: Tensor,
        fake: Tensor,
        latent: Tensor,
        discriminator: Callable[..., Tensor | DiscriminatorOutput] | None,
        generator: nn.Module,
        labels: Tensor | None = None,
        inputs: Mapping[str, Tensor] | None = None,
        fake_extras: Mapping[str, Tensor] | None = None,
        augment: Callable[[Tensor], Tensor] | None = None,
        loss_scale: Tensor | None = None,
        step: int = 0,
        discriminator_module: nn.Module | None = None,
    ) -> None:
        self.phase = phase
        self.real = real
        self.fake = fake
        self.latent = latent
        self.labels = labels
        self.inputs: dict[str, Tensor] = dict(inputs or {})
        self.fake_extras: dict[str, Tensor] = dict(fake_extras or {})
        self.discriminator = discriminator
        self.generator = generator
        self.augment = augment
        self.step = step
        #: the bare discriminator, for forward hooks on its layers (call it through :meth:`score`)
        self.discriminator_module = discriminator_module
        #: values a term records beside its objective (see :meth:`log`)
        self.logged: dict[str, Tensor] = {}
        self.loss_scale = loss_scale
        self._real_output: DiscriminatorOutput | None = None
        self._fake_output: DiscriminatorOutput | None = None

    def score(self, images: Tensor) -> DiscriminatorOutput:
        """Run the discriminator on any images (e.g. gradient-penalty interpolates), augmented
        by the spec's ``augment`` when there is one."""
        if self.discriminator is None:
            raise NoDiscriminator()
        network = self.discriminator
        if images.is_leaf and images.requires_grad:
            # a penalty's input, differentiated twice: compiled graphs have no double backward
            network = getattr(network, "eager", network)
        if self.augment is not None:
            images = self.augment(images)
        return as_output(network(images, self.labels))

    def gradients(self, outputs: Tensor, inputs: Tensor) -> Tensor:
        """d sum(outputs) / d inputs with ``create_graph``, for penalties on gradients.

        Under fp16 mixed precision the outputs are multiplied by the loss scale before the
        backward pass and the gradients divided by it after, so small gradients do not
        underflow in half precision; in fp32 and bf16 it is a plain ``autograd.grad``.
        """
        total = outputs.float().sum()
        if self.loss_scale is None:
            (grads,) = torch.autograd.grad(total, inputs, create_graph=True)
            return grads
        (grads,) = torch.autograd.grad(total * self.loss_scale, inputs, create_graph=True)
        return grads / self.loss_scale

    def log(self, name: str, value: Tensor) -> None:
        """Record a part of a term's objective (e.g. an ELBO's reconstruction and KL): the
        trainer writes its mean as ``loss/<d|g>/<term>/<name>`` in metrics.jsonl."""
        self.logged[name] = value.detach()

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
    def scored_real(self) -> Tensor | None:
        """The real scores if a term asked for them (augmentations read them), else None: no extra forward."""
        return None if self._real_output is None else self._real_output.scores

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
    Call the discriminator through ``batch.score``, never ``batch.discriminator`` directly:
    ``score`` applies the augmentation, and under several processes the discriminator is a
    DistributedDataParallel wrapper. Take gradients of scores with ``batch.gradients`` so
    penalties stay correct under mixed precision.
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

    def state_dict(self) -> dict[str, Tensor]:
        """State that must survive a resume (e.g. path-length regularisation's running mean),
        as tensors; the trainer checkpoints it. The default has none."""
        return {}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Restore what :meth:`state_dict` returned."""


def trained_networks(loss: object) -> tuple[Phase, ...]:
    """The networks ``loss`` (a loss class or instance) trains: those whose ``discriminator_loss``
    or ``generator_loss`` it defines, other than :class:`Loss`'s own (which returns None)."""
    cls = loss if isinstance(loss, type) else type(loss)
    sides: tuple[Phase, ...] = ("discriminator", "generator")
    return tuple(side for side in sides if getattr(cls, f"{side}_loss", None) not in (None, getattr(Loss, f"{side}_loss")))
