"""Optimizers and learning-rate schedules from a spec's ``optimizers:`` section."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LinearLR, LRScheduler, SequentialLR


def build_optimizer(settings: dict[str, Any], module: nn.Module, cls: type[torch.optim.Optimizer] | None = None) -> torch.optim.Optimizer:
    """``{name: Adam, lr: ..., schedule: ..., warmup: ...}`` -> the optimizer (schedule keys aside);
    ``cls`` replaces the named class (see :func:`probe_optimizer`)."""
    params = {k: v for k, v in settings.items() if k not in ("name", "schedule", "warmup")}
    return (cls or getattr(torch.optim, settings["name"]))(module.parameters(), **params)


def probe_optimizer(settings: dict[str, Any]) -> torch.optim.Optimizer:
    """The optimizer of ``settings`` on one weight, built only to run its value checks (a
    negative ``lr``, ``betas`` outside [0, 1) raise ValueError) and to carry a schedule's.

    torch imports ``torch._dynamo`` (about 2 s, most of ``ganforge validate``) on an
    optimizer's first ``add_param_group``, which it wraps to keep the compiler out; the probe
    calls the unwrapped method, as nothing here is compiled.
    """
    cls = getattr(torch.optim, settings["name"])
    probe = type(f"Probe{cls.__name__}", (cls, _WithoutCompiler), {})
    return build_optimizer(settings, nn.Linear(1, 1, bias=False), probe)


class _WithoutCompiler(torch.optim.Optimizer):
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        unwrapped = getattr(torch.optim.Optimizer.add_param_group, "__wrapped__", torch.optim.Optimizer.add_param_group)
        unwrapped(self, param_group)


def lazy_adjusted(settings: dict[str, Any], interval: int) -> dict[str, Any]:
    """The optimizer settings of a network whose lazy terms run as updates of their own every
    ``interval``-th update (``train.lazy_regularization: separate``), adjusted as the StyleGAN2
    reference adjusts them for those extra updates: with ``mb_ratio = interval / (interval + 1)``,
    ``lr * mb_ratio`` and, for optimizers with ``betas`` (Adam and its kin), ``beta ** mb_ratio``."""
    ratio = interval / (interval + 1)
    adjusted = dict(settings)
    if "lr" in adjusted:
        adjusted["lr"] = adjusted["lr"] * ratio
    if "betas" in adjusted:
        adjusted["betas"] = [beta**ratio for beta in adjusted["betas"]]
    return adjusted


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
