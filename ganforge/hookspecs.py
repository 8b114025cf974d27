"""The whole plugin contract: one hook per component kind, plus CLI commands."""

from __future__ import annotations

from typing import Any, Callable

import pluggy

hookspec = pluggy.HookspecMarker("ganforge")
hookimpl = pluggy.HookimplMarker("ganforge")

#: ``register(name, factory)`` — the callback every ``register_*`` hook receives.
Register = Callable[[str, Any], None]


@hookspec
def register_generators(register: Register) -> None:
    """Register generator classes: ``register("dcgan", DCGANGenerator)``."""


@hookspec
def register_discriminators(register: Register) -> None:
    """Register discriminator classes."""


@hookspec
def register_losses(register: Register) -> None:
    """Register adversarial losses and penalties (``Loss`` subclasses)."""


@hookspec
def register_datasets(register: Register) -> None:
    """Register dataset classes."""


@hookspec
def register_metrics(register: Register) -> None:
    """Register metric classes."""


@hookspec
def register_extractors(register: Register) -> None:
    """Register feature extractors (networks whose activations metrics compare)."""


@hookspec
def register_augments(register: Register) -> None:
    """Register differentiable augmentations (``Augment`` subclasses)."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``ganforge`` click group."""
