"""Loading plugins: pluggy manager, ``ganforge`` entry points, and the registry they fill.

Built-in components are ordinary plugins declared in ganforge's own ``pyproject.toml``,
loaded from the entry-point group exactly like third-party packages.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import os
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

import pluggy

from ganforge import hookspecs
from ganforge.errors import did_you_mean
from ganforge.kinds import KINDS
from ganforge.registry import DuplicateComponentError, Registry

ENTRY_POINT_GROUP = "ganforge"
DISABLE_ENV = "GANFORGE_DISABLE_PLUGINS"

#: kind -> its ``register_*`` hook (derived from :data:`ganforge.kinds.KINDS`).
HOOK_BY_KIND: dict[str, str] = {kind.name: kind.hook for kind in KINDS}


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not load, or one of whose registrations was refused."""

    plugin: str
    message: str

    def __str__(self) -> str:
        return f'plugin "{self.plugin}": {self.message}'


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin and the distribution that provides it (None when registered in code)."""

    name: str
    distribution: str | None = None
    version: str | None = None


@dataclass
class Plugins:
    """A plugin manager, what it loaded, and the registry its hooks filled."""

    manager: pluggy.PluginManager
    loaded: dict[str, PluginInfo] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)
    _registry: Registry | None = None

    @classmethod
    def create(cls, *, entry_points: bool = True) -> Plugins:
        """A manager with the hookspecs; with ``entry_points`` it loads the ``ganforge`` group,
        skipping names in ``$GANFORGE_DISABLE_PLUGINS`` (comma-separated)."""
        manager = pluggy.PluginManager("ganforge")
        manager.add_hookspecs(hookspecs)
        plugins = cls(manager)
        if entry_points:
            plugins.load_entry_points()
        return plugins

    def load_entry_points(self) -> None:
        disabled = {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}
        found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        for name in sorted(disabled - set(found.names)):  # a typo here would leave the plugin on without a word
            self.failures.append(PluginFailure(name, f"{DISABLE_ENV} names it, but no installed plugin is called '{name}'{did_you_mean(name, found.names)}; it disables nothing"))
        for ep in found:
            if ep.name in disabled or self.manager.has_plugin(ep.name):
                continue
            dist = ep.dist
            info = PluginInfo(ep.name, dist.metadata["Name"] if dist else None, dist.version if dist else None)
            try:
                module = ep.load()
            except Exception as exc:  # noqa: BLE001 - any import failure must not take the CLI down
                self.failures.append(PluginFailure(ep.name, f"failed to import {ep.value}: {type(exc).__name__}: {exc}"))
                continue
            self.register(module, info)

    def register(self, plugin: Any, info: PluginInfo | str) -> None:
        """Register a plugin object (module or instance with ``@hookimpl`` methods)."""
        if isinstance(info, str):
            info = PluginInfo(info)
        if self.manager.is_registered(plugin) and self.manager.get_name(plugin) != info.name:
            # pluggy's own message lists every registered plugin's namespace: kilobytes
            other = self.manager.get_name(plugin)
            what = getattr(plugin, "__name__", type(plugin).__name__)
            self.failures.append(PluginFailure(info.name, f"{what} is already registered as plugin '{other}'; a plugin is registered once: use the name '{other}'"))
            return
        try:
            self.manager.register(plugin, name=info.name)
        except Exception as exc:  # noqa: BLE001 - pluggy validation errors name the bad hook
            said = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())  # one line
            self.failures.append(PluginFailure(info.name, f"{type(exc).__name__}: {said}"))
            return
        self.loaded[info.name] = info
        self._registry = None

    def unregister(self, name: str) -> None:
        self.manager.unregister(name=name)
        self.loaded.pop(name, None)
        self._registry = None

    @property
    def registry(self) -> Registry:
        """The registry, filled by calling each plugin's hooks with a ``register`` bound to it."""
        if self._registry is None:
            self.failures = [f for f in self.failures if f.plugin not in self.loaded]
            self._registry = self._collect()
        return self._registry

    def _collect(self) -> Registry:
        registry = Registry()
        self.failures.extend(self._unknown_hooks(registry))
        for kind in KINDS:
            hook = getattr(self.manager.hook, kind.hook)
            for impl in hook.get_hookimpls():  # registration order: the first to claim a name keeps it
                register = partial(self._register_one, registry, kind.name, impl.plugin_name)
                try:
                    impl.function(register=register)
                except Exception as exc:  # noqa: BLE001 - a broken hook must not hide the others
                    self.failures.append(PluginFailure(impl.plugin_name, f"{hook.name} raised {type(exc).__name__}: {exc}"))
        return registry

    def _unknown_hooks(self, registry: Registry) -> list[PluginFailure]:
        """Hook implementations that match no ganforge hook (a misspelt ``register_loss``): pluggy
        accepts them at registration and never calls them (``check_pending`` would raise).

        The names such a hook would register for the kind it was meant for are noted in
        ``registry`` (not registered), so a spec naming one is pointed at the plugin's mistake
        rather than at a similar name."""
        known = [name for name, caller in vars(self.manager.hook).items() if getattr(caller, "spec", None) is not None]
        kinds = {kind.hook: kind.name for kind in KINDS}
        failures = []
        for name, caller in sorted(vars(self.manager.hook).items()):
            if not isinstance(caller, pluggy.HookCaller) or caller.spec is not None:
                continue
            for impl in caller.get_hookimpls():
                failure = PluginFailure(impl.plugin_name, f"hook '{name}' is not a ganforge hook, so it is never called{did_you_mean(name, known)}")
                failures.append(failure)
                meant = difflib.get_close_matches(name, list(kinds), n=1, cutoff=0.8)
                if meant:
                    for component in _names_registered_by(impl.function):
                        registry.unregistered[kinds[meant[0]], component] = str(failure)
        return failures

    def _register_one(self, registry: Registry, kind: str, plugin: str, name: str, factory: Any, aliases: tuple[str, ...] = ()) -> None:
        """The ``register(name, factory, aliases=())`` callback a plugin's hook receives."""
        try:
            registry.add(kind, name, factory, plugin, aliases)
        except DuplicateComponentError as exc:
            self.failures.append(PluginFailure(plugin, str(exc)))

    def add_commands(self, cli: Any) -> None:
        """Let every plugin add its click commands to ``cli``."""
        for impl in self.manager.hook.register_commands.get_hookimpls():
            try:
                impl.function(cli=cli)
            except Exception as exc:  # noqa: BLE001
                self.failures.append(PluginFailure(impl.plugin_name, f"register_commands raised {type(exc).__name__}: {exc}"))


def _names_registered_by(hook: Callable[..., Any]) -> list[str]:
    """The names a (misspelt, never called) registration hook passes to ``register``; none when it fails."""
    names: list[str] = []
    try:
        hook(register=lambda name, *args, **kwargs: names.append(str(name)))
    except Exception:  # noqa: BLE001 - the hook is already reported as broken
        return []
    return names


_default: Plugins | None = None


def get_plugins() -> Plugins:
    """The process-wide plugins, loaded from entry points on first use."""
    global _default
    if _default is None:
        _default = Plugins.create()
    return _default


def set_plugins(plugins: Plugins | None) -> None:
    """Replace the process-wide plugins (tests use this to isolate themselves)."""
    global _default
    _default = plugins
