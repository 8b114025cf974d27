"""What a sweep trains: the settings of its grid (every combination of the ``--grid`` values) times
its seeds, each member a ``--set`` list, all validated before any member starts."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ganforge.errors import GanforgeError, SpecError
from ganforge.registry import Registry
from ganforge.spec import apply_overrides, load_spec
from ganforge.spec.loader import SpecLoader
from ganforge.spec.resolve import resolve

#: the section of a spec file that describes its sweep (``ganforge run`` ignores it).
SECTION = "sweep"
_UNSAFE = re.compile(r"[^A-Za-z0-9._=+,-]+")


@dataclass(frozen=True)
class Member:
    """One run of the sweep: a setting (grid key -> value) and a seed (``None``: the spec's own)."""

    setting: tuple[tuple[str, Any], ...]
    seed: int | None

    @property
    def overrides(self) -> list[str]:
        """The ``--set`` arguments that make this member from the spec."""
        sets = [f"{key}={as_yaml(value)}" for key, value in self.setting]
        return sets + ([f"seed={self.seed}"] if self.seed is not None else [])

    @property
    def setting_label(self) -> str:
        """``loss.name=hinge penalties.0.gamma=10`` (``(the spec)`` for an empty grid)."""
        return " ".join(f"{key}={as_yaml(value)}" for key, value in self.setting) or "(the spec)"

    @property
    def folder(self) -> str:
        """The member's run directory, relative to the sweep folder: ``runs/<setting>/seed-<seed>``."""
        setting = _UNSAFE.sub("_", ",".join(f"{key}={as_yaml(value)}" for key, value in self.setting))[:120] or "spec"
        return f"runs/{setting}/seed-{'spec' if self.seed is None else self.seed}"


@dataclass
class SweepPlan:
    """A spec, the ``--set`` lines common to every member, the grid and the seeds."""

    spec: Path
    overrides: list[str] = field(default_factory=list)
    grid: list[tuple[str, list[Any]]] = field(default_factory=list)
    seeds: list[int] | None = None

    @property
    def settings(self) -> list[tuple[tuple[str, Any], ...]]:
        keys = [key for key, _ in self.grid]
        return [tuple(zip(keys, values)) for values in itertools.product(*(values for _, values in self.grid))]

    @property
    def members(self) -> list[Member]:
        """Every setting with every seed, settings in grid order, seeds within them."""
        seeds: list[int | None] = list(self.seeds) if self.seeds is not None else [None]
        return [Member(setting, seed) for setting in self.settings for seed in seeds]

    def describe(self) -> dict[str, Any]:
        """What makes this sweep this sweep (kept in the manifest; a rerun must match it)."""
        return {"spec": str(self.spec.resolve()), "overrides": list(self.overrides), "grid": [[k, v] for k, v in self.grid], "seeds": self.seeds}


def as_yaml(value: Any) -> str:
    """``value`` as a one-line YAML value, as ``--set`` reads it back."""
    text: str = yaml.safe_dump(value, default_flow_style=True, width=10**6, sort_keys=False).strip()
    return text.removesuffix("...").strip()


def parse_grid(option: str) -> tuple[str, list[Any]]:
    """``'loss.name=[lsgan, hinge]'`` -> ``("loss.name", ["lsgan", "hinge"])``."""
    key, sep, raw = option.partition("=")
    where = f"--grid {option}"
    if not sep or not key.strip():
        raise SpecError("expected KEY=[value, value, ...], e.g. --grid 'loss.name=[lsgan, hinge]'", path=where)
    try:
        values = yaml.load(raw, Loader=SpecLoader)
    except yaml.YAMLError as exc:
        raise SpecError(f"values are not valid YAML: {' '.join(str(exc).split())}", path=where) from None
    return _checked(key.strip(), values, where)


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` -> ``[0, 1, 2]``."""
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise GanforgeError(f"--seeds: expected whole numbers separated by commas (e.g. 0,1,2), got {text!r}") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise GanforgeError(f"--seeds: expected distinct whole numbers >= 0 separated by commas (e.g. 0,1,2), got {text!r}")
    return seeds


def make_plan(spec_path: str | Path, overrides: tuple[str, ...], grid: tuple[str, ...], seeds: str | None) -> SweepPlan:
    """The plan from the command line, with the spec file's ``sweep:`` section (``grid:`` a
    mapping of key -> values, ``seeds:`` a list) where the command line does not say."""
    spec = load_spec(spec_path)
    section = spec.data.get(SECTION)
    plan = SweepPlan(Path(spec_path), list(overrides), [parse_grid(g) for g in grid], parse_seeds(seeds) if seeds else None)
    if section is None:
        return plan
    if not isinstance(section, dict) or set(section) - {"grid", "seeds"}:
        raise spec.error("sweep must be a mapping with grid: {key: [values]} and seeds: [0, 1, 2]", (SECTION,))
    if not plan.grid:
        entries = section.get("grid") or {}
        if not isinstance(entries, dict):
            raise spec.error("grid must map spec keys to lists of values, e.g. {loss.name: [lsgan, hinge]}", (SECTION, "grid"))
        plan.grid = [_checked(str(key), values, f"{spec.path}: sweep.grid.{key}") for key, values in entries.items()]
    if plan.seeds is None and section.get("seeds") is not None:
        listed = section["seeds"]
        if not isinstance(listed, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in listed) or len(set(listed)) != len(listed):
            raise spec.error("seeds must be a list of distinct whole numbers >= 0, e.g. [0, 1, 2]", (SECTION, "seeds"))
        plan.seeds = list(listed)
    return plan


def validate(plan: SweepPlan, registry: Registry) -> None:
    """Resolve every member's spec, as ``ganforge run`` will: a typo in a grid key or a value a
    component refuses is the spec's usual error, before anything starts."""
    spec = load_spec(plan.spec)
    if not plan.members:
        raise GanforgeError("the sweep has no members: every --grid needs at least one value")
    for member in plan.members:
        resolve(apply_overrides(spec, [*plan.overrides, *member.overrides]), registry)


def _checked(key: str, values: Any, where: str) -> tuple[str, list[Any]]:
    if not isinstance(values, list) or not values:
        raise SpecError(f"expected a non-empty list of values for {key}, e.g. {key}=[a, b]", path=where)
    if len({as_yaml(v) for v in values}) != len(values):
        raise SpecError(f"{key} lists a value twice", path=where)
    return key, values
