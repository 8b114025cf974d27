"""Optimizers and learning-rate schedules from a spec's ``optimizers:`` section."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LinearLR, LRScheduler, SequentialLR


def build_optimizer(settings: dict[str, Any], module: nn.Module) -> torch.optim.Optimizer:
    """``{name: Adam, lr: ..., schedule: ..., warmup: ...}`` -> the optimizer (schedule keys aside)."""
    params = {k: v for k, v in settings.items() if k not in ("name", "schedule", "warmup")}
    cls = getattr(torch.optim, settings["name"])
    return cls(module.parameters(), **params)  # type: ignore[no-any-return]


def build_schedule(settings: dict[str, Any], optimizer: torch.optim.Optimizer) -> LRScheduler | None:
    """The learning-rate schedule, stepped once per training step: ``warmup`` steps of linear
    warm-up from lr/warmup, then the ``schedule`` (any ``torch.optim.lr_scheduler`` class);
    None when the spec asks for neither."""
    warmup, schedule = settings.get("warmup") or 0, settings.get("schedule")
    main: LRScheduler | None = None
    if schedule:
        params = {k: v for k, v in schedule.items() if k != "name"}
        main = getattr(torch.optim.lr_scheduler, schedule["name"])(optimizer, **params)
    if not warmup:
        return main
    ramp = LinearLR(optimizer, start_factor=1.0 / warmup, end_factor=1.0, total_iters=warmup)
    if main is None:
        return ramp
    return SequentialLR(optimizer, [ramp, main], milestones=[warmup])
