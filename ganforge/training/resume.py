"""What may change when a run is resumed: only what the user wrote is compared, and the
spec's schema says what may change (``ganforge.spec.schema``)."""

from __future__ import annotations

import shlex
from typing import Any

import yaml

from ganforge.errors import GanforgeError
from ganforge.registry import Registry
from ganforge.spec.schema import component_sections, may_change


def changed_keys(old: Any, new: Any) -> list[str]:
    """Dotted keys where the user's spec ``new`` differs from ``old`` in what may not change."""
    return sorted(key for key in _differences(old, new) if not may_change(key))


def check_resumable(
    saved: dict[str, Any], written: dict[str, Any], resolved: dict[str, Any], run_dir: Any, registry: Registry | None = None
) -> None:
    """Refuse to resume checkpoint ``saved`` with a spec that changed what may not change.

    The resolved specs (every default filled in) are compared, but only at the keys the user
    wrote in either spec: a default a newer plugin release added is no change, and neither is
    writing out a default (``train.precision: fp32``) or resuming with the run's own resolved
    ``spec.yaml``. Checkpoints from before ``spec_written`` existed compare every key. With a
    ``registry``, a component named by a former name (an alias) is the same component."""
    old, before = saved.get("spec_written"), saved.get("spec", {})
    if registry is not None:
        before, resolved = canonical_names(before, registry), canonical_names(resolved, registry)
    changed = changed_keys(before, resolved)
    if old is not None:
        wrote = _written_keys(old, before) | _written_keys(written, resolved)
        changed = [key for key in changed if _covered(key, wrote)]
    if changed:
        mine = sorted(key for key in _differences(before, resolved) if may_change(key) and _covered(key, _written_keys(written, resolved)))
        raise GanforgeError(
            f"--resume: the spec differs from the run's in {', '.join(changed)}; "
            f"resume with the run's own spec: ganforge run {run_dir.spec_path} --out {run_dir.root} --resume{_as_sets(mine, resolved)}"
        )


def _covered(key: str, written: set[str]) -> bool:
    return any(key == w or key.startswith(w + ".") or w.startswith(key + ".") for w in written)


def _as_sets(keys: list[str], resolved: Any) -> str:
    """`` --set KEY=VALUE`` for each change that may be kept on resume (``train.steps=40``), so the
    suggested command does not drop them; values that are not scalars are named instead."""
    sets, others = [], []
    for key in keys:
        value: Any = resolved
        for part in key.split("."):
            value = value[int(part)] if isinstance(value, list) else value.get(part) if isinstance(value, dict) else None
        if isinstance(value, (bool, int, float, str)) or value is None:
            text = yaml.safe_dump(value).strip().removesuffix("...").strip()  # a YAML scalar, as --set reads it
            sets.append(f" --set {shlex.quote(f'{key}={text}')}")
        else:
            others.append(key)
    return "".join(sets) + (f" (and your change to {', '.join(others)}, as --set or in that file)" if others else "")


def _written_keys(written: Any, resolved: Any, prefix: str = "") -> set[str]:
    """The dotted keys of the values in ``written``; a component written by its name alone
    (``loss: lsgan``) is its ``loss.name``, so its defaulted parameters are not counted as written."""
    if isinstance(written, dict):
        items: Any = written.items()
    elif isinstance(written, list):
        items = enumerate(written)
    else:
        return {f"{prefix}name" if isinstance(written, str) and isinstance(resolved, dict) and "name" in resolved else prefix.rstrip(".")}
    keys: set[str] = set()
    for key, value in items:
        inner = resolved.get(key) if isinstance(resolved, dict) else resolved[key] if isinstance(resolved, list) and key < len(resolved) else None
        keys |= _written_keys(value, inner, f"{prefix}{key}.")
    return keys


def canonical_names(spec: Any, registry: Registry) -> Any:
    """``spec`` with each section's component name replaced by the name it stands for."""
    if not isinstance(spec, dict):
        return spec
    out = dict(spec)
    for section in component_sections():
        value = out.get(section.name)
        entries = value if isinstance(value, list) else [value]
        renamed = [_canonical(entry, str(section.kind), registry) for entry in entries]
        out[section.name] = renamed if isinstance(value, list) else renamed[0]
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
