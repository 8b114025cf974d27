"""Observers: optional listeners the trainer tells about what it writes (TensorBoard, plots, ...)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from torch import Tensor


class RunObserver(Protocol):
    """Receives what the trainer records. Every method is optional to implement via :class:`BaseObserver`."""

    def on_record(self, record: dict[str, Any]) -> None:
        """A line just written to metrics.jsonl (losses or metric values, with ``step`` and ``epoch``)."""

    def on_samples(self, step: int, samples: Tensor, path: Path) -> None:
        """A sample picture just written to ``path``; ``samples`` are in [-1, 1] on the CPU."""

    def on_finish(self, status: str) -> None:
        """The run ended with ``status`` (finished, interrupted, diverged or failed)."""


class BaseObserver:
    """An observer that ignores everything; subclass and override what you need."""

    def on_record(self, record: dict[str, Any]) -> None:
        pass

    def on_samples(self, step: int, samples: Tensor, path: Path) -> None:
        pass

    def on_finish(self, status: str) -> None:
        pass
