"""Checking spec values (YAML scalars, lists, mappings) against constructor type hints."""

from __future__ import annotations

import inspect
import math
import typing
from pathlib import PurePath
from typing import Any

from ganforge.kinds import KINDS
from ganforge.spec.signature import _UnionType, describe_hint
from ganforge.types import range_of


def interface_kinds() -> dict[type, str]:
    """Interface class -> registry kind, for parameters that take a nested component."""
    return {kind.interface: kind.name for kind in KINDS}


def nested_kind(hint: Any) -> str | None:
    """The component kind a parameter takes, if its hint names an interface (alone or in a union)."""
    kinds = interface_kinds()
    candidates = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, _UnionType) else (hint,)
    for candidate in candidates:
        if isinstance(candidate, type) and candidate in kinds:
            return kinds[candidate]
    return None


def type_error(value: Any, hint: Any) -> str | None:
    """None when ``value`` fits ``hint``; otherwise what was expected and what came."""
    if _fits(value, hint):
        return None
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    return f"expected {describe_hint(hint)}, got {shown} ({type(value).__name__})"


def _fits(value: Any, hint: Any) -> bool:
    if hint is inspect.Parameter.empty or hint is Any or isinstance(hint, (str, typing.TypeVar)):
        return True
    if hint is type(None) or hint is None:
        return value is None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Annotated:
        bounds = range_of(hint)
        return _fits(value, args[0]) and (bounds is None or bounds.contains(value))
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if origin in (typing.Union, _UnionType):
        return any(_fits(value, a) for a in args)
    if origin in (list, typing.Sequence, tuple) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(_fits(v, a) for v, a in zip(value, args))
        item = args[0] if args else Any
        return all(_fits(v, item) for v in value)
    if origin in (dict, typing.Mapping) or hint is dict:
        if not isinstance(value, dict):
            return False
        key, val = args if args else (Any, Any)
        return all(_fits(k, key) and _fits(v, val) for k, v in value.items())
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and not (isinstance(value, float) and math.isnan(value))
    if isinstance(hint, type) and issubclass(hint, PurePath):
        return isinstance(value, (str, PurePath))
    if nested_kind(hint) is not None:
        return isinstance(value, (str, dict, hint))
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True  # hints we do not understand are not enforced
