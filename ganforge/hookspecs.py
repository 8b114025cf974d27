"""The whole plugin contract: one ``register_<plural>`` hook per component kind (generated
from :data:`ganforge.kinds.KINDS`), plus CLI commands."""

from __future__ import annotations

import importlib
from types import ModuleType, SimpleNamespace
from typing import Any, Callable, Protocol, Sequence

import pluggy

from ganforge.errors import GanforgeError, did_you_mean
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


#: a command a plugin adds without importing it: name -> (``module:function``, its one-line summary).
LazyCommands = dict[str, tuple[str, str]]


def family(package: str, *modules: str, commands: LazyCommands | None = None) -> SimpleNamespace:
    """One plugin made of a package's modules, each imported only when a hook needs it.

    ``register_<kind>`` hooks import ``modules`` (names relative to ``package``, in order) and call
    their implementations of that hook; ``register_commands`` adds ``commands`` to the command
    line lazily (the module is imported when the command runs or shows its own help). So
    ``ganforge --help`` imports none of the package's components and none of their dependencies;
    ganforge's built-in families are made this way. A hook implementation with a name that is no
    ganforge hook, in any of the modules, is reported as the plugin's failure."""
    names = [f"{package}.{module}" for module in modules]
    refused: list[str] = []  # a module's unknown hook, reported by the first hook called, once

    def calls(hook: str) -> Callable[..., None]:
        def call(register: Register) -> None:
            if refused:
                return
            loaded = [importlib.import_module(name) for name in names]
            refused.extend(problem for module in loaded if (problem := _unknown_hook(module)))
            if refused:
                raise GanforgeError(refused[0])
            for module in loaded:
                if callable(impl := getattr(module, hook, None)):
                    impl(register=register)

        call.__name__ = call.__qualname__ = hook
        return hookimpl(call)

    hooks: dict[str, Any] = {kind.hook: calls(kind.hook) for kind in KINDS}
    if commands:

        @hookimpl
        def register_commands(cli: Any) -> None:
            for name, (target, summary) in commands.items():
                cli.add_lazy_command(name, target, summary)

        hooks["register_commands"] = register_commands
    return SimpleNamespace(**hooks)


def _unknown_hook(module: ModuleType) -> str | None:
    """What is wrong with the first hook implementation in ``module`` that names no ganforge hook."""
    known = {kind.hook for kind in KINDS} | {"register_commands"}
    for name, value in vars(module).items():
        if callable(value) and hasattr(value, "ganforge_impl") and name not in known:
            return f"{module.__name__}: hook '{name}' is not a ganforge hook, so it is never called{did_you_mean(name, sorted(known))}"
    return None
