"""``ganforge new-plugin``: write a ready-to-install plugin package for one component."""

from __future__ import annotations

from pathlib import Path

import click

from ganforge.errors import GanforgeError, did_you_mean
from ganforge.kinds import find_kind
from ganforge.plugins import get_plugins
from ganforge.scaffold import KINDS, PluginNames, check_name, render_plugin


@click.command("new-plugin")
@click.argument("words", nargs=-1, required=True, metavar="[KIND] NAME")
@click.option("--kind", "kind_option", type=click.Choice(KINDS), help="What the plugin provides (or give KIND before NAME).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Package folder (default ./ganforge-NAME).")
def new_plugin(words: tuple[str, ...], kind_option: str | None, out: Path | None) -> None:
    """Write a plugin package providing one KIND component registered as NAME.

    \b
    The package (pyproject.toml with the `ganforge` entry point, src/ganforge_NAME/plugin.py
    with a working component and its @hookimpl, tests using ganforge.testing, README)
    installs and passes its tests as written; then replace the component with yours.
    Examples:
      ganforge new-plugin loss focal-bce          (or: ganforge new-plugin focal-bce --kind loss)
      cd ganforge-focal-bce && pip install -e '.[test]' && pytest && ganforge list loss focal-bce
    """
    kind, name = _kind_and_name(words, kind_option)
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


def _kind_and_name(words: tuple[str, ...], kind_option: str | None) -> tuple[str, str]:
    """``KIND NAME`` (as ``ganforge list`` takes them) or ``NAME --kind KIND``."""
    if len(words) > 2:
        raise GanforgeError(f"new-plugin takes [KIND] NAME, got {len(words)} words: {' '.join(words)}")
    if len(words) == 1:
        if kind_option is None:
            raise GanforgeError(f"give the kind of '{words[0]}': ganforge new-plugin KIND {words[0]} (KIND is one of {', '.join(KINDS)})")
        return kind_option, words[0]
    found = find_kind(words[0])
    if found is None:
        raise GanforgeError(f"unknown kind '{words[0]}'{did_you_mean(words[0], KINDS)}; expected one of {', '.join(KINDS)}")
    if kind_option is not None and kind_option != found.name:
        raise GanforgeError(f"KIND {words[0]} and --kind {kind_option} disagree; give one of them")
    return found.name, words[1]
