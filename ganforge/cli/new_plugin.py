"""``ganforge new-plugin``: write a ready-to-install plugin package for one component."""

from __future__ import annotations

from pathlib import Path

import click

from ganforge.errors import GanforgeError
from ganforge.plugins import get_plugins
from ganforge.scaffold import KINDS, PluginNames, check_name, render_plugin


@click.command("new-plugin")
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), required=True, help="What the plugin provides.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Package folder (default ./ganforge-NAME).")
def new_plugin(name: str, kind: str, out: Path | None) -> None:
    """Write a plugin package providing one KIND component registered as NAME.

    \b
    The package (pyproject.toml with the `ganforge` entry point, src/ganforge_NAME/plugin.py
    with a working component and its @hookimpl, tests using ganforge.testing, README)
    installs and passes its tests as written; then replace the component with yours.
    Examples:
      ganforge new-plugin focal-bce --kind loss
      cd ganforge-focal-bce && pip install -e '.[test]' && pytest && ganforge list loss focal-bce
    """
    check_name(name)
    registry = get_plugins().registry
    if registry.has(kind, name):
        taken = " and ".join(f"'{p}'" for p in registry.conflicts.get((kind, name), [registry.get(kind, name).plugin]))
        raise GanforgeError(f"a {kind} named '{name}' is already registered by plugin {taken}; choose another NAME")
    out = out or Path(f"ganforge-{name}")
    written = render_plugin(name, kind, out)
    names = PluginNames(name, kind)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(
        f"\nNext:\n  cd {out}\n  pip install -e '.[test]' && pytest\n  ganforge list {kind} {name} --params\n"
        f"then edit src/{names.package}/plugin.py ({names.cls}) and use it in a spec as {kind}: {{name: {name}}}"
    )
