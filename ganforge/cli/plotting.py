"""Figures of a run from its metrics.jsonl: the discriminator and generator losses, and each
metric, over training steps. Needs matplotlib (the ``plot`` extra); drawn without pyplot,
so it works headless and from any thread."""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

from ganforge.artifacts.outputs import refuse_to_replace
from ganforge.errors import GanforgeError
from ganforge.files import make_directory
from ganforge.training.rundir import RunDir

MISSING_MATPLOTLIB = "plots need matplotlib, which is not installed: pip install 'ganforge[plot]' (or pip install matplotlib)"
#: series shorter than this are drawn with a dot at each value
FEW_POINTS = 10
#: record keys that are positions, not values
POSITION_KEYS = ("step", "epoch")


def matplotlib_available() -> bool:
    """True when matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def series(records: list[dict[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """Every numeric value of the records as ``name -> [(step, value), ...]``; nulls (values that
    were not finite) are left out."""
    out: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for record in records:
        step = record.get("step")
        if not isinstance(step, int):
            continue
        for key, value in record.items():
            if key in POSITION_KEYS or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if math.isfinite(value):
                out[key].append((step, float(value)))
    return dict(out)


class NothingToPlot(GanforgeError):
    """The run directory has no metrics.jsonl, or one with no values yet."""


def write_plots(run_dir: RunDir | Path | str, out_dir: Path | str | None = None, overwrite: bool = True) -> list[Path]:
    """Draw ``losses.png`` and one ``metric_<name>.png`` per metric into ``out_dir``
    (default ``<run>/plots``); returns the files written. With ``overwrite`` false, a figure
    that already exists is refused before anything is drawn."""
    run_dir = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise GanforgeError(MISSING_MATPLOTLIB) from None
    if not run_dir.metrics_path.exists():
        raise NothingToPlot(f"{run_dir.root} has no metrics.jsonl: is it a run directory (ganforge run ... --out DIR)?")
    data = series(run_dir.read_log())
    if not data:
        raise NothingToPlot(f"{run_dir.metrics_path} holds no values yet; plot again once the run has logged (train.log_every steps)")
    out = Path(out_dir) if out_dir is not None else run_dir.root / "plots"
    losses = {k: v for k, v in data.items() if k.startswith("loss/")}
    figures: list[tuple[Path, Callable[[Path], Path]]] = []
    if losses:
        figures.append((out / "losses.png", functools.partial(_losses_figure, Figure, losses)))
    for name, points in data.items():
        if not name.startswith("loss/"):
            figures.append((out / f"metric_{_file_safe(name)}.png", functools.partial(_metric_figure, Figure, name, points)))
    refuse_to_replace((path for path, _ in figures), overwrite)
    make_directory(out)
    return [draw(path) for path, draw in figures]


def _losses_figure(figure_class: Any, losses: dict[str, list[tuple[int, float]]], path: Path) -> Path:
    # a run without a discriminator (a VAE) logs only generator losses: one panel, not an empty one beside it
    sides = [(side, title) for side, title in (("d", "discriminator"), ("g", "generator")) if any(k.split("/")[1] == side for k in losses)]
    figure = figure_class(figsize=(5 * len(sides), 4), layout="constrained")
    for column, (side, title) in enumerate(sides):
        axes = figure.add_subplot(1, len(sides), column + 1)
        total = f"loss/{side}"
        for name, points in sorted(losses.items()):
            if name == total or name.startswith(total + "/"):
                label = "total" if name == total else name[len(total) + 1 :]
                style: dict[str, Any] = {"linewidth": 2.0} if name == total else {"linewidth": 1.0, "linestyle": "--"}
                if len(points) < FEW_POINTS:  # a line through one point draws nothing; dots show a short run's values
                    style.update(marker="o", markersize=3)
                axes.plot(*zip(*points), label=label, **style)
        axes.set_title(f"{title} loss")
        axes.set_xlabel("step")
        axes.grid(alpha=0.3)
        if axes.lines:
            axes.legend(fontsize="small")
    figure.savefig(path, dpi=100)
    return path


def _metric_figure(figure_class: Any, name: str, points: list[tuple[int, float]], path: Path) -> Path:
    figure = figure_class(figsize=(6, 4), layout="constrained")
    axes = figure.add_subplot(1, 1, 1)
    axes.plot(*zip(*points), marker="o", markersize=3)
    axes.set_title(name)
    axes.set_xlabel("step")
    axes.grid(alpha=0.3)
    figure.savefig(path, dpi=100)
    return path


def _file_safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
