"""How the conformance kit reports: every failed check of one component in one error
that names the component, the plugin that registered it, and each problem."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

from ganforge.errors import GanforgeError
from ganforge.plugins import get_plugins


class Problem(Exception):
    """Raised inside a check to fail it with a message."""


class ConformanceError(AssertionError):
    """A component failed one or more conformance checks.

    ``component`` describes it (kind, registered name, plugin, class), ``problems`` lists
    ``(check, message)`` pairs. An ``AssertionError`` so that pytest shows it as a failure.
    """

    def __init__(self, component: str, problems: list[tuple[str, str]]) -> None:
        self.component = component
        self.problems = problems
        lines = [f"{component} fails {len(problems)} conformance check{'s' if len(problems) > 1 else ''}:"]
        lines += [f"  - {check}: {message}" for check, message in problems]
        super().__init__("\n".join(lines))


class ComponentUnavailable(ConformanceError):
    """The component could not be checked because something it needs is missing
    (a data file, pretrained weights): it raised a :class:`~ganforge.errors.GanforgeError`."""


def describe(kind: str, factory: Callable[..., Any]) -> str:
    """``loss 'hinge' (plugin 'hinge', ganforge_builtins.losses.hinge.HingeLoss)``; components that
    are not registered are named by their class alone."""
    qualname = f"{getattr(factory, '__module__', '?')}.{getattr(factory, '__qualname__', repr(factory))}"
    try:
        entries = [e for e in get_plugins().registry.list(kind) if e.factory is factory]
    except Exception:  # noqa: BLE001 - describing must never hide the real problem
        entries = []
    if entries:
        return f"{kind} '{entries[0].name}' (plugin '{entries[0].plugin}', {qualname})"
    return f"{kind} {qualname}"


class Checker:
    """Runs named checks on one component and collects what fails."""

    def __init__(self, kind: str, factory: Callable[..., Any]) -> None:
        self.kind = kind
        self.factory = factory
        self.component = describe(kind, factory)
        self.problems: list[tuple[str, str]] = []

    def fail(self, check: str, message: str) -> None:
        self.problems.append((check, message))

    @contextmanager
    def check(self, name: str, needs_resources: bool = False) -> Iterator[None]:
        """A check: a :class:`Problem` or any exception inside it is recorded as its failure.

        With ``needs_resources`` (constructing, loading data, preparing weights) a
        :class:`~ganforge.errors.GanforgeError` means something the component needs is
        missing, and stops the whole check with :class:`ComponentUnavailable`."""
        try:
            yield
        except Problem as problem:
            self.fail(name, str(problem))
        except ConformanceError:
            raise
        except GanforgeError as exc:
            if needs_resources:
                raise ComponentUnavailable(self.component, [(name, f"unavailable: {exc}")]) from exc
            self.fail(name, f"raised {type(exc).__name__}: {exc}")
        except Exception as exc:  # noqa: BLE001 - any crash is a finding about the component
            self.fail(name, f"raised {type(exc).__name__}: {exc}")

    def finish(self) -> None:
        """Raise :class:`ConformanceError` if any check failed."""
        if self.problems:
            raise ConformanceError(self.component, self.problems)


def expect(condition: bool, message: str) -> None:
    """Fail the current check with ``message`` unless ``condition`` holds."""
    if not condition:
        raise Problem(message)
