"""Constructor checks shared by every kind: a spec must be able to validate and fill each
parameter, so each has a type hint, a docstring mention, and a default that fits its hint.
Also: building the component for the other checks, with ``image_shape`` filled in."""

from __future__ import annotations

import contextlib
import inspect
import re
import typing
from dataclasses import dataclass
from typing import Any, Callable

import torch

from ganforge.errors import GanforgeError
from ganforge.interfaces import Dataset, Discriminator, Generator
from ganforge.spec.signature import signature_of
from ganforge.spec.types import nested_kind, type_error
from ganforge.testing.failures import Checker, ComponentUnavailable, ConformanceError, Problem, expect
from ganforge.testing.fakes import TinyDiscriminator, TinyGenerator

#: Shapes tried, in order, for a component that takes ``image_shape`` when none is given.
DEFAULT_IMAGE_SHAPES: tuple[tuple[int, ...], ...] = ((1, 28, 28), (3, 32, 32), (3, 64, 64))


@dataclass
class Setup:
    """The kit's own options; the component's constructor parameters are passed to the
    ``check_*`` functions as keywords instead.

    Args:
        image_shape: for components taking ``image_shape`` (default: the first of
            (1, 28, 28), (3, 32, 32), (3, 64, 64) the constructor accepts), and the shape of
            the kit's own networks and data.
        num_classes: losses and metrics are checked with conditional networks and labels.
        generator: for losses and metrics, a generator to use instead of the kit's tiny one.
        discriminator: for losses, a discriminator to use instead of the kit's tiny one.
        dataset: for metrics and extractors, a dataset to use instead of the kit's tiny one.
        batch_size: samples per forward pass (at least 2).
        seed: the seed every check starts from.
        device: where the checks run, e.g. "cuda".
    """

    image_shape: tuple[int, ...] | None = None
    num_classes: int | None = None
    generator: Generator | None = None
    discriminator: Discriminator | None = None
    dataset: Dataset | None = None
    batch_size: int = 4
    seed: int = 0
    device: str = "cpu"


def docstring_of(factory: Callable[..., Any]) -> str:
    """The class docstring and its ``__init__``'s, or the function's docstring."""
    parts = [inspect.getdoc(factory) or ""]
    if inspect.isclass(factory) and factory.__init__ is not object.__init__:
        own = factory.__dict__.get("__init__") or factory.__init__
        parts.append(inspect.getdoc(own) or "")
    return "\n".join(parts)


def check_constructor(checker: Checker, factory: Callable[..., Any]) -> None:
    """Summary line, and for every parameter: keyword-passable, type-hinted (resolvably),
    mentioned in the docstring, with a default that fits its hint."""
    with checker.check("docstring"):
        expect(bool((inspect.getdoc(factory) or "").strip()), "has no docstring; its first line is the summary `ganforge list` shows")
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError) as exc:
        checker.fail("constructor", f"has no inspectable signature ({exc})")
        return
    target = factory.__init__ if inspect.isclass(factory) else factory
    hints: dict[str, Any] = {}
    with checker.check("type hints"):
        try:
            hints = typing.get_type_hints(target, include_extras=True)
        except Exception as exc:
            raise Problem(f"constructor type hints cannot be resolved ({type(exc).__name__}: {exc}); import the names they use") from exc
    doc = docstring_of(factory)
    for p in signature.parameters.values():
        if p.kind is inspect.Parameter.VAR_KEYWORD or p.kind is inspect.Parameter.VAR_POSITIONAL:
            star = "**" if p.kind is inspect.Parameter.VAR_KEYWORD else "*"
            checker.fail("constructor", f"takes {star}{p.name}, so a spec's keys cannot be validated; name every parameter")
            continue
        if p.kind is inspect.Parameter.POSITIONAL_ONLY:
            checker.fail("constructor", f"parameter '{p.name}' is positional-only; specs pass parameters by keyword")
            continue
        with checker.check(f"parameter '{p.name}'"):
            hint = hints.get(p.name, p.annotation)
            expect(hint is not inspect.Parameter.empty, "has no type hint; specs are validated against it (e.g. `width: int = 64`)")
            expect(
                re.search(rf"(?<![\w-]){re.escape(p.name)}(?![\w-])", doc) is not None,
                "is not mentioned in the docstring; document what it does (e.g. under `Args:`)",
            )
            if p.default is not inspect.Parameter.empty and not isinstance(hint, str):
                problem = type_error(p.default, hint)
                expect(problem is None, f"default {p.default!r} does not fit its type hint: {problem}")


def nested_networks(factory: Callable[..., Any], params: dict[str, Any], setup: Setup) -> dict[str, Any]:
    """The kit's tiny networks for required parameters that take a nested generator or
    discriminator (a wrapper's inner network) and are not in ``params``; built for the shape
    the builder would inject into them (a wrapper's ``injected_into`` may change it)."""
    tiny = {"discriminator": TinyDiscriminator, "generator": TinyGenerator}
    shape = tuple(setup.image_shape or DEFAULT_IMAGE_SHAPES[0])
    hook = getattr(factory, "injected_into", None)
    out: dict[str, Any] = {}
    for p in signature_of(factory).params:
        kind = nested_kind(p.hint)
        if kind in tiny and p.required and p.name not in params:
            own = {k: v for k, v in params.items() if k not in out}
            injected = {"image_shape": shape}
            with contextlib.suppress(ValueError):  # the constructor reports the bad parameter itself
                injected = dict(hook(p.name, own, injected)) if hook else injected
            torch.manual_seed(setup.seed)
            out[p.name] = tiny[kind](tuple(injected["image_shape"]))
    return out


def construct(checker: Checker, factory: Callable[..., Any], params: dict[str, Any], setup: Setup, seed: int | None = None) -> tuple[Any, dict[str, Any]]:
    """Build the component under ``seed`` (default ``setup.seed``); fills ``image_shape``.
    Returns it and the keyword arguments used. Failing to build ends the check."""
    signature = inspect.signature(factory)
    names = set(signature.parameters)
    kwargs = {**nested_networks(factory, params, setup), **params}
    missing = [
        n for n, p in signature.parameters.items()
        if p.default is inspect.Parameter.empty and n not in kwargs and n != "image_shape"
        and p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    ]  # fmt: skip
    if missing:
        wanted = ", ".join(f"{n}=..." for n in missing)
        raise ConformanceError(checker.component, [("construct", f"needs {', '.join(repr(n) for n in missing)}; pass them: check_{checker.kind}({getattr(factory, '__name__', 'factory')}, {wanted})")])
    shapes: tuple[tuple[int, ...] | None, ...] = (None,)
    if "image_shape" in names and "image_shape" not in kwargs:
        shapes = (setup.image_shape,) if setup.image_shape else DEFAULT_IMAGE_SHAPES
    errors: list[str] = []
    for shape in shapes:
        if shape is not None:
            kwargs["image_shape"] = tuple(shape)
        torch.manual_seed(setup.seed if seed is None else seed)
        try:
            return factory(**kwargs), kwargs
        except ValueError as exc:
            errors.append(f"image_shape={shape}: {exc}" if shape is not None else f"ValueError: {exc}")
        except GanforgeError as exc:
            raise ComponentUnavailable(checker.component, [("construct", f"unavailable: {exc}")]) from exc
        except Exception as exc:  # noqa: BLE001 - reported with the other findings
            errors.append(f"raised {type(exc).__name__}: {exc}")
            break
    raise ConformanceError(checker.component, [*checker.problems, ("construct", "; ".join(errors))])
