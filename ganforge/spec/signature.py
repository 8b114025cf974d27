"""What a component's constructor accepts: names, type hints, defaults."""

from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, Callable

from ganforge.types import range_of

#: Parameters the builder fills from the experiment when the spec leaves them out.
INJECTED: dict[str, str] = {"image_shape": "from the dataset"}


@dataclass(frozen=True)
class Param:
    """One constructor parameter."""

    name: str
    hint: Any  # resolved type hint, or inspect.Parameter.empty
    default: Any  # inspect.Parameter.empty when required

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty and self.name not in INJECTED

    def describe_type(self) -> str:
        return describe_hint(self.hint)

    def describe_default(self) -> str:
        if self.name in INJECTED and self.default is inspect.Parameter.empty:
            return f"({INJECTED[self.name]})"
        return "(required)" if self.required else repr(self.default)


@dataclass(frozen=True)
class Signature:
    params: tuple[Param, ...]
    accepts_any: bool  # the constructor takes **kwargs

    def get(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]


@cache
def signature_of(factory: Callable[..., Any], skip: tuple[str, ...] = ()) -> Signature:
    """The keyword parameters of ``factory`` (a class or function), with resolved hints."""
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return Signature((), accepts_any=True)
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except Exception:  # noqa: BLE001 - unresolvable annotations: validate names only
        hints = {}
    params = []
    accepts_any = False
    for p in sig.parameters.values():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            accepts_any = True
            continue
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.POSITIONAL_ONLY) or p.name in skip:
            continue
        params.append(Param(p.name, hints.get(p.name, p.annotation), p.default))
    return Signature(tuple(params), accepts_any)


def describe_hint(hint: Any) -> str:
    """A hint as ``ganforge list --params`` and spec errors show it: ``int >= 1 | null``, ``float in [0, 1]``."""
    if hint is inspect.Parameter.empty or hint is Any:
        return "any"
    if hint is type(None):
        return "null"
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        bounds = range_of(hint)
        base = describe_hint(typing.get_args(hint)[0])
        return f"{base} {bounds.describe()}" if bounds else base
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(hint))
    if origin in (typing.Union, _UnionType):
        return " | ".join(describe_hint(a) for a in typing.get_args(hint))
    if origin is not None:
        args = ", ".join("..." if a is Ellipsis else describe_hint(a) for a in typing.get_args(hint))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return getattr(hint, "__name__", str(hint))


_UnionType = type(int | None)
