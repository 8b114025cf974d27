"""Metrics during training: which are due, running them on a forked RNG, and best.pt."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import torch

from ganforge import distributed
from ganforge.distributed import Ranks
from ganforge.errors import GanforgeError, attributed, did_you_mean
from ganforge.experiment import Experiment, ScheduledMetric
from ganforge.interfaces import EvalContext
from ganforge.provenance import record_provenance


class MetricSchedule:
    """Runs the spec's metrics when due and keeps best.pt by the chosen value."""

    def __init__(
        self, exp: Experiment, ranks: Ranks, device: torch.device, best_metric: str | None, best_mode: str | None,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> None:  # fmt: skip
        self.exp = exp
        self.progress = progress  # told how far each metric's sampling is (see EvalContext)
        self.ranks = ranks
        self.device = device
        self.best_metric = best_metric
        self.best_mode = best_mode
        self.best: dict[str, Any] = {}
        self._default_best: str | None = None
        #: value names the metrics gave, and which of the spec's metrics (by index) have run
        self.seen: set[str] = set()
        self.evaluated: set[int] = set()

    def due(self, step: int, epoch: int | None) -> list[ScheduledMetric]:
        """Metrics due after ``step`` (``epoch`` set when an epoch just ended)."""
        return [
            m for m in self.exp.metrics
            if (epoch is not None and m.epochs and epoch % m.epochs == 0) or (epoch is None and m.steps and step % m.steps == 0)
        ]  # fmt: skip

    def run(self, due: list[ScheduledMetric], generator: Any, step: int, run_root: Path) -> tuple[dict[str, float], dict[str, bool]]:
        """Evaluate ``due`` with ``generator`` in eval mode; the values, and each one's direction.
        How each was computed goes once per metric configuration into ``run_root``/provenance.json.
        Metrics must not move the training RNG, or a run with metrics would differ from one without."""
        was_training = generator.training
        generator.eval()
        record: dict[str, float] = {}
        higher_is_better: dict[str, bool] = {}
        devices = [self.device] if self.device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=devices):
                for scheduled in due:
                    context = EvalContext(generator, self.exp.dataset, self.device, seed=self.exp.seed, ranks=self.ranks, progress=self._reporter(scheduled.name), workers=self.exp.workers)
                    index = self.exp.metrics.index(scheduled)
                    role = f"metrics.{index}"
                    with attributed(self.exp.owner(role), "evaluate"):
                        values = scheduled.metric.evaluate(context)
                    record_provenance(run_root, scheduled.name, scheduled.metric, context, values, step, self.exp.train.ema is not None)
                    higher_is_better.update(dict.fromkeys(values, scheduled.metric.higher_is_better))
                    if scheduled is self.exp.metrics[0] and values:
                        self._default_best = self._default_best or next(iter(values))
                    record.update(values)
                    self.evaluated.add(index)
        finally:
            generator.train(was_training)
        return distributed.broadcast_object(record), higher_is_better  # rank 0's values decide best.pt everywhere

    def _reporter(self, name: str) -> Callable[[str, int, int], None] | None:
        progress = self.progress
        if progress is None:
            return None
        return lambda what, done, total: progress(f"{name}: {what}", done, total)

    def track_best(self, record: dict[str, float], higher_is_better: dict[str, bool], step: int, save: Callable[[], None]) -> None:
        """Call ``save`` when ``record`` holds a new best of ``train.best_metric`` (by default
        the first value of the spec's first metric)."""
        name = self.best_metric or self.best.get("metric") or self._default_best
        self.seen.update(record)
        if name not in record:
            if self.best_metric and self.best_metric not in self.seen and self.evaluated >= set(range(len(self.exp.metrics))):
                names = sorted(self.seen)
                raise GanforgeError(
                    f"train.best_metric '{self.best_metric}' is none of the values the metrics give ({', '.join(names)})"
                    f"{did_you_mean(self.best_metric, names)}, so best.pt cannot be chosen"
                )
            return
        mode = self.best_mode or ("max" if higher_is_better.get(name, False) else "min")
        value = record[name]
        previous = self.best.get("value") if self.best.get("metric") == name and self.best.get("mode") == mode else None  # changed on resume
        better = previous is None or (value > previous if mode == "max" else value < previous)
        if better and math.isfinite(value):
            self.best = {"metric": name, "mode": mode, "value": value, "step": step}
            save()
