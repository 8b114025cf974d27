"""The component registry: every component of every kind in :data:`ganforge.kinds.KINDS`,
keyed by kind and name (or a former name, an alias), remembering the plugin that registered it."""

from __future__ import annotations

import fnmatch
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ganforge.errors import GanforgeError, did_you_mean
from ganforge.kinds import KIND_NAMES

#: Every kind's name, in table order (derived from :data:`ganforge.kinds.KINDS`).
KINDS: tuple[str, ...] = KIND_NAMES


@dataclass(frozen=True)
class ComponentInfo:
    """One registered component; ``aliases`` are former names that still resolve to it."""

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    aliases: tuple[str, ...] = ()

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
        #: kind -> alias -> the registered name it stands for.
        self._aliases: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
        #: (kind, name) -> every plugin that claimed it (as a name or an alias), when more than one did.
        self.conflicts: dict[tuple[str, str], list[str]] = {}
        #: (kind, name) -> the components refused that name because another plugin held it, so
        #: listings can show every claimant's parameters.
        self.refused: dict[tuple[str, str], list[ComponentInfo]] = {}
        #: (kind, name) -> why a plugin meant to register it and did not (a misspelt hook).
        self.unregistered: dict[tuple[str, str], str] = {}

    def add(self, kind: str, name: str, factory: Callable[..., Any], plugin: str, aliases: Iterable[str] = ()) -> None:
        """Register ``factory`` as ``kind``/``name``, also found under each of ``aliases``
        (former names, so that renaming a component keeps old specs, runs and checkpoints
        working).

        A name another plugin already holds (as a name or an alias) raises
        :class:`DuplicateComponentError`, registers nothing, and marks the name as conflicting,
        so a spec cannot silently pick one of them. An alias that is taken is reported the
        same way and marked conflicting, but the component is still registered under its
        name and its other aliases.
        """
        if kind not in self._entries:
            raise ValueError(f"unknown component kind {kind!r}; expected one of {', '.join(KINDS)}")
        if not isinstance(name, str) or not name:
            raise TypeError(f"{kind} names must be non-empty strings, got {name!r}")
        if not callable(factory):
            raise TypeError(f"{kind} '{name}' must be registered with a class or callable, got {factory!r}")
        if isinstance(aliases, str):
            aliases = (aliases,)
        wanted = tuple(dict.fromkeys(aliases))
        bad = [a for a in wanted if not isinstance(a, str) or not a or a == name]
        if bad:
            raise TypeError(f"{kind} '{name}': aliases must be non-empty strings other than the name, got {bad[0]!r}")
        holder = self._holder(kind, name)
        if holder is not None:
            self._conflict(kind, name, holder.plugin, plugin)
            self.refused.setdefault((kind, name), []).append(ComponentInfo(kind, name, factory, plugin, ()))
            raise DuplicateComponentError(
                f"{kind} '{name}' is registered by both plugin '{holder.plugin}' and plugin '{plugin}'{self._as_alias(holder, name)}"
            )
        clashes = [(a, h) for a in wanted if (h := self._holder(kind, a)) is not None]
        kept = tuple(a for a in wanted if all(a != c for c, _ in clashes))
        self._entries[kind][name] = ComponentInfo(kind, name, factory, plugin, kept)
        for alias in kept:
            self._aliases[kind][alias] = name
        if clashes:
            for alias, h in clashes:
                self._conflict(kind, alias, h.plugin, plugin)
            raise DuplicateComponentError("; ".join(
                f"{kind} '{alias}' is registered by both plugin '{h.plugin}'{self._as_alias(h, alias)} "
                f"and plugin '{plugin}' (as an alias of '{name}')"
                for alias, h in clashes
            ))  # fmt: skip

    def _holder(self, kind: str, name: str) -> ComponentInfo | None:
        """The component ``name`` refers to now, as a name or an alias."""
        target = self._aliases[kind].get(name, name)
        return self._entries[kind].get(target)

    @staticmethod
    def _as_alias(holder: ComponentInfo, name: str) -> str:
        return f" (as an alias of '{holder.name}')" if holder.name != name else ""

    def _conflict(self, kind: str, name: str, first: str, other: str) -> None:
        claimants = self.conflicts.setdefault((kind, name), [first])
        claimants.append(other)

    def claimants(self, entry: ComponentInfo) -> list[ComponentInfo]:
        """``entry`` and every component refused its name (a contested name has several)."""
        return [entry, *self.refused.get((entry.kind, entry.name), [])]

    def get(self, kind: str, name: str) -> ComponentInfo:
        """The component ``kind``/``name`` (``name`` may be an alias), or an error with
        "did you mean" and where to look."""
        if kind not in self._entries:
            raise UnknownComponentError(f"unknown component kind '{kind}'{did_you_mean(str(kind), KINDS)}; expected one of {', '.join(KINDS)}")
        if (kind, name) in self.conflicts:
            plugins = " and ".join(f"'{p}'" for p in self.conflicts[kind, name])
            raise DuplicateComponentError(
                f"{kind} '{name}' is registered by plugins {plugins}; disable one with GANFORGE_DISABLE_PLUGINS=NAME"
            )
        info = self._holder(kind, name)
        if info is None and (kind, name) in self.unregistered:
            raise UnknownComponentError(f"{kind} '{name}' is not registered: {self.unregistered[kind, name]}; fix the plugin (see `ganforge plugins`)")
        if info is None:
            known = [*self._entries[kind], *self._aliases[kind]]
            raise UnknownComponentError(f"unknown {kind} '{name}'{did_you_mean(str(name), known)}; see `ganforge list {kind}`")
        return info

    def canonical(self, kind: str, name: str) -> str:
        """The registered name ``name`` stands for (itself unless it is an alias)."""
        return self.get(kind, name).name

    def has(self, kind: str, name: str) -> bool:
        """Whether ``name`` is taken in ``kind``, as a name or an alias."""
        return self._holder(kind, name) is not None or (kind, name) in self.conflicts

    def names(self, kind: str) -> list[str]:
        """The registered names of ``kind`` (aliases not included), sorted."""
        return sorted(self._entries[kind])

    def list(self, kind: str | None = None, pattern: str = "*") -> list[ComponentInfo]:
        """Components of ``kind`` (all kinds when ``None``) whose name or one of whose aliases
        matches the glob ``pattern``, in kind order then name order."""
        kinds = KINDS if kind is None else (kind,)
        return [
            info
            for k in kinds
            for name, info in sorted(self._entries[k].items())
            if any(fnmatch.fnmatchcase(n, pattern) for n in (name, *info.aliases))
        ]

