"""What a run directory says about its run: spec, components, progress, status, and the last
and best value of each metric. Read from spec.yaml, status.json and metrics.jsonl only."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ganforge.cli.plotting import series
from ganforge.provenance import comparable, read_provenance
from ganforge.registry import Registry
from ganforge.training.rundir import RunDir


@dataclass
class MetricSummary:
    """One logged value over a run. ``best`` is None when its direction is unknown."""

    last: float
    best: float | None
    higher_is_better: bool | None


@dataclass
class RunSummary:
    """One row of ``ganforge runs``."""

    path: Path
    name: str
    model: str
    loss: str
    step: int | None
    total_steps: int | None
    status: str
    metrics: dict[str, MetricSummary] = field(default_factory=dict)
    modified: float = 0.0
    #: metric name in the spec -> its provenances (``provenance.json``), oldest first.
    provenance: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: value names whose provenance differs from the first sorted row's (set by ``sort_runs``).
    provenance_differs: list[str] = field(default_factory=list)

    def value_provenance(self, value_name: str) -> dict[str, Any] | None:
        """The latest provenance of the metric that logged ``value_name``, or None."""
        for history in self.provenance.values():
            if history and value_name in history[-1].get("values", []):
                return history[-1]
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path), "name": self.name, "model": self.model, "loss": self.loss,
            "step": self.step, "total_steps": self.total_steps, "status": self.status,
            "metrics": {k: vars(v) for k, v in self.metrics.items()},
            "provenance": self.provenance, "provenance_differs": self.provenance_differs,
        }  # fmt: skip


def is_run_dir(path: Path) -> bool:
    """A directory ``ganforge run`` wrote: a spec.yaml plus a status.json or a checkpoint."""
    run = RunDir(path)
    return bool(run.spec_path.is_file() and (run.status_path.is_file() or run.last_checkpoint.is_file()))


def find_runs(root: Path | str) -> list[Path]:
    """Every run directory at or under ``root`` (not looking inside a run)."""
    root = Path(root)
    if is_run_dir(root):
        return [root]
    found = []
    for current, dirs, _ in os.walk(root):
        if is_run_dir(Path(current)):
            found.append(Path(current))
            dirs.clear()
        else:
            dirs.sort()
    return found


def summarize(path: Path | str, registry: Registry | None = None) -> RunSummary:
    """A :class:`RunSummary` of the run at ``path``; unreadable parts show as "?"."""
    run = RunDir(path)
    spec = _read_spec(run)
    status = _read_status(run)
    records = run.read_log()
    modified = max((p.stat().st_mtime for p in (run.status_path, run.metrics_path, run.spec_path) if p.exists()), default=0.0)
    generator = _component_name(spec.get("generator"))
    discriminator = _component_name(spec.get("discriminator"))
    model = generator if discriminator in (generator, "?") else f"{generator}/{discriminator}"
    losses = [_component_name(spec.get("loss"))] + [_component_name(p) for p in spec.get("penalties") or []]
    last_step = max((r["step"] for r in records if isinstance(r.get("step"), int)), default=None)
    # status.json is written at the start, at each checkpoint and at the end; between them the log is ahead.
    step = status.get("step", last_step)
    if isinstance(step, int) and isinstance(last_step, int) and status.get("status") == "running":
        step = max(step, last_step)
    return RunSummary(
        path=run.root,
        name=str(spec.get("name", run.root.name)),
        model=model,
        loss="+".join(losses),
        step=step,
        total_steps=status.get("total_steps"),
        status=str(status.get("status", "unknown")),
        metrics=_metric_summaries(records, spec, registry),
        modified=modified,
        provenance=read_provenance(run.root),
    )


def sort_runs(runs: list[RunSummary], metric: str | None) -> list[RunSummary]:
    """By ``metric`` (best value first, in the metric's direction; runs without it last), or
    by time, newest last. Sorting by a metric marks each run whose provenance for it differs
    from the first run's (``provenance_differs``): their values are not comparable."""
    if metric is None:
        return sorted(runs, key=lambda r: (r.modified, str(r.path)))

    def key(run: RunSummary) -> tuple[int, float]:
        summary = run.metrics.get(metric)
        if summary is None:
            return (1, 0.0)
        value = summary.best if summary.best is not None else summary.last
        return (0, -value if summary.higher_is_better else value)

    ordered = sorted(runs, key=key)
    with_metric = [r for r in ordered if metric in r.metrics]
    if with_metric:
        first = with_metric[0].value_provenance(metric)
        for run in with_metric[1:]:
            if not comparable(first, run.value_provenance(metric)) and metric not in run.provenance_differs:
                run.provenance_differs.append(metric)
    return ordered


def _metric_summaries(records: list[dict[str, Any]], spec: dict[str, Any], registry: Registry | None) -> dict[str, MetricSummary]:
    # metric evaluations are records of their own; the training log's records carry the losses
    # and beside them training state (lr/..., augment/p), which is no metric
    evaluations = [r for r in records if not any(str(k).startswith("loss/") for k in r)]
    out = {}
    for name, points in series(evaluations).items():
        values = [v for _, v in points]
        direction = _direction(name, spec, registry)
        best = None if direction is None else (max(values) if direction else min(values))
        out[name] = MetricSummary(values[-1], best, direction)
    return out


def _direction(value_name: str, spec: dict[str, Any], registry: Registry | None) -> bool | None:
    """Whether higher is better for a logged value: the spec's train.best_mode when it names this
    value, else the ``higher_is_better`` of the metric that logs it (matched by name, or the only
    metric). None when it cannot be told, e.g. for a spread such as ``kid_std``."""
    train = spec.get("train") or {}
    if train.get("best_metric") == value_name and train.get("best_mode") in ("min", "max"):
        return bool(train["best_mode"] == "max")
    if value_name.endswith("_std"):
        return None
    names = [_component_name(m) for m in spec.get("metrics") or []]
    # "fid" from fid, "fid/test" or "fid_test" from fid, "recall" from precision-recall
    matching = [n for n in names if value_name == n or value_name.startswith((f"{n}/", f"{n}_")) or value_name in n.split("-")]
    candidates = matching or (names if len(names) == 1 else [])
    if len(candidates) != 1 or registry is None:
        return None
    try:
        factory = registry.get("metric", candidates[0]).factory
    except Exception:  # noqa: BLE001 - the plugin that logged it is not installed here
        return None
    direction = getattr(factory, "higher_is_better", None)
    return direction if isinstance(direction, bool) else None


def _component_name(entry: Any) -> str:
    if isinstance(entry, dict):
        return str(entry.get("name", "?"))
    return str(entry) if entry else "?"


def _read_spec(run: RunDir) -> dict[str, Any]:
    try:
        data = yaml.safe_load(run.spec_path.read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_status(run: RunDir) -> dict[str, Any]:
    try:
        data = run.read_status()
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}




def format_value(value: float | None) -> str:
    """A metric value for a table cell."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.4g}"
