"""Checking components by their registered names, and every component of one plugin."""

from __future__ import annotations

from typing import Any, Callable

from ganforge.kinds import KINDS
from ganforge.plugins import Plugins, get_plugins
from ganforge.testing.constructor import Setup
from ganforge.testing.failures import ConformanceError

#: kind -> the check for that kind (from :data:`ganforge.kinds.KINDS`).
CHECKS: dict[str, Callable[..., None]] = {kind.name: kind.load_check() for kind in KINDS}


def check_component(kind: str, name: str, /, *, setup: Setup | None = None, plugins: Plugins | None = None, **params: Any) -> None:
    """Check the registered component ``kind``/``name`` (e.g. ``check_component("loss", "hinge")``)."""
    info = (plugins or get_plugins()).registry.get(kind, name)
    CHECKS[kind](info.factory, setup=setup, **params)


def check_plugin(plugin: str, /, *, setup: Setup | None = None, params: dict[str, dict[str, Any]] | None = None, plugins: Plugins | None = None) -> None:
    """Check that the installed plugin ``plugin`` (its entry-point name) loaded without
    problems, registered something, and that each component it registered passes the kit.

    ``params`` maps a component's name to its constructor parameters.
    """
    plugins = plugins or get_plugins()
    registry = plugins.registry
    problems = [("load", f.message) for f in plugins.failures if f.plugin == plugin]
    if plugin not in plugins.loaded:
        installed = ", ".join(sorted(plugins.loaded)) or "none"
        problems.append(("load", f"is not loaded (installed plugins: {installed}); is it installed, with an entry point in the `ganforge` group?"))
    components = [info for info in registry.list() if info.plugin == plugin]
    if plugin in plugins.loaded and not components:
        problems.append(("register", "registers no component: its @hookimpl functions must call register(name, Class)"))
    if problems:
        raise ConformanceError(f"plugin '{plugin}'", problems)
    for info in components:
        CHECKS[info.kind](info.factory, setup=setup, **(params or {}).get(info.name, {}))
