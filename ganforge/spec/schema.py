"""The one table of a spec's sections.

Each row says what a top-level section holds (a plain value, a component, a list of components,
the optimizers, or a settings class), the keys ganforge reads from a component entry besides its
constructor's parameters, and whether the section may change when a run is resumed. Validation
(:mod:`ganforge.spec.resolve`), building, resuming and the documentation read this table; adding a
section is one row here (the table is read at each call, so a test may extend it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Mapping

from ganforge.spec.settings import DistributedConfig, LoggingConfig, TrainConfig, resumable_fields
from ganforge.types import NonNegativeInt, PositiveInt, Range

#: seeds torch, NumPy and Python all accept.
SEED = Annotated[int, Range(min=0, max=2**63 - 1)]
#: when a loss term runs: every N-th update of its network (weight x N), from step start to stop.
TERM_SCHEDULE: dict[str, tuple[Any, Any]] = {"every": (1, PositiveInt), "start": (0, NonNegativeInt), "stop": (None, NonNegativeInt | None)}
#: a network's weights from another run directory or checkpoint file.
WARM_START: dict[str, tuple[Any, Any]] = {"init_from": (None, str | None)}

#: how the trainer reads the data: the batch, the DataLoader processes, holding it in memory
#: (null: when it is small) and x-flips in the workers.
DATA_READING: dict[str, tuple[Any, Any]] = {
    "batch_size": (64, PositiveInt),
    "workers": (2, NonNegativeInt),
    "in_memory": (None, bool | None),
    "mirror": (False, bool),
}

Holds = Literal["value", "component", "optimizers", "settings", "loggers", "ignored"]
Count = Literal["one", "nullable", "optional", "list"]


@dataclass(frozen=True)
class Section:
    """One top-level section of a spec.

    Attributes:
        name: the key in the YAML file.
        holds: ``value`` (a scalar checked against ``hint``), ``component`` (``{name: ..., params}``
            of component kind ``kind``), ``optimizers`` (one torch optimizer per network),
            ``settings`` (the fields of the dataclass ``settings``), ``loggers`` (a list of loggers,
            or ``settings`` with a ``loggers:`` list) or ``ignored`` (read by another command:
            ``sweep:``, left out of the resolved spec).
        kind: the component kind of a ``component`` section.
        count: for a component: ``one`` (required), ``nullable`` (required, null for none),
            ``optional`` (may be left out or null) or ``list``.
        reserved: keys of a component entry that ganforge reads rather than the constructor,
            as key -> (default, type hint).
        hint: the type hint of a ``value`` section.
        default: the default of a ``value`` section.
        settings: the settings dataclass of a ``settings`` section; its fields' metadata say which
            of them may change on resume.
        resumable: whether the whole section may differ when a run is resumed.
        resumable_keys: keys of the section that may differ when a run is resumed (how the
            data is read, ``data.workers``, not what is read).
    """

    name: str
    holds: Holds
    kind: str | None = None
    count: Count = "one"
    reserved: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    hint: Any = None
    default: Any = None
    settings: type | None = None
    resumable: bool = False
    resumable_keys: frozenset[str] = frozenset()

    def may_change(self, field_name: str) -> bool:
        """Whether ``field_name`` of this section (its first dotted part) may change on resume."""
        if self.resumable or field_name in self.resumable_keys:
            return True
        return self.settings is not None and field_name in resumable_fields(self.settings)


SCHEMA: tuple[Section, ...] = (
    Section("name", "value", hint=str | None, resumable=True),
    Section("seed", "value", hint=SEED, default=0),
    Section("device", "value", hint=str, default="auto", resumable=True),
    Section("generator", "component", kind="generator", reserved=WARM_START),
    Section("discriminator", "component", kind="discriminator", count="nullable", reserved=WARM_START),
    Section("loss", "component", kind="loss", reserved=TERM_SCHEDULE),
    Section("data", "component", kind="dataset", reserved=DATA_READING, resumable_keys=frozenset({"workers", "in_memory"})),
    Section("augment", "component", kind="augment", count="optional"),
    Section("penalties", "component", kind="loss", count="list", reserved=TERM_SCHEDULE),
    Section("metrics", "component", kind="metric", count="list", reserved={"every": (None, Any)}, resumable=True),
    Section("optimizers", "optimizers"),
    Section("train", "settings", settings=TrainConfig),
    Section("logging", "loggers", kind="logger", settings=LoggingConfig, resumable=True),
    Section("distributed", "settings", settings=DistributedConfig),
    Section("sweep", "ignored", resumable=True),  # ganforge sweep's grid and seeds
)

def section_names() -> list[str]:
    """Every section's name, in table order."""
    return [s.name for s in SCHEMA]


def find_section(name: str) -> Section | None:
    """The section called ``name``, or ``None``."""
    return next((s for s in SCHEMA if s.name == name), None)


def component_sections() -> list[Section]:
    """The sections that name components, in table order."""
    return [s for s in SCHEMA if s.holds == "component"]


def reserved_of(name: str) -> Mapping[str, tuple[Any, Any]]:
    """The keys ganforge reads from the component entries of section ``name`` ({} for none)."""
    section = find_section(name)
    return section.reserved if section else {}


def may_change(key: str) -> bool:
    """Whether the dotted spec key ``key`` may differ between a run and its resumption."""
    name, _, rest = key.partition(".")
    section = find_section(name)
    return section is not None and section.may_change(rest.split(".")[0])
