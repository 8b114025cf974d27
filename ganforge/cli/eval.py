"""``ganforge eval``: the metrics of a trained generator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import torch

from ganforge.artifacts.features import component_from_text
from ganforge.artifacts.loading import load_trained
from ganforge.cli.progress import make_progress
from ganforge.errors import GanforgeError
from ganforge.interfaces import EvalContext, Metric
from ganforge.provenance import generator_provenance


@click.command("eval")
@click.argument("run_dir", type=click.Path(exists=True, path_type=Path))
@click.option("--checkpoint", default="last", show_default=True, help="best, last, or a checkpoint file.")
@click.option(
    "--metric", "metrics", multiple=True,
    help="A metric name or YAML mapping, e.g. 'fid' or '{name: kid, samples: 2000}'; repeatable. Default: the run's `metrics:`.",
)  # fmt: skip
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--seed", type=int, default=None, help="Sampling seed (default: the run's seed).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of lines.")
def eval_command(run_dir: Path, checkpoint: str, metrics: tuple[str, ...], device: str, seed: int | None, as_json: bool) -> None:
    """Compute metrics of a trained generator (the EMA weights when the run kept them).

    Each metric's provenance (extractor, weights digest, preprocessing, sample counts,
    reference, precision, EMA or raw weights, version) is printed after the values
    (a "provenance" object with --json).

    \b
    Examples:
      ganforge eval runs/lsgan
      ganforge eval runs/cgan --checkpoint best --metric fid --metric accuracy
    """
    trained = load_trained(run_dir, checkpoint=checkpoint, device=device)
    experiment = trained.experiment
    chosen: list[tuple[str, Metric]] = [(text, component_from_text("metric", text)) for text in metrics]
    if not chosen:
        chosen = [(scheduled.name, scheduled.metric) for scheduled in experiment.metrics]
    if not chosen:
        raise GanforgeError(f"{run_dir}: the run's spec has no `metrics:`; name some with --metric fid")
    device_of = next(trained.generator.parameters(), torch.empty(0)).device
    context = EvalContext(trained.generator, experiment.dataset, device_of, seed=experiment.seed if seed is None else seed, workers=experiment.workers)
    values: dict[str, float] = {}
    provenance: dict[str, dict] = {}
    weights = "ema" if trained.uses_ema else "raw"
    progress = make_progress(quiet=False)
    try:
        for name, metric in chosen:
            context.progress = lambda what, done, total, name=name: progress.evaluating(f"{name}: {what}", done, total)
            values.update(metric.evaluate(context))
            provenance[name] = json.loads(json.dumps({**metric.provenance(context), **generator_provenance(context, weights)}, default=str))
    finally:
        progress.stop()
    if as_json:
        click.echo(json.dumps({"checkpoint": str(trained.checkpoint_path), "step": trained.step, **values, "provenance": provenance}))
        return
    click.echo(f"{trained.checkpoint_path} (step {trained.step}{', EMA weights' if trained.uses_ema else ''})")
    for name, value in values.items():
        click.echo(f"{name}: {value:.6g}")
    for name, entry in provenance.items():
        click.echo(f"provenance of {name}: {describe_provenance(entry)}")


def describe_provenance(entry: dict[str, Any]) -> str:
    """One line: the parts of a provenance a reader compares first."""
    parts = []
    extractor = entry.get("extractor")
    if isinstance(extractor, dict):
        layers = ",".join(extractor.get("layers") or [])
        parts.append(f"extractor {extractor.get('key')}" + (f" [{layers}]" if layers else ""))
    for key in ("samples", "samples_per_class"):
        if key in entry:
            parts.append(f"{entry[key]} generated" + (" per class" if key == "samples_per_class" else ""))
    reference = entry.get("reference")
    if isinstance(reference, dict):
        if "npz" in reference:
            parts.append(f"reference {reference['npz']} (sha256 {reference.get('sha256')})")
        else:
            parts.append(f"reference {reference.get('dataset')} ({reference.get('samples')} samples)")
    for key in ("statistics", "route", "generator_weights"):
        if entry.get(key):
            parts.append(f"{key.replace('_', ' ')} {entry[key]}")
    parts.append(f"ganforge {entry.get('ganforge_version')}")
    return "; ".join(parts)
