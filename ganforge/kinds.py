"""The one table of component kinds. The registry, the hookspecs, spec validation,
``ganforge list``, the scaffold and the conformance kit all derive from it: adding a kind is
one row here plus its hook in ``ganforge/hookspecs.py``, its interface in ``ganforge/interfaces/``
and its check in ``ganforge.testing``."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class ComponentKind:
    """One kind of component.

    Attributes:
        name: the kind as specs, errors and ``ganforge list KIND`` spell it (``"loss"``).
        plural: the plural ``ganforge list`` also accepts (``"losses"``).
        interface_name: the class every component of this kind subclasses, in
            ``ganforge.interfaces`` (its :attr:`interface`); a constructor parameter typed with it
            takes a nested component of this kind.
        hook: the pluggy hook plugins implement to register components of this kind.
        check: the conformance check, as ``"module:function"`` (loaded on first use, so the
            core does not import the kit).
    """

    name: str
    plural: str
    interface_name: str
    hook: str
    check: str

    @property
    def interface(self) -> type:
        """The interface class (importing ``ganforge.interfaces``, and torch, on first use)."""
        interface: type = getattr(importlib.import_module("ganforge.interfaces"), self.interface_name)
        return interface

    @property
    def class_suffix(self) -> str:
        """The suffix of a scaffolded class name (``FocalBceLoss``)."""
        return self.name.capitalize()

    def load_check(self) -> Callable[..., None]:
        """The conformance check ``check_<kind>(factory, /, *, setup=None, **params)``."""
        module, _, function = self.check.partition(":")
        check: Callable[..., None] = getattr(importlib.import_module(module), function)
        return check


KINDS: tuple[ComponentKind, ...] = (
    ComponentKind("generator", "generators", "Generator", "register_generators", "ganforge.testing.networks:check_generator"),
    ComponentKind("discriminator", "discriminators", "Discriminator", "register_discriminators", "ganforge.testing.networks:check_discriminator"),
    ComponentKind("loss", "losses", "Loss", "register_losses", "ganforge.testing.losses:check_loss"),
    ComponentKind("dataset", "datasets", "Dataset", "register_datasets", "ganforge.testing.data:check_dataset"),
    ComponentKind("metric", "metrics", "Metric", "register_metrics", "ganforge.testing.evaluation:check_metric"),
    ComponentKind("extractor", "extractors", "FeatureExtractor", "register_extractors", "ganforge.testing.evaluation:check_extractor"),
    ComponentKind("augment", "augments", "Augment", "register_augments", "ganforge.testing.augments:check_augment"),
    ComponentKind("logger", "loggers", "Logger", "register_loggers", "ganforge.testing.loggers:check_logger"),
)  # fmt: skip

#: every kind's name, in table order.
KIND_NAMES: tuple[str, ...] = tuple(k.name for k in KINDS)
_BY_NAME: dict[str, ComponentKind] = {k.name: k for k in KINDS}
_BY_PLURAL: dict[str, ComponentKind] = {k.plural: k for k in KINDS}


def kind(name: str) -> ComponentKind:
    """The kind called ``name`` (singular or plural); ``ValueError`` naming the kinds otherwise."""
    found = _BY_NAME.get(name) or _BY_PLURAL.get(name)
    if found is None:
        raise ValueError(f"unknown component kind {name!r}; expected one of {', '.join(KIND_NAMES)}")
    return found


def find_kind(name: str) -> ComponentKind | None:
    """The kind called ``name`` (singular or plural), or ``None``."""
    return _BY_NAME.get(name) or _BY_PLURAL.get(name)


def kind_of_interface(cls: Any) -> ComponentKind | None:
    """The kind whose interface is exactly ``cls`` (a parameter hint), or ``None``."""
    return next((k for k in KINDS if k.interface is cls), None)
