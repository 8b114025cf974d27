"""What a component needs beyond its parameters (pretrained weights, an optional extra, a
conditional generator) and whether that is there now, for ``ganforge list``.

A component class says it with a classmethod ``requirements() -> list[Need]``; components
without one need nothing. Checking never downloads or builds anything.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any, Callable

from ganforge.weights import WEIGHTS_ENV, cached_weights


@dataclass(frozen=True)
class Need:
    """One requirement: ``what`` in words, and ``missing()``: None when it is met now, else
    a short reason (``None`` as the check itself: it cannot be told before running)."""

    what: str
    missing: Callable[[], str | None] | None = None

    def status(self) -> str | None:
        """None when met (or not checkable), else why not."""
        return self.missing() if self.missing is not None else None


def needs_of(factory: Any) -> list[Need]:
    """The requirements a registered factory declares (none when it declares none)."""
    requirements = getattr(factory, "requirements", None)
    return list(requirements()) if callable(requirements) else []


def extra_missing(module: str, extra: str) -> Callable[[], str | None]:
    """A check that ``module`` (installed by the extra ``extra``) can be imported."""

    def check() -> str | None:
        return None if importlib.util.find_spec(module) is not None else f"{module} not installed (pip install 'ganforge[{extra}]')"

    return check


def weights_missing(filename: str, hub_id: str | None = None, hub_filename: str = "model.safetensors") -> Callable[[], str | None]:
    """A check that weights file ``filename`` is where :func:`ganforge.weights.cached_weights`
    looks, as loading it will; a ``weights:`` path given in a spec is not known here, so absent
    means "not found by default"."""

    def check() -> str | None:
        found = cached_weights(filename, hub_id, hub_filename)
        return None if found is not None else f"{filename} not found (give weights:, or put it in ${WEIGHTS_ENV})"

    return check


def availability(factory: Any) -> tuple[list[str], str | None]:
    """``(needs in words, reason it is unavailable now or None)``."""
    needs = needs_of(factory)
    reasons = [r for r in (n.status() for n in needs) if r]
    return [n.what for n in needs], ("; ".join(reasons) if reasons else None)
