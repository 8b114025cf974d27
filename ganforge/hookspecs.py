"""The whole plugin contract: one ``register_<plural>`` hook per component kind (generated
from :data:`ganforge.kinds.KINDS`), plus CLI commands."""

from __future__ import annotations

from typing import Any, Callable

import pluggy

from ganforge.kinds import KINDS, ComponentKind

hookspec = pluggy.HookspecMarker("ganforge")
hookimpl = pluggy.HookimplMarker("ganforge")

#: ``register(name, factory, aliases=())`` — the callback every ``register_*`` hook receives;
#: ``aliases`` are former names that keep old specs, runs and checkpoints working.
Register = Callable[..., None]


def _register_hookspec(kind: ComponentKind) -> Callable[[Register], None]:
    def spec(register: Register) -> None:
        pass

    spec.__name__ = spec.__qualname__ = kind.hook
    spec.__module__ = __name__
    spec.__doc__ = f"Register {kind.description}; ``register(name, factory, aliases=())``."
    return hookspec(spec)  # type: ignore[no-any-return]


for _kind in KINDS:  # pluggy finds hookspecs as module attributes
    globals()[_kind.hook] = _register_hookspec(_kind)
del _kind


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``ganforge`` click group."""
