"""The logger interface: where a run's numbers and pictures go besides the run directory's own files.

A spec lists its loggers under ``logging:`` (``logging: [{name: wandb, project: gans}]``); the
trainer tells each of them, on the main process only, in this order:

1. :meth:`Logger.start` once, before the first step, with a :class:`RunStart`: the run directory,
   the resolved spec, the provenance of the run, and ``resumed_at`` (the step of the checkpoint a
   resumed run continues from, ``None`` for a new run);
2. :meth:`Logger.log_scalars` at each log step (losses, learning rates, augmentation
   strength: every ``train.log_every`` steps) and after each metric evaluation (metric values),
   steps increasing;
3. :meth:`Logger.log_image` for each sample picture the run writes;
4. :meth:`Logger.finish` once with how the run ended: ``finished``, ``interrupted``,
   ``diverged`` or ``failed``.

A resumed run repeats the steps between its checkpoint and the moment the previous process
died. A logger keeps the same external run (a W&B run id, an MLflow run id: store it under
``RunStart.run_dir``) and must not record a step twice; ``resumed_at`` says from where the
trainer starts again.

A logger that raises is reported once and the run goes on without stopping (a network that is
down must not cost a week of training), except: a :class:`~ganforge.errors.GanforgeError` from
:meth:`start` (a missing package, a bad setting) stops the run before its first step, and a
logger marked :attr:`Logger.essential` stops the run on any failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np


@dataclass(frozen=True)
class RunStart:
    """What a logger learns when the run starts.

    Attributes:
        run_dir: the run directory (a logger keeps its own state, e.g. an external run id, here).
        name: the experiment's name (the spec's ``name:``).
        spec: the resolved spec, every default filled in (as ``spec.yaml`` holds it).
        provenance: where the run comes from: ganforge, torch and Python versions, the plugins
            and their versions, the device, the seed.
        total_steps: the steps the run trains in all.
        resumed_at: the step of the checkpoint a resumed run continues from; ``None`` for a new run.
    """

    run_dir: Path
    name: str
    spec: dict[str, Any]
    provenance: dict[str, Any] = field(default_factory=dict)
    total_steps: int = 0
    resumed_at: int | None = None

    @property
    def resuming(self) -> bool:
        """Whether this start continues an earlier run from its checkpoint."""
        return self.resumed_at is not None


class Logger:
    """Receives what a run records: override what you need; every method defaults to nothing.

    The constructor takes the spec entry's parameters (``project``, ``tracking_uri``, ...) and
    must be cheap: import heavy packages and open connections in :meth:`start`.
    """

    #: a logger whose record the run itself needs (``jsonl``: resume, best.pt and ``ganforge eval``
    #: read metrics.jsonl); its failures stop the run instead of being reported once.
    essential: ClassVar[bool] = False

    def start(self, run: RunStart) -> None:
        """The run starts (or, with ``run.resumed_at`` set, continues from that step)."""

    def log_scalars(self, step: int, values: dict[str, float]) -> None:
        """Values recorded at ``step``: losses (``loss/d``), learning rates (``lr/generator``),
        augmentation strength (``augment/p``), metric values (``fid``), and ``epoch``."""

    def log_image(self, step: int, name: str, image: np.ndarray, path: Path) -> None:
        """A picture the run wrote at ``step``: ``image`` is its RGB pixels (height x width x 3,
        uint8), ``path`` the PNG file in the run directory; ``name`` is ``samples``."""

    def finish(self, status: str) -> None:
        """The run ended with ``status``: ``finished``, ``interrupted``, ``diverged`` or ``failed``."""
