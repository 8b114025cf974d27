"""What may change when a run is resumed: only what the user wrote is compared, and each
setting says itself whether it may change (``training.config.resumable``)."""

from __future__ import annotations

from typing import Any

from ganforge.errors import GanforgeError
from ganforge.registry import Registry
from ganforge.spec.resolve import COMPONENT_SECTIONS
from ganforge.training.config import DistributedConfig, LoggingConfig, TrainConfig, resumable_fields

#: top-level spec sections that may change on resume (how long, where, what is measured and logged).
RESUMABLE_SECTIONS = {"name", "device", "metrics", "logging"}
#: sections of plain settings whose fields say themselves whether they may change.
SETTINGS = {"train": TrainConfig, "logging": LoggingConfig, "distributed": DistributedConfig}


def may_change(key: str) -> bool:
    """Whether the dotted spec key ``key`` may differ between a run and its resumption."""
    section, _, field = key.partition(".")
    if section in RESUMABLE_SECTIONS:
        return True
    config = SETTINGS.get(section)
    return config is not None and field.split(".")[0] in resumable_fields(config)


def changed_keys(old: Any, new: Any) -> list[str]:
    """Dotted keys where the user's spec ``new`` differs from ``old`` in what may not change."""
    return sorted(key for key in _differences(old, new) if not may_change(key))


def check_resumable(
    saved: dict[str, Any], written: dict[str, Any], resolved: dict[str, Any], run_dir: Any, registry: Registry | None = None
) -> None:
    """Refuse to resume checkpoint ``saved`` with a spec that changed what may not change.
    Checkpoints from before ``spec_written`` existed compare their resolved specs. With a
    ``registry``, a component named by a former name (an alias) is the same component."""
    old = saved.get("spec_written")
    before, after = (old, written) if old is not None else (saved.get("spec", {}), resolved)
    if registry is not None:
        before, after = canonical_names(before, registry), canonical_names(after, registry)
    changed = changed_keys(before, after)
    if changed:
        raise GanforgeError(
            f"--resume: the spec differs from the run's in {', '.join(changed)}; "
            f"resume with the run's own spec: ganforge run {run_dir.spec_path} --out {run_dir.root} --resume"
        )


def canonical_names(spec: Any, registry: Registry) -> Any:
    """``spec`` with each section's component name replaced by the name it stands for."""
    if not isinstance(spec, dict):
        return spec
    out = dict(spec)
    for section, (kind, _) in COMPONENT_SECTIONS.items():
        value = out.get(section)
        entries = value if isinstance(value, list) else [value]
        renamed = [_canonical(entry, kind, registry) for entry in entries]
        out[section] = renamed if isinstance(value, list) else renamed[0]
    return out


def _canonical(entry: Any, kind: str, registry: Registry) -> Any:
    name = entry.get("name") if isinstance(entry, dict) else entry if isinstance(entry, str) else None
    if name is None or not registry.has(kind, str(name)):
        return entry
    try:
        canonical = registry.canonical(kind, str(name))
    except GanforgeError:  # a contested name: leave it, the spec resolver reports it
        return entry
    return {**entry, "name": canonical} if isinstance(entry, dict) else canonical


def _differences(old: Any, new: Any, prefix: str = "") -> set[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: set[str] = set()
        for key in set(old) | set(new):
            out |= _differences(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    if isinstance(old, (list, tuple)) and isinstance(new, (list, tuple)) and len(old) == len(new):
        out = set()
        for i, (a, b) in enumerate(zip(old, new)):
            out |= _differences(a, b, f"{prefix}{i}.")
        return out
    if old != new:
        return {prefix.rstrip(".")}
    return set()
