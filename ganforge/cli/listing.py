"""``ganforge list``: every registered component with its plugin, summary and parameters."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.table import Table

from ganforge.errors import GanforgeError, did_you_mean
from ganforge.kinds import KIND_NAMES, find_kind
from ganforge.plugins import get_plugins
from ganforge.registry import ComponentInfo, DuplicateComponentError, Registry
from ganforge.requirements import availability
from ganforge.spec.signature import signature_of

_HELP = f"""List registered components, optionally of one KIND and matching the glob PATTERN.

\b
KIND is one of: {", ".join(KIND_NAMES)} (or its plural).
PATTERN matches names and aliases (former names that still work in specs).
Listing one KIND, components that need something beyond their parameters (pretrained
weights, an optional extra, a conditional generator) say so, and whether it is available
now (--json always has "needs" and "available").
Examples:
  ganforge list
  ganforge list loss --params
  ganforge list generator 'dc*'
  ganforge list dcgan            (a name pattern across every kind)
"""


@click.command("list", help=_HELP)
@click.argument("kind", required=False)
@click.argument("pattern", required=False, default="*")
@click.option("--params", is_flag=True, help="Show each component's parameters with types and defaults.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_components(kind: str | None, pattern: str, params: bool, as_json: bool) -> None:
    """``ganforge list``: the help text is ``_HELP``, built from the kind table."""
    found = find_kind(kind) if kind is not None else None
    if kind is not None and found is None:
        pattern, kind = kind, None  # `ganforge list dcgan`: a pattern over every kind
    elif found is not None:
        kind = found.name
    plugins = get_plugins()
    entries = plugins.registry.list(kind, pattern)
    if as_json:
        click.echo(json.dumps([_as_dict(e, plugins.registry) for e in entries], indent=2))
        return
    if not entries:
        raise GanforgeError(f"no {kind or 'component'} matches '{pattern}'{_closest(plugins.registry, kind, pattern)}; see `ganforge list{f' {kind}' if kind else ''}`")
    console = Console(width=None if sys.stdout.isatty() else 160)
    table = Table(box=None, pad_edge=False, header_style="bold")
    aliases = any(e.aliases for e in entries)
    needs = {id(e): availability(e.factory) for e in entries}
    show_needs = kind is not None and any(n[0] for n in needs.values())  # the full list stays narrow
    columns = ("kind", "name", "plugin", "summary", *(("aliases",) if aliases else ()), *(("needs", "available now") if show_needs else ()))
    for column in columns:
        table.add_column(column, overflow="fold")
    for entry in entries:
        what, missing = needs[id(entry)]
        extra = ((", ".join(entry.aliases),) if aliases else ()) + (
            ("; ".join(what), ("yes" if missing is None else f"no: {missing}") if what else "") if show_needs else ()
        )
        contested = plugins.registry.conflicts.get((entry.kind, entry.name))
        if contested:
            table.add_row(entry.kind, entry.name, " + ".join(contested), _unusable(plugins.registry, entry), *extra)
        else:
            table.add_row(entry.kind, entry.name, entry.plugin, entry.summary, *extra)
        if params:
            claimants = plugins.registry.claimants(entry)
            for claimant in claimants:
                if len(claimants) > 1:
                    table.add_row("", "", "", f"  from plugin {claimant.plugin} ({claimant.summary}):", *([""] * len(extra)))
                for p in signature_of(claimant.factory).params:
                    table.add_row("", "", "", f"  {p.name}: {p.describe_type()} = {p.describe_default()}", *([""] * len(extra)))
    console.print(table, markup=False, highlight=False)


def _closest(registry: Registry, kind: str | None, pattern: str) -> str:
    """`` (did you mean 'x'?)`` among the names and aliases in reach, kinds included when listing every kind."""
    candidates = [n for e in registry.list(kind) for n in (e.name, *e.aliases)]
    return did_you_mean(pattern, candidates if kind else [*KIND_NAMES, *candidates])


def _unusable(registry: Registry, entry: ComponentInfo) -> str:
    """What a spec naming a contested ``entry`` is told, as its summary."""
    try:
        registry.get(entry.kind, entry.name)
    except DuplicateComponentError as exc:
        return f"unusable: {exc}"
    return entry.summary


def _as_dict(entry: ComponentInfo, registry: Registry) -> dict[str, object]:
    what, missing = availability(entry.factory)
    return {
        "conflict": registry.conflicts.get((entry.kind, entry.name)),
        "needs": what,
        "available": missing is None,
        "unavailable_because": missing,
        "kind": entry.kind,
        "name": entry.name,
        "plugin": entry.plugin,
        "summary": entry.summary,
        "aliases": list(entry.aliases),
        "params": _params(entry),
        "claimants": [{"plugin": c.plugin, "summary": c.summary, "params": _params(c)} for c in registry.claimants(entry)]
        if (entry.kind, entry.name) in registry.refused else None,
    }


def _params(entry: ComponentInfo) -> list[dict[str, object]]:
    return [
        {"name": p.name, "type": p.describe_type(), "default": p.describe_default(), "required": p.required}
        for p in signature_of(entry.factory).params
    ]
