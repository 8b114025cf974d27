"""Everything training changes — networks, EMA, augmentation state, optimizers, schedules,
gradient scalers — built from an experiment, saved into and restored from a checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

from ganforge.experiment import Experiment
from ganforge.interfaces import Augment, Generator
from ganforge.spec.optimizers import build_optimizer, build_schedule, lazy_adjusted
from ganforge.terms import Term, lazy_intervals
from ganforge.training.ema import EMA
from ganforge.training.precision import Precision, use_channels_last


@dataclass
class Trainables:
    """The state of a run that a checkpoint holds (with the loop's position and RNG)."""

    generator: Generator
    discriminator: nn.Module | None
    augment: Augment | None
    ema: EMA | None
    optimizers: dict[str, torch.optim.Optimizer]
    schedules: dict[str, LRScheduler]
    precision: Precision
    terms: list[Term]

    @classmethod
    def build(cls, exp: Experiment, device: torch.device) -> Trainables:
        """Move the experiment's networks to ``device`` and make their optimizers and schedules."""
        cfg = exp.train
        generator = exp.generator.to(device)
        discriminator = exp.discriminator.to(device) if exp.discriminator is not None else None
        networks = {"generator": generator, "discriminator": discriminator}
        for network in networks.values():
            if network is not None:
                use_channels_last(network, cfg.channels_last, device)
        # lazy terms in updates of their own: their network's optimizer adjusted for the extra updates
        intervals = lazy_intervals(exp.terms) if cfg.lazy_regularization == "separate" else {}
        optimizers = {
            role: build_optimizer(lazy_adjusted(exp.optimizers[role], intervals[role]) if role in intervals else exp.optimizers[role], network)
            for role, network in networks.items() if network is not None
        }  # fmt: skip
        schedules = {
            role: schedule for role, opt in optimizers.items()
            if (schedule := build_schedule(exp.optimizers[role], opt)) is not None
        }  # fmt: skip
        return cls(
            generator=generator,
            discriminator=discriminator,
            augment=exp.augment.to(device) if exp.augment is not None else None,
            ema=EMA(generator, cfg.ema) if cfg.ema is not None else None,
            optimizers=optimizers,
            schedules=schedules,
            precision=Precision(cfg.precision, device),
            terms=exp.terms,
        )

    def set_step(self, step: int) -> None:
        """Tell every network (the EMA copy too) the training step."""
        for network in (self.generator, self.discriminator, self.ema.shadow if self.ema else None):
            if network is not None:
                network.set_step(step)  # type: ignore[operator]

    def sampling_generator(self) -> nn.Module:
        """The generator samples and metrics use: the EMA copy when the run keeps one."""
        return self.ema.shadow if self.ema is not None else self.generator

    def modules(self) -> list[nn.Module]:
        """The modules whose buffers several processes keep in sync."""
        return [m for m in (self.generator, self.discriminator, self.ema.shadow if self.ema else None) if m is not None]

    def log_values(self) -> dict[str, float]:
        """What metrics.jsonl records beside the losses: scheduled learning rates, augment state."""
        values = {f"lr/{role}": self.optimizers[role].param_groups[0]["lr"] for role in self.schedules}
        return {**values, **(self.augment.log_values() if self.augment is not None else {})}

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict() if self.discriminator is not None else None,
            "ema": self.ema.shadow.state_dict() if self.ema is not None else None,
            "augment": self.augment.state_dict() if self.augment is not None else None,
            "optimizers": {role: opt.state_dict() for role, opt in self.optimizers.items()},
            "schedules": {role: schedule.state_dict() for role, schedule in self.schedules.items()},
            "scalers": self.precision.state_dict(),
            "terms": [term.loss.state_dict() for term in self.terms],
        }

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        self.generator.load_state_dict(saved["generator"])
        if self.discriminator is not None:
            self.discriminator.load_state_dict(saved["discriminator"])
        if self.ema is not None and saved.get("ema") is not None:
            self.ema.shadow.load_state_dict(saved["ema"])
            self.ema.updates = saved["step"]  # one EMA update per step
        if self.augment is not None and saved.get("augment") is not None:
            self.augment.load_state_dict(saved["augment"])
        for role, optimizer in self.optimizers.items():
            optimizer.load_state_dict(saved["optimizers"][role])
        for role, schedule in self.schedules.items():
            schedule.load_state_dict(saved["schedules"][role])
        self.precision.load_state_dict(saved.get("scalers") or {})
        for term, state in zip(self.terms, saved.get("terms") or [{}] * len(self.terms)):
            term.loss.load_state_dict(state)
