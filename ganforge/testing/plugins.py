"""Plugins in a plugin package's own tests, without ganforge's internals (``ganforge.plugins``)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from ganforge.plugins import Plugins, get_plugins, set_plugins
from ganforge.registry import Registry
from ganforge.testing.failures import ConformanceError


def is_installed(plugin: str) -> bool:
    """Whether the plugin ``plugin`` (its entry-point name) is installed and loaded."""
    return plugin in get_plugins().loaded


@contextmanager
def registered_plugin(plugin: object, name: str) -> Iterator[Registry]:
    """Register ``plugin`` (a module or object with ``@hookimpl`` functions) as ``name`` for the
    ``with`` block, next to every installed plugin, and yield the registry it fills.

    Every ganforge call inside the block (specs, the CLI through click's runner, the kit)
    sees the plugin; an installed plugin of the same name is replaced for the block, and the
    process-wide plugins come back afterwards. Raises :class:`ConformanceError` when the plugin
    cannot be registered or its registrations are refused (a misspelt hook, a name taken)::

        def test_registers_under_its_name():
            with registered_plugin(plugin, "my-loss") as registry:
                assert registry.get("loss", "my-loss").factory is MyLoss
    """
    previous = get_plugins()
    fresh = Plugins.create()
    if fresh.manager.has_plugin(name):
        fresh.unregister(name)
    fresh.register(plugin, name)
    registry = fresh.registry
    problems = [("register", failure.message) for failure in fresh.failures if failure.plugin == name]
    if problems:
        raise ConformanceError(f"plugin '{name}'", problems)
    set_plugins(fresh)
    try:
        yield registry
    finally:
        set_plugins(previous)
