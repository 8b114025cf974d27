"""``ganforge plugins``: installed plugins, their distributions, what each registers, and
why any failed to load."""

from __future__ import annotations

import importlib.metadata
import json
import os
import sys
from dataclasses import asdict, dataclass, field

import click
from rich.console import Console
from rich.table import Table

from ganforge.errors import GanforgeError
from ganforge.plugins import DISABLE_ENV, ENTRY_POINT_GROUP, Plugins, get_plugins
from ganforge.testing.registered import check_installed


@dataclass
class PluginRow:
    """One plugin as ``ganforge plugins`` shows it."""

    name: str
    distribution: str | None
    version: str | None
    module: str | None
    status: str  # "loaded", "failed" (did not load), "disabled", or "problems" (loaded, some registrations refused)
    components: list[str] = field(default_factory=list)  # "kind name"
    errors: list[str] = field(default_factory=list)


def plugin_rows(plugins: Plugins) -> list[PluginRow]:
    """Every ``ganforge`` entry point (loaded, failed or disabled) and every plugin
    registered in code, sorted by distribution then name."""
    registry = plugins.registry  # collects registrations first, so their failures are known
    disabled = {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}
    rows: dict[str, PluginRow] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in rows:
            continue  # the same distribution found twice on sys.path: the loader used the first
        dist = ep.dist
        rows[ep.name] = PluginRow(
            ep.name, dist.metadata["Name"] if dist else None, dist.version if dist else None, ep.value,
            "disabled" if ep.name in disabled else "loaded",
        )  # fmt: skip
    for name, info in plugins.loaded.items():
        if name not in rows:
            rows[name] = PluginRow(name, info.distribution, info.version, None, "loaded")
    for component in registry.list():
        if component.plugin in rows:
            rows[component.plugin].components.append(f"{component.kind} {component.name}")
    for failure in plugins.failures:
        row = rows.setdefault(failure.plugin, PluginRow(failure.plugin, None, None, None, "failed"))
        row.errors.append(failure.message)
    for (kind, name), (holder, *others) in registry.conflicts.items():
        if holder in rows:  # the refusal was reported against the later plugin; the name is unusable for both
            rivals = " and ".join(f"'{p}'" for p in others)
            rows[holder].errors.append(f"{kind} '{name}' is also registered by plugin {rivals}: no spec can use it until one is disabled (GANFORGE_DISABLE_PLUGINS=NAME)")
    for row in rows.values():
        if row.status == "loaded" and row.name not in plugins.loaded:
            row.status = "failed"
        elif row.status == "loaded" and row.errors:
            row.status = "problems"
    return sorted(rows.values(), key=lambda r: (r.distribution or "", r.name))


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--check", is_flag=True, help="Run the conformance kit over every installed component; exit 1 if any fails.")
@click.option("--plugin", "only", multiple=True, metavar="NAME", help="With --check: only the components of plugin NAME (repeatable).")
@click.pass_context
def plugins_command(ctx: click.Context, as_json: bool, check: bool, only: tuple[str, ...]) -> None:
    """List installed plugins: distribution, version, components, and load errors.

    \b
    A plugin that fails to import, or registers a name another plugin has, is listed with
    its error; skip it without uninstalling with GANFORGE_DISABLE_PLUGINS=NAME[,NAME...].
    Examples:
      ganforge plugins
      ganforge plugins --json
      GANFORGE_DISABLE_PLUGINS=my-plugin ganforge plugins
      ganforge plugins --check                   # the conformance kit over everything installed
      ganforge plugins --check --plugin my-plugin
    """
    if only and not check:
        raise GanforgeError("--plugin selects the plugins --check checks; add --check")
    if check:
        ctx.exit(_check(only, as_json))
    rows = plugin_rows(get_plugins())
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], indent=2))
        return
    console = Console(width=None if sys.stdout.isatty() else 160)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("plugin", "distribution", "version", "status", "components"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row.name, row.distribution or "(in code)", row.version or "", row.status, ", ".join(row.components))
        for error in row.errors:
            table.add_row("", "", "", "error", error)
    console.print(table, markup=False, highlight=False)


def _check(only: tuple[str, ...], as_json: bool) -> int:
    """``--check``: the kit over the installed components, one line each (a failure's whole
    report below it); 1 when anything failed. Offline, with a temporary cache directory."""
    import tempfile

    plugins = get_plugins()
    unknown = [name for name in only if name not in plugins.loaded and all(f.plugin != name for f in plugins.failures)]
    if unknown:
        installed = ", ".join(sorted(plugins.loaded))
        raise GanforgeError(f"--plugin: no plugin named {', '.join(repr(n) for n in unknown)} is installed (installed: {installed})")
    saved = os.environ.get("GANFORGE_CACHE")
    with tempfile.TemporaryDirectory(prefix="ganforge-check-") as cache:
        os.environ["GANFORGE_CACHE"] = cache  # e.g. the classifier the kit trains is not kept
        try:
            results = check_installed(plugins, only)
        finally:
            if saved is None:
                os.environ.pop("GANFORGE_CACHE", None)
            else:
                os.environ["GANFORGE_CACHE"] = saved
    if as_json:
        click.echo(json.dumps([asdict(r) for r in results], indent=2))
    else:
        for result in results:
            click.echo(f"{result.outcome:8} {result.what} (plugin {result.plugin}){': ' + result.report if result.outcome == 'skipped' else ''}")
            if result.outcome == "failed":
                click.echo("\n".join(f"         {line}" for line in result.report.splitlines()))
        counts = {o: sum(r.outcome == o for r in results) for o in ("passed", "failed", "skipped")}
        click.echo(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped", err=True)
    return 1 if any(r.outcome == "failed" for r in results) else 0
