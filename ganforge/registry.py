"""The component registry: every generator, discriminator, loss, dataset, metric and
feature extractor, keyed by kind and name, remembering the plugin that registered it."""

from __future__ import annotations

import fnmatch
import inspect
from dataclasses import dataclass
from typing import Any, Callable

from ganforge.errors import GanforgeError, did_you_mean

KINDS: tuple[str, ...] = ("generator", "discriminator", "loss", "dataset", "metric", "extractor", "augment")


@dataclass(frozen=True)
class ComponentInfo:
    """One registered component."""

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str

    @property
    def summary(self) -> str:
        """First line of the factory's docstring."""
        doc = inspect.getdoc(self.factory) or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""


class UnknownComponentError(GanforgeError):
    pass


class DuplicateComponentError(GanforgeError):
    pass


class Registry:
    """Components by kind and name. One instance per plugin manager; tests make their own."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, ComponentInfo]] = {kind: {} for kind in KINDS}
        #: (kind, name) -> every plugin that claimed it, when more than one did.
        self.conflicts: dict[tuple[str, str], list[str]] = {}

    def add(self, kind: str, name: str, factory: Callable[..., Any], plugin: str) -> None:
        """Register ``factory`` as ``kind``/``name``. A name taken by another plugin raises
        and marks the name as conflicting, so a spec cannot silently pick one of them."""
        if kind not in self._entries:
            raise ValueError(f"unknown component kind {kind!r}; expected one of {', '.join(KINDS)}")
        if not isinstance(name, str) or not name:
            raise TypeError(f"{kind} names must be non-empty strings, got {name!r}")
        if not callable(factory):
            raise TypeError(f"{kind} '{name}' must be registered with a class or callable, got {factory!r}")
        existing = self._entries[kind].get(name)
        if existing is not None:
            claimants = self.conflicts.setdefault((kind, name), [existing.plugin])
            claimants.append(plugin)
            raise DuplicateComponentError(
                f"{kind} '{name}' is registered by both plugin '{existing.plugin}' and plugin '{plugin}'"
            )
        self._entries[kind][name] = ComponentInfo(kind, name, factory, plugin)

    def get(self, kind: str, name: str) -> ComponentInfo:
        """The component ``kind``/``name``, or an error with "did you mean" and where to look."""
        entries = self._entries[kind]
        if (kind, name) in self.conflicts:
            plugins = " and ".join(f"'{p}'" for p in self.conflicts[kind, name])
            raise DuplicateComponentError(
                f"{kind} '{name}' is registered by plugins {plugins}; disable one with GANFORGE_DISABLE_PLUGINS=NAME"
            )
        if name not in entries:
            raise UnknownComponentError(
                f"unknown {kind} '{name}'{did_you_mean(str(name), entries)}; see `ganforge list {kind}`"
            )
        return entries[name]

    def names(self, kind: str) -> list[str]:
        return sorted(self._entries[kind])

    def list(self, kind: str | None = None, pattern: str = "*") -> list[ComponentInfo]:
        """Components of ``kind`` (all kinds when ``None``) whose name matches the glob ``pattern``,
        in kind order then name order."""
        kinds = KINDS if kind is None else (kind,)
        return [
            info
            for k in kinds
            for name, info in sorted(self._entries[k].items())
            if fnmatch.fnmatchcase(name, pattern)
        ]
