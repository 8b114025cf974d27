"""Loss terms with their schedule: lazy regularisation (``every``) and ``start``/``stop`` steps."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from ganforge.errors import ComponentError, GanforgeError, attributed
from ganforge.interfaces import Batch, Loss
from ganforge.interfaces.loss import NoDiscriminator, trained_networks


@dataclass
class Term:
    """One objective of a run: the spec's loss, a penalty, or a term a network brings.

    It runs on every ``every``-th update of the network it trains, its value multiplied by
    ``every`` so its average strength is unchanged (StyleGAN2's lazy regularisation), and
    only for steps in ``[start, stop)``.
    """

    loss: Loss
    name: str  # the label of its values in metrics.jsonl
    owner: str  # how errors name it: "loss 'r1' (plugin ...)"
    every: int = 1
    start: int = 0
    stop: int | None = None

    def weight(self, update: int, step: int) -> int:
        """0 when the term sits out this update of its network, else the factor on its value."""
        if step < self.start or (self.stop is not None and step >= self.stop) or update % self.every:
            return 0
        return self.every

    def value(self, batch: Batch, side: str, update: int) -> Tensor | None:
        """The term's objective for ``side`` on ``batch`` (weighted), or None when it does not apply."""
        weight = self.weight(update, batch.step)
        if not weight:
            return None
        method = self.loss.discriminator_loss if side == "discriminator" else self.loss.generator_loss
        try:
            with attributed(self.owner, f"{side}_loss"):
                value = method(batch)
        except NoDiscriminator:  # the batch cannot tell which term asked
            raise NoDiscriminator(self.owner) from None
        if value is None:
            return None
        if not isinstance(value, Tensor) or value.ndim != 0:
            shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
            raise ComponentError(f"{self.owner}: {side}_loss returned {shape}, expected a scalar tensor (reduce with .mean())")
        return value * weight if weight != 1 else value


def lazy_intervals(terms: list[Term]) -> dict[str, int]:
    """Network -> the ``every`` of the lazy terms (every > 1) that train it, for
    ``train.lazy_regularization: separate``: one interval per network, as in the StyleGAN2
    reference, since its optimizer is adjusted for one (``ganforge validate`` reports two
    intervals for the spec's penalties; this catches terms it could not inspect)."""
    first: dict[str, Term] = {}
    for term in terms:
        if term.every == 1:
            continue
        for network in trained_networks(term.loss):
            seen = first.setdefault(network, term)
            if seen.every != term.every:
                raise GanforgeError(
                    f"{term.owner} (every: {term.every}) and {seen.owner} (every: {seen.every}) both regularise the {network}; "
                    "with train.lazy_regularization: separate a network has one lazy interval: give them the same every, or use lazy_regularization: folded"
                )
    return {network: term.every for network, term in first.items()}
