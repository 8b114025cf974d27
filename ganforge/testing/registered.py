"""Checking components by their registered names, and every component of one plugin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ganforge.kinds import KINDS
from ganforge.plugins import Plugins, get_plugins
from ganforge.registry import ComponentInfo
from ganforge.requirements import availability
from ganforge.spec.signature import INJECTED, signature_of
from ganforge.spec.types import nested_kind, type_error
from ganforge.testing.constructor import Setup
from ganforge.testing.failures import ComponentUnavailable, ConformanceError
from ganforge.testing.fakes import RandomFeatures, TinyImages

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


#: the distribution ganforge's own components come from.
OWN_DISTRIBUTION = "ganforge"


def components_of(distribution: str | None, plugins: Plugins | None = None) -> list[ComponentInfo]:
    """Every registered component whose plugin comes from ``distribution`` (e.g. ``"ganforge"``:
    the built-ins, so that an installed third-party plugin does not enter ganforge's own tests)."""
    plugins = plugins or get_plugins()
    own = {name for name, info in plugins.loaded.items() if info.distribution == distribution}
    return [info for info in plugins.registry.list() if info.plugin in own]


def offline_params(info: ComponentInfo) -> dict[str, Any]:
    """Constructor parameters that make a check fast and offline: ``download=False``, ``mode="offline"``
    (a logger that can keep its run on disk), and a
    small deterministic extractor (:class:`RandomFeatures`) for parameters that take one."""
    params: dict[str, Any] = {}
    for p in signature_of(info.factory).params:
        if p.name == "download":
            params["download"] = False
        elif p.name == "mode" and type_error("offline", p.hint) is None:  # a logger that can keep its run on disk (W&B)
            params["mode"] = "offline"
        elif nested_kind(p.hint) == "extractor":
            params[p.name] = RandomFeatures()
        elif nested_kind(p.hint) == "dataset" and not p.required:
            params[p.name] = TinyImages((3, 32, 32), size=8)  # a dataset that wraps another (super-resolution)
    return params


@dataclass(frozen=True)
class InstalledCheck:
    """How one registered component fared in :func:`check_installed`."""

    what: str  # "loss 'hinge'", or "plugin 'name'" for a plugin that failed to load
    plugin: str
    outcome: str  # "passed", "failed" or "skipped"
    report: str = ""


def check_installed(plugins: Plugins | None = None, only: tuple[str, ...] = ()) -> list[InstalledCheck]:
    """Run the kit over every installed component (or those of the plugins named in ``only``).

    A component whose constructor needs parameters the kit cannot guess (a data folder), or that
    needs something missing (data files, pretrained weights), is skipped with the reason; a
    plugin that failed to load or whose registrations were refused fails.
    """
    plugins = plugins or get_plugins()
    registry = plugins.registry
    results: list[InstalledCheck] = []
    for failure in plugins.failures:
        if not only or failure.plugin in only:
            results.append(InstalledCheck(f"plugin '{failure.plugin}'", failure.plugin, "failed", str(failure)))
    for info in registry.list():
        if only and info.plugin not in only:
            continue
        what = f"{info.kind} '{info.name}'"
        required = [p.name for p in signature_of(info.factory).params if p.required and p.name not in INJECTED]
        if required:
            results.append(InstalledCheck(what, info.plugin, "skipped", f"needs {', '.join(required)}; check it in the plugin's tests"))
            continue
        params = offline_params(info)
        if "a conditional generator" in availability(info.factory)[0]:  # what the component says it needs
            params["setup"] = Setup(num_classes=4)
        try:
            CHECKS[info.kind](info.factory, **params)
        except ComponentUnavailable as exc:
            results.append(InstalledCheck(what, info.plugin, "skipped", exc.problems[0][1]))
        except ConformanceError as exc:
            refusals = {message for _, message in exc.problems if message.startswith("raised GanforgeError: ")}
            stand_ins = [k for k in params if k not in ("download", "setup")]
            if stand_ins and [check for check, _ in exc.problems] == ["construct"]:  # refused the kit's stand-in for a parameter
                results.append(InstalledCheck(what, info.plugin, "skipped", f"needs a real {', '.join(stand_ins)} ({exc.problems[0][1]}); check it in the plugin's tests"))
            elif len(refusals) == 1 and len(refusals) == len({m for _, m in exc.problems}):
                # one user-facing refusal of the kit's default networks (an encoder, a class head): the
                # component's own word that it needs another setup, which its plugin's tests give it
                reason = refusals.pop().removeprefix("raised GanforgeError: ")
                results.append(InstalledCheck(what, info.plugin, "skipped", f"needs a setup the kit's default lacks ({reason}); check it in the plugin's tests"))
            else:
                results.append(InstalledCheck(what, info.plugin, "failed", str(exc)))
        else:
            results.append(InstalledCheck(what, info.plugin, "passed"))
    return results
