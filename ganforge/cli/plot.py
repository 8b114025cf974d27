"""``ganforge plot``: loss and metric figures of a run."""

from __future__ import annotations

import click

from ganforge.artifacts.outputs import overwrite_option
from ganforge.cli.plotting import write_plots


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--out", type=click.Path(file_okay=False), help="Folder for the figures (default RUN_DIR/plots, redrawn each time).")
@overwrite_option
def plot(run_dir: str, out: str | None, overwrite: bool) -> None:
    """Draw PNG figures of RUN_DIR's losses and metrics over training.

    Writes losses.png (discriminator and generator losses, with each loss term when there
    are several) and metric_<name>.png for every metric value in metrics.jsonl. Needs
    matplotlib: pip install 'ganforge[plot]'. Runs draw these by themselves at the end
    when matplotlib is installed (logging.plots in the spec, on by default).

    \b
    Examples:
      ganforge plot runs/lsgan/20250101-120000
      ganforge plot runs/lsgan/20250101-120000 --out report/figures

    The run's own plots/ are redrawn each time; figures that exist in another --out folder are
    replaced only with --overwrite.
    """
    for path in write_plots(run_dir, out, overwrite=overwrite or out is None):
        click.echo(str(path))
