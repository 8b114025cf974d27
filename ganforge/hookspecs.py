"""The whole plugin contract: one ``register_<plural>`` hook per component kind (one per row of
:data:`ganforge.kinds.KINDS`), plus CLI commands, and :func:`family`, which makes a plugin of a
package's modules imported on demand."""

from __future__ import annotations

import importlib
from types import ModuleType, SimpleNamespace
from typing import Any, Callable, Protocol, Sequence

import pluggy

from ganforge.errors import GanforgeError, did_you_mean
from ganforge.kinds import KINDS

hookspec = pluggy.HookspecMarker("ganforge")
hookimpl = pluggy.HookimplMarker("ganforge")


class Register(Protocol):
    """The callback every ``register_*`` hook receives."""

    def __call__(self, name: str, factory: Callable[..., Any], aliases: Sequence[str] = ()) -> None:
        """Register ``factory`` (a class or callable) as ``name``; ``aliases`` are former names
        that keep old specs, runs and checkpoints working."""


# One hook per row of ganforge.kinds.KINDS, written out so each can be found and read
# (tests/test_plugins.py checks the two agree).
@hookspec
def register_generators(register: Register) -> None:
    """Register generator classes: ``register("dcgan", DCGANGenerator)``."""


@hookspec
def register_discriminators(register: Register) -> None:
    """Register discriminator classes: ``register("dcgan", DCGANDiscriminator)``."""


@hookspec
def register_losses(register: Register) -> None:
    """Register adversarial losses and penalties (``Loss`` subclasses): ``register("lsgan", LeastSquaresLoss)``."""


@hookspec
def register_datasets(register: Register) -> None:
    """Register dataset classes: ``register("image-folder", ImageFolder)``."""


@hookspec
def register_metrics(register: Register) -> None:
    """Register metric classes: ``register("fid", FID)``."""


@hookspec
def register_extractors(register: Register) -> None:
    """Register feature extractors, the networks whose activations metrics compare (``FeatureExtractor`` subclasses)."""


@hookspec
def register_augments(register: Register) -> None:
    """Register differentiable augmentations of every discriminator input (``Augment`` subclasses)."""


@hookspec
def register_loggers(register: Register) -> None:
    """Register run loggers: where scalars, sample pictures and the run's status go (``Logger`` subclasses)."""


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
    return SimpleNamespace(__name__=package, **hooks)  # named in messages as its package


def _unknown_hook(module: ModuleType) -> str | None:
    """What is wrong with the first hook implementation in ``module`` that names no ganforge hook."""
    known = {kind.hook for kind in KINDS} | {"register_commands"}
    for name, value in vars(module).items():
        if callable(value) and hasattr(value, "ganforge_impl") and name not in known:
            return f"{module.__name__}: hook '{name}' is not a ganforge hook, so it is never called{did_you_mean(name, sorted(known))}"
    return None
