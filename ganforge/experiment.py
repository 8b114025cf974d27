"""From a spec to live components: validate, resolve defaults, then build each component."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ganforge.interfaces import Dataset, Discriminator, Generator, Loss, Metric
from ganforge.registry import ComponentInfo, Registry
from ganforge.seeding import seed_everything
from ganforge.spec.loader import Key, Spec
from ganforge.spec.resolve import RESERVED, resolve
from ganforge.spec.signature import INJECTED, signature_of
from ganforge.spec.types import nested_kind
from ganforge.training.config import DistributedConfig, TrainConfig


@dataclass
class ScheduledMetric:
    """A metric with its schedule: every ``steps`` steps or every ``epochs`` epochs."""

    name: str
    metric: Metric
    steps: int | None = None
    epochs: int | None = None


@dataclass
class Experiment:
    """Everything a spec describes, built; networks are still on the CPU."""

    name: str
    resolved: dict[str, Any]
    seed: int
    device: torch.device
    dataset: Dataset
    generator: Generator
    discriminator: Discriminator
    loss: Loss
    penalties: list[Loss]
    metrics: list[ScheduledMetric]
    train: TrainConfig
    batch_size: int
    #: role ("generator", "loss", "penalties.0", "metrics.1", ...) -> registry entry (name and plugin)
    components: dict[str, ComponentInfo] = field(default_factory=dict)
    distributed: DistributedConfig = field(default_factory=DistributedConfig)

    @property
    def terms(self) -> list[Loss]:
        """Every objective: the loss, the penalties, and what the networks bring."""
        return [self.loss, *self.penalties, *self.generator.loss_terms(), *self.discriminator.loss_terms()]

    def make_optimizer(self, role: str, module: torch.nn.Module) -> torch.optim.Optimizer:
        settings = dict(self.resolved["optimizers"][role])
        cls = getattr(torch.optim, settings.pop("name"))
        return cls(module.parameters(), **settings)


def build_experiment(spec: Spec, registry: Registry) -> Experiment:
    """Validate ``spec`` (all problems at once), seed the global generators, and build it."""
    resolved = resolve(spec, registry)
    seed_everything(resolved["seed"])
    builder = _Builder(spec, registry)
    dataset = builder.build("dataset", resolved["data"], ("data",))
    builder.injected["image_shape"] = tuple(dataset.image_shape)
    generator = builder.build("generator", resolved["generator"], ("generator",))
    discriminator = builder.build("discriminator", resolved["discriminator"], ("discriminator",))
    for role in ("generator", "discriminator"):
        if "image_shape" in signature_of(builder.components[role].factory).names:
            resolved[role].setdefault("image_shape", list(dataset.image_shape))
    loss = builder.build("loss", resolved["loss"], ("loss",))
    penalties = [builder.build("loss", p, ("penalties", i), f"penalties.{i}") for i, p in enumerate(resolved["penalties"])]
    metrics = [
        _schedule(m, builder.build("metric", m, ("metrics", i), f"metrics.{i}")) for i, m in enumerate(resolved["metrics"])
    ]
    return Experiment(
        name=resolved["name"],
        resolved=resolved,
        seed=resolved["seed"],
        device=pick_device(resolved["device"], spec),
        dataset=dataset,
        generator=generator,
        discriminator=discriminator,
        loss=loss,
        penalties=penalties,
        metrics=metrics,
        train=TrainConfig(**resolved["train"]),
        batch_size=resolved["data"]["batch_size"],
        components=builder.components,
        distributed=DistributedConfig(**resolved["distributed"]),
    )


class _Builder:
    def __init__(self, spec: Spec, registry: Registry) -> None:
        self.spec = spec
        self.registry = registry
        self.injected: dict[str, Any] = {}
        self.components: dict[str, ComponentInfo] = {}

    def build(self, kind: str, entry: dict[str, Any], key: Key, role: str | None = None) -> Any:
        from ganforge.spec.build import construct  # the one way components are built (ganforge.spec.build)

        record = self.components.__setitem__
        return construct(self.registry, kind, entry, spec=self.spec, key=key, injected=self.injected, role=role or str(key[0]), record=record)


def _schedule(entry: dict[str, Any], metric: Metric) -> ScheduledMetric:
    every = entry["every"]
    if isinstance(every, int):
        return ScheduledMetric(entry["name"], metric, steps=every)
    digits = "".join(ch for ch in every if ch.isdigit())
    return ScheduledMetric(entry["name"], metric, epochs=int(digits) if digits else 1)


def pick_device(name: str, spec: Spec | None = None) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; an explicit CUDA device must exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise _device_error(f"device '{name}' requested but CUDA is not available; use device: auto or cpu", spec)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise _device_error(f"device '{name}' does not exist ({torch.cuda.device_count()} CUDA devices)", spec)
    return device


def _device_error(message: str, spec: Spec | None) -> Exception:
    from ganforge.errors import GanforgeError

    return spec.error(message, ("device",)) if spec else GanforgeError(message)
