"""``ganforge sweep``: train one spec over a grid of settings and seeds, and report the comparison."""

from __future__ import annotations

from pathlib import Path

import click

from ganforge.cli.common import set_option
from ganforge.errors import GanforgeError
from ganforge.plugins import get_plugins
from ganforge.spec import load_spec
from ganforge.sweep.folder import SweepFolder
from ganforge.sweep.plan import make_plan, validate
from ganforge.sweep.report import FORMATS, build_report, write_report
from ganforge.sweep.runner import run_members, threads_per_member


class _RunByDefault(click.Group):
    """``ganforge sweep SPEC ...`` is ``ganforge sweep run SPEC ...``; ``ganforge sweep report DIR`` reports."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_RunByDefault)
def sweep() -> None:
    """Train SPEC over a grid of settings and seeds; compare them in a table and plots.

    \b
    Examples:
      ganforge sweep specs/ring.yaml --grid 'loss.name=[bce, lsgan]' --grid 'train.d_steps=[1, 2]' --seeds 0,1,2 --jobs 2
      ganforge sweep specs/r3gan-ring.yaml --grid 'penalties.0.gamma=[0.1, 1]' --seeds 0,1 --out sweeps/gamma
      ganforge sweep my-spec.yaml                 # a spec with a sweep: section (grid:, seeds:)
      ganforge sweep report sweeps/ring           # the table again, as Markdown (or --format csv/json)
    Each member is an ordinary run directory under OUT/runs/; running the same command again
    keeps the finished members and resumes the others.
    """


@sweep.command("run")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--grid", "grid", multiple=True, metavar="KEY=[V1, V2]", help="A spec key and its values (repeatable; every combination is a setting).")
@click.option("--seeds", metavar="0,1,2", help="Seeds each setting is trained with (default: the spec's seed).")
@set_option
@click.option("--out", type=click.Path(file_okay=False), help="Sweep folder (default sweeps/<spec name>).")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Members trained at a time, each in its own process.")
@click.option("--threads", type=click.IntRange(min=1), help="CPU threads per member (default: the cores shared among the jobs).")
@click.option("--nproc", type=click.IntRange(min=1), help="Train each member over N processes (ganforge run --nproc).")
def run_sweep(spec: str, grid: tuple[str, ...], seeds: str | None, overrides: tuple[str, ...], out: str | None, jobs: int, threads: int | None, nproc: int | None) -> None:
    """Train every member of the sweep that has not finished, then write the report."""
    plan = make_plan(spec, overrides, grid, seeds)
    registry = get_plugins().registry
    validate(plan, registry)  # every member's spec, before anything starts
    folder = SweepFolder(out or Path("sweeps") / load_spec(spec).name)
    with folder.lock():
        folder.adopt(plan, nproc)
        outcome = run_members(folder, plan.spec, plan.overrides, jobs, threads or threads_per_member(jobs, nproc), nproc, _say)
    if outcome.stopped is not None:
        raise _Stopped(f"sweep stopped; continue it with the same command (finished members are kept, the others resume): {folder.root}")
    report = build_report(folder, registry)
    written = write_report(folder, report, _say)
    click.echo(report.markdown())
    _say(f"report: {', '.join(str(p) for p in written)}")
    if outcome.failed:
        names = "; ".join(f"{entry.folder} (exit code {code})" for entry, code, _ in outcome.failed)
        raise GanforgeError(f"{len(outcome.failed)} member{'s' if len(outcome.failed) > 1 else ''} failed: {names}; see {folder.root / 'logs'}, fix and rerun the same command")


@sweep.command("report")
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="md", show_default=True, help="What to print.")
def report_command(directory: str, fmt: str) -> None:
    """Print the comparison of the sweep in DIRECTORY and write report.md/.csv/.json and plots/ there."""
    folder = SweepFolder(directory)
    report = build_report(folder, get_plugins().registry)
    write_report(folder, report, _say)
    click.echo(report.render(fmt), nl=False)


def _say(text: str) -> None:
    click.echo(f"sweep: {text}", err=True)


class _Stopped(GanforgeError):
    exit_code = 130
