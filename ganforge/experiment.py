"""From a spec to live components: validate, resolve defaults, then build each component."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import torch

from ganforge.checkpoint import warm_start
from ganforge.errors import GanforgeError, attributed, describe_component
from ganforge.interfaces import Augment, Dataset, Discriminator, Generator, Logger, Metric
from ganforge.registry import ComponentInfo, Registry
from ganforge.seeding import seed_everything
from ganforge.spec.build import construct
from ganforge.spec.loader import Key, Spec
from ganforge.spec.resolve import resolve
from ganforge.spec.settings import DistributedConfig, TrainConfig
from ganforge.spec.signature import signature_of
from ganforge.terms import Term


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
    discriminator: Discriminator | None
    #: every objective, scheduled: the loss, the penalties, and what the networks bring
    terms: list[Term]
    metrics: list[ScheduledMetric]
    train: TrainConfig
    batch_size: int
    #: role -> its optimizer's settings (``{name, lr, ..., warmup, schedule}``), validated
    optimizers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: DataLoader processes reading a streamed split (``data.workers``)
    workers: int = 0
    #: hold the training split in memory: True, False, or None for "when it is small" (``data.in_memory``)
    in_memory: bool | None = None
    #: x-flip half the real samples of each epoch (``data.mirror``)
    mirror: bool = False
    #: role ("generator", "loss", "penalties.0", "metrics.1", ...) -> registry entry (name and plugin)
    components: dict[str, ComponentInfo] = field(default_factory=dict)
    distributed: DistributedConfig = field(default_factory=DistributedConfig)
    augment: Augment | None = None
    #: the spec as the user wrote it (with --set), which resume compares
    written: dict[str, Any] = field(default_factory=dict)
    #: where the components came from (resume tells renamed components by their aliases)
    registry: Registry | None = None
    #: role ("logging.0", ...) -> the logger built from ``logging.loggers`` (jsonl first)
    loggers: dict[str, Logger] = field(default_factory=dict)

    def owner(self, role: str) -> str:
        """How errors name the component in ``role``: ``generator 'dcgan' (plugin ...)``."""
        info = self.components[role]
        return describe_component(info.kind, info.name, info.plugin)


def build_experiment(spec: Spec, registry: Registry) -> Experiment:
    """Validate ``spec`` (all problems at once, by :func:`~ganforge.spec.resolve.resolve`: nothing
    is checked here that could have been found before building), seed the global generators,
    and build it."""
    resolved = resolve(spec, registry)
    seed_everything(resolved["seed"])
    builder = _Builder(spec, registry)
    dataset = builder.build("dataset", resolved["data"], ("data",))
    builder.injected["image_shape"] = tuple(dataset.image_shape)
    generator = builder.build("generator", resolved["generator"], ("generator",))
    discriminator = None
    if resolved["discriminator"] is not None:
        discriminator = builder.build("discriminator", resolved["discriminator"], ("discriminator",))
    for role, network in (("generator", generator), ("discriminator", discriminator)):
        if network is None:
            continue
        if "image_shape" in signature_of(builder.components[role].factory).names:
            resolved[role].setdefault("image_shape", list(dataset.image_shape))
        if resolved[role].get("init_from"):
            warm_start(network, resolved[role]["init_from"], role, spec)
    augment = builder.build("augment", resolved["augment"], ("augment",)) if resolved["augment"] else None
    terms = [_term(builder.build("loss", resolved["loss"], ("loss",)), resolved["loss"], "loss", builder)]
    for i, entry in enumerate(resolved["penalties"]):
        terms.append(_term(builder.build("loss", entry, ("penalties", i), f"penalties.{i}"), entry, f"penalties.{i}", builder))
    for role, network in (("generator", generator), ("discriminator", discriminator)):
        info = builder.components.get(role)
        for term in network.loss_terms() if network is not None else ():
            name = getattr(term, "name", type(term).__name__)
            terms.append(Term(term, name, describe_component(info.kind, info.name, info.plugin) if info else role))
    metrics = [
        _schedule(m, builder.build("metric", m, ("metrics", i), f"metrics.{i}")) for i, m in enumerate(resolved["metrics"])
    ]
    loggers = {f"logging.{i}": builder.build("logger", entry, ("logging",), f"logging.{i}") for i, entry in enumerate(resolved["logging"]["loggers"])}
    return Experiment(
        name=resolved["name"],
        resolved=resolved,
        seed=resolved["seed"],
        device=pick_device(resolved["device"], spec),
        dataset=dataset,
        generator=generator,
        discriminator=discriminator,
        terms=terms,
        metrics=metrics,
        train=TrainConfig(**resolved["train"]),
        batch_size=resolved["data"]["batch_size"],
        optimizers=resolved["optimizers"],
        workers=resolved["data"]["workers"],
        in_memory=resolved["data"]["in_memory"],
        mirror=resolved["data"]["mirror"],
        components=builder.components,
        distributed=DistributedConfig(**resolved["distributed"]),
        augment=augment,
        written=copy.deepcopy(spec.data),
        registry=registry,
        loggers=loggers,
    )


def check_data_size(experiment: Experiment, spec: Spec) -> int:
    """The size of the training split, from its index (a streamed split decodes nothing); a
    ``data.batch_size`` larger than it is an error at that line of ``spec``."""
    owner = experiment.owner("data")
    with attributed(owner, "load"):
        size = len(experiment.dataset.load("train"))
    if size < experiment.batch_size:
        raise spec.error(f"{experiment.batch_size} is more than the {size:,} samples of {owner}; use a data.batch_size of at most {size}", ("data", "batch_size"))
    return size


def _term(loss: Any, entry: dict[str, Any], role: str, builder: _Builder) -> Term:
    info = builder.components[role]
    owner = describe_component(info.kind, info.name, info.plugin)
    return Term(loss, entry["name"], owner, entry["every"], entry["start"], entry["stop"])


class _Builder:
    def __init__(self, spec: Spec, registry: Registry) -> None:
        self.spec = spec
        self.registry = registry
        self.injected: dict[str, Any] = {}
        self.components: dict[str, ComponentInfo] = {}

    def build(self, kind: str, entry: dict[str, Any], key: Key, role: str | None = None) -> Any:
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
    return spec.error(message, ("device",)) if spec else GanforgeError(message)
