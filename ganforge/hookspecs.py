"""The whole plugin contract: one ``register_<plural>`` hook per component kind (generated
from :data:`ganforge.kinds.KINDS`), plus CLI commands."""

from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence

import pluggy

from ganforge.kinds import KINDS, ComponentKind

hookspec = pluggy.HookspecMarker("ganforge")
hookimpl = pluggy.HookimplMarker("ganforge")


class Register(Protocol):
    """The callback every ``register_*`` hook receives."""

    def __call__(self, name: str, factory: Callable[..., Any], aliases: Sequence[str] = ()) -> None:
        """Register ``factory`` (a class or callable) as ``name``; ``aliases`` are former names
        that keep old specs, runs and checkpoints working."""


def _register_hookspec(kind: ComponentKind) -> Callable[[Register], None]:
    def spec(register: Register) -> None:
        pass

    spec.__name__ = spec.__qualname__ = kind.hook
    spec.__module__ = __name__
    spec.__doc__ = f"Register {kind.description}; ``register(name, factory, aliases=())``."
    return hookspec(spec)


for _kind in KINDS:  # pluggy finds hookspecs as module attributes
    globals()[_kind.hook] = _register_hookspec(_kind)
del _kind


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``ganforge`` click group."""
