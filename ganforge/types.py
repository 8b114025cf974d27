"""Value ranges in type hints: constraints a spec is checked against before anything is built.

A constructor declares what it accepts in its hints; the spec resolver checks every value
against them and reports a value out of range as one ``file:line: field: problem`` line, and
``ganforge list KIND NAME --params`` shows them (``int >= 1``, ``float in [0, 1]``)::

    from ganforge.types import PositiveInt, Probability, Range
    from typing import Annotated

    class MyGenerator(Generator):
        def __init__(self, latent_dim: PositiveInt = 100, dropout: Probability = 0.0,
                     gain: Annotated[float, Range(min=0, max=10, max_exclusive=True)] = 1.0) -> None: ...
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any

__all__ = [
    "NonNegativeFloat",
    "NonNegativeInt",
    "OpenUnitInterval",
    "PositiveFloat",
    "PositiveInt",
    "Probability",
    "Range",
    "UnitInterval",
    "range_of",
]


@dataclass(frozen=True)
class Range:
    """Bounds on a number, for ``Annotated[int, Range(min=1)]`` or ``Annotated[float, Range(0, 1)]``.

    min, max: the bounds, None for none.
    min_exclusive, max_exclusive: the bound itself is outside the range (``> 0`` rather than ``>= 0``).
    Floats must also be finite (NaN and infinity fit no range).
    """

    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False

    def contains(self, value: Any) -> bool:
        """Whether ``value`` (a number; anything else is the type check's business) is in the range."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return True
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.min is not None and (value <= self.min if self.min_exclusive else value < self.min):
            return False
        if self.max is not None and (value >= self.max if self.max_exclusive else value > self.max):
            return False
        return True

    def describe(self) -> str:
        """``>= 1``, ``> 0``, ``<= 10`` or ``in [0, 1)``: the range as ``ganforge list --params`` shows it."""
        if self.min is not None and self.max is not None:
            left = "(" if self.min_exclusive else "["
            right = ")" if self.max_exclusive else "]"
            return f"in {left}{_number(self.min)}, {_number(self.max)}{right}"
        if self.min is not None:
            return f"{'>' if self.min_exclusive else '>='} {_number(self.min)}"
        if self.max is not None:
            return f"{'<' if self.max_exclusive else '<='} {_number(self.max)}"
        return "any number"


def _number(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else repr(bound)


def range_of(hint: Any) -> Range | None:
    """The :class:`Range` an ``Annotated`` hint carries, or None."""
    for extra in getattr(hint, "__metadata__", ()):
        if isinstance(extra, Range):
            return extra
    return None


#: 1, 2, 3, ...: sizes, counts, dimensions, batch sizes.
PositiveInt = Annotated[int, Range(min=1)]
#: 0, 1, 2, ...: counts that may be zero, seeds.
NonNegativeInt = Annotated[int, Range(min=0)]
#: a finite float > 0: learning rates, temperatures, scales.
PositiveFloat = Annotated[float, Range(min=0, min_exclusive=True)]
#: a finite float >= 0: weights of loss terms, penalties' gamma.
NonNegativeFloat = Annotated[float, Range(min=0)]
#: a probability, in [0, 1].
Probability = Annotated[float, Range(min=0, max=1)]
#: a float in [0, 1] that is not a probability (a share, a mixing weight).
UnitInterval = Annotated[float, Range(min=0, max=1)]
#: a float in (0, 1): decays such as an EMA's, momenta.
OpenUnitInterval = Annotated[float, Range(min=0, max=1, min_exclusive=True, max_exclusive=True)]
