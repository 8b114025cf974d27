"""``ganforge runs``: a table of the runs under a directory."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ganforge.cli.runinfo import RunSummary, find_runs, format_value, sort_runs, summarize
from ganforge.errors import GanforgeError, did_you_mean
from ganforge.plugins import get_plugins


@click.command()
@click.argument("directory", default="runs", required=False, type=click.Path(file_okay=False))
@click.option("--sort", "sort_by", metavar="METRIC", help="Sort by a metric's best value, best first (default: oldest to newest).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def runs(directory: str, sort_by: str | None, as_json: bool) -> None:
    """List the runs under DIRECTORY (default ./runs): spec name, model, loss, steps done,
    status, and the last and best value of each metric.

    Status is finished, interrupted (resume with --resume), diverged, failed, or running
    (also shown for a run whose process was killed without warning). With --sort, a run whose
    metric was computed differently from the first row's (extractor, weights, sample counts,
    reference...: its provenance.json) is flagged as not comparable; --json shows provenance.

    \b
    Examples:
      ganforge runs
      ganforge runs runs/lsgan --sort fid
      ganforge runs /scratch/sweep --json
    """
    root = Path(directory)
    if not root.is_dir():
        raise GanforgeError(f"{root} is not a directory; give the folder your runs are in (ganforge run ... --out DIR)")
    summaries = [summarize(path, get_plugins().registry) for path in find_runs(root)]
    if sort_by is not None:
        known = sorted({name for s in summaries for name in s.metrics})
        if sort_by not in known:
            choices = ", ".join(known) if known else "none: no run has logged a metric yet"
            raise GanforgeError(f"--sort: no run logged '{sort_by}'{did_you_mean(sort_by, known)}; metrics logged: {choices}")
    summaries = sort_runs(summaries, sort_by)
    if as_json:
        click.echo(json.dumps([s.as_dict() for s in summaries], indent=2))
        return
    if not summaries:
        click.echo(f"no runs under {root} (a run directory holds spec.yaml and status.json)")
        return
    Console(width=None if sys.stdout.isatty() else 200).print(_table(summaries, root), markup=False, highlight=False)


def _table(summaries: list[RunSummary], root: Path) -> Table:
    metric_names = sorted({name for s in summaries for name in s.metrics})
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("run", "name", "model", "loss", "steps", "status"):
        table.add_column(column, overflow="fold")
    for name in metric_names:
        table.add_column(f"{name} last/best", justify="right")
    flagged = any(s.provenance_differs for s in summaries)
    if flagged:
        table.add_column("provenance")
    for s in summaries:
        steps = "?" if s.step is None else (f"{s.step}/{s.total_steps}" if s.total_steps else str(s.step))
        cells = [_relative(s.path, root), s.name, s.model, s.loss, steps, s.status]
        for name in metric_names:
            metric = s.metrics.get(name)
            cells.append("" if metric is None else f"{format_value(metric.last)} / {format_value(metric.best)}")
        if flagged:
            cells.append(f"differs ({', '.join(s.provenance_differs)}): not comparable" if s.provenance_differs else "")
        table.add_row(*cells)
    return table


def _relative(path: Path, root: Path) -> str:
    try:
        relative = path.relative_to(root)
    except ValueError:
        return str(path)
    return str(relative) if str(relative) != "." else str(path)
