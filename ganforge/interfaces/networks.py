"""Generator and discriminator interfaces.

Images flow through ganforge as float tensors in [-1, 1], shape ``(N, *image_shape)``.
Class labels, when a model is conditional, are int64 tensors of shape ``(N,)``.
A generator may also read named inputs from the real batch (``inputs``): a paired
super-resolution set's ``lr`` images, or ``real`` itself for a VAE's encoder.

What the spec is checked against before anything is built (metrics that need a conditional
generator, batch sizes that split into a discriminator's packs) is read without building the
networks: :func:`declared` takes ``num_classes``, ``pack`` and ``inputs`` from the constructor
parameter of that name, else from the class attribute, else (a wrapper) from the network it
wraps. A network sets the attribute to what these say (the conformance kit checks it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import torch
from torch import Tensor, nn

from ganforge.errors import GanforgeError

if TYPE_CHECKING:
    from ganforge.interfaces.loss import Loss


#: rounds of redrawing before the default truncation gives up (a Gaussian entry inside
#: psi = 0.05 is missed 1000 times in a row with probability below 1e-17).
MAX_TRUNCATION_ROUNDS = 1000


@dataclass
class GeneratorOutput:
    """Samples ``(N, *image_shape)`` plus named auxiliary outputs losses read from
    ``batch.fake_extras`` (e.g. a VAE's ``mean`` and ``log_var``)."""

    samples: Tensor
    extras: dict[str, Tensor] = field(default_factory=dict)


class Generator(nn.Module):
    """Maps latent vectors (and class labels, when conditional) to samples in [-1, 1].

    Subclasses set ``latent_dim``, ``image_shape`` and ``num_classes`` (``None`` when
    unconditional) and implement :meth:`forward`, which returns the samples or a
    :class:`GeneratorOutput`.

    ``inputs`` names what the generator reads from each real batch, passed to ``forward``
    as keyword arguments: a dataset's named inputs (``DataSplit.inputs``, e.g. ``lr``) or
    ``real``, the batch's own samples (a VAE's encoder). ``real`` is given in training only:
    sample pictures, ``ganforge sample`` and metrics call the generator without it, so a
    generator that reads it must also draw from latents alone. A generator with dataset
    inputs draws its sample pictures from the first training samples' inputs.
    ``input_shapes`` gives the per-sample shape of each dataset input it reads (e.g.
    ``{"lr": (3, 24, 24)}``), so the conformance kit can feed it inputs in [-1, 1].

    Before anything is built, the spec's metrics are checked against ``num_classes`` as its
    constructor parameter of that name says (else the class attribute) and against the
    class's ``inputs`` (see :func:`declared`): an instance keeps them as they say.
    """

    latent_dim: int
    image_shape: tuple[int, ...]
    num_classes: int | None = None
    inputs: tuple[str, ...] = ()
    input_shapes: dict[str, tuple[int, ...]] = {}  # noqa: RUF012 - read-only default; instances set their own

    def sample_latent(
        self, n: int, device: torch.device | str = "cpu", generator: torch.Generator | None = None
    ) -> Tensor:
        """Draw ``n`` latent vectors. Override for structured latents (e.g. InfoGAN codes)."""
        return torch.randn(n, self.latent_dim, device=device, generator=generator)

    def truncate(self, latent: Tensor, psi: float, generator: torch.Generator | None = None, labels: Tensor | None = None) -> Tensor:
        """The truncation trick: a latent ``forward`` accepts, pulled towards typical samples by
        ``psi`` (1 is the identity, smaller means less variety).

        The default suits Gaussian latents: entries outside [-psi, psi] are redrawn from
        :meth:`sample_latent` (not clipped), so each follows the truncated normal. Override
        for structured latents (InfoGAN truncates only the noise, StyleGAN pulls *w*
        towards its running mean). ``labels`` are the classes the latents will be drawn with.
        """
        return truncate_by_redrawing(latent, psi, lambda n: self.sample_latent(n, latent.device, generator))

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor | GeneratorOutput:  # pragma: no cover
        raise NotImplementedError

    def loss_terms(self) -> Sequence[Loss]:
        """Extra objectives this network brings along (e.g. InfoGAN's mutual information)."""
        return ()

    def set_step(self, step: int) -> None:
        """Told the training step before every step (and the checkpoint's step when loaded), for
        networks whose structure follows training progress (progressive growing's fade-in);
        the default ignores it."""


def truncate_by_redrawing(latent: Tensor, psi: float, draw: Callable[[int], Tensor]) -> Tensor:
    """Entries of ``latent`` outside [-psi, psi] replaced by fresh draws (``draw(n)`` gives
    ``n`` new rows) until all lie inside: the truncated distribution, not a clipped one."""
    if not psi > 0 or not math.isfinite(psi):
        raise GanforgeError(f"truncation must be a positive number (e.g. 0.7), got {psi}")
    for _ in range(MAX_TRUNCATION_ROUNDS):
        outside = latent.abs() > psi
        if not outside.any():
            return latent
        latent = torch.where(outside, draw(latent.shape[0]), latent)
    raise GanforgeError(
        f"truncation {psi}: some latent entries never fell inside [-{psi}, {psi}] after {MAX_TRUNCATION_ROUNDS} "
        "redraws: too narrow a range to draw into, or a latent that is not Gaussian (e.g. one-hot codes); use a larger value (e.g. 0.5) or none"
    )


def as_generated(result: Tensor | GeneratorOutput) -> GeneratorOutput:
    """Normalise what a generator returned into a :class:`GeneratorOutput`."""
    if isinstance(result, GeneratorOutput):
        return result
    return GeneratorOutput(result)


@dataclass
class DiscriminatorOutput:
    """Scores of shape ``(N,)`` plus named auxiliary outputs (e.g. an InfoGAN Q head)."""

    scores: Tensor
    extras: dict[str, Tensor] = field(default_factory=dict)


class Discriminator(nn.Module):
    """Scores samples: higher means "more real" for every built-in loss.

    ``forward(images, labels)`` returns scores of shape ``(N,)``, or a
    :class:`DiscriminatorOutput` when the network has auxiliary heads that share its trunk.

    ``pack`` is how many consecutive samples share one score: a packing discriminator
    (PacGAN) scores samples ``pack * i`` to ``pack * i + pack - 1`` together and returns
    ``N / pack`` scores, so losses see one real and one fake score per pack, and gradient
    penalties take the norm of each pack's gradient. Batch sizes must divide by it.

    A packing discriminator takes its pack size as a constructor parameter named ``pack``
    (or, when it always packs the same number, sets the class attribute): the spec resolver
    reads it from the spec (see :func:`declared`) and checks that every (micro-)batch splits
    into whole packs before anything is built.
    """

    num_classes: int | None = None
    pack: int = 1

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor | DiscriminatorOutput:  # pragma: no cover
        raise NotImplementedError

    def loss_terms(self) -> Sequence[Loss]:
        """Extra objectives this network brings along."""
        return ()

    def set_step(self, step: int) -> None:
        """Told the training step before every step; see :meth:`Generator.set_step`."""


def declared(factory: Callable[..., Any], params: Mapping[str, Any], name: str, wrapped: Iterable[Any] = ()) -> Any:
    """A network's ``name`` (``num_classes``, ``pack``, ``inputs``) as known before it is built.

    The constructor parameter of that name in ``params`` (a spec's resolved entry, defaults
    filled in); else the value ``factory``'s class sets itself; else, for a wrapper, that of
    the first network it wraps (``wrapped``: the same answer for each nested network of its
    kind, in parameter order); else the interface's default (``None`` for a factory function).
    """
    if name in params:
        return params[name]
    for cls in getattr(factory, "__mro__", ()):
        if cls in (Generator, Discriminator):
            break
        if name in vars(cls):
            return vars(cls)[name]
    for value in wrapped:
        return value
    return getattr(factory, name, None)


def as_output(result: Tensor | DiscriminatorOutput) -> DiscriminatorOutput:
    """Normalise what a discriminator returned into a :class:`DiscriminatorOutput`."""
    if isinstance(result, DiscriminatorOutput):
        return result
    return DiscriminatorOutput(result)
