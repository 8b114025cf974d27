"""Errors a user can fix. The CLI prints them as one line and exits with code 2."""

from __future__ import annotations

import difflib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator


class GanforgeError(Exception):
    """A problem with the user's input, reported as one line without a traceback."""

    exit_code = 2


class SpecError(GanforgeError):
    """A problem in a spec, located by file, line and dotted field name."""

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None, field: str | None = None) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = str(self.path) if self.path else "spec"
        if self.line is not None:
            where += f":{self.line}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class ComponentError(GanforgeError):
    """An exception raised inside a plugin's component, attributed to the component and its plugin."""

    exit_code = 1


@contextmanager
def attributed(owner: str, action: str) -> Iterator[None]:
    """Re-raise an unexpected exception from a component as one line naming it:
    ``loss 'bce' (plugin ganforge_builtins.losses.minimax) failed in generator_loss: RuntimeError: ...``.
    ``owner`` is what :func:`describe_component` returns; the original stays as ``__cause__``
    (shown with ``--debug``)."""
    try:
        yield
    except GanforgeError:
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ComponentError(f"{owner} failed in {action}: {type(exc).__name__}{': ' + first if first else ''}") from exc


def describe_component(kind: str, name: str, plugin: str) -> str:
    """``loss 'bce' (plugin ganforge_builtins.losses.minimax)``: how errors name a component."""
    return f"{kind} '{name}' (plugin {plugin})"


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or an empty string.

    difflib finds the plausible candidates; edit distance with transpositions picks among
    them, so a swapped pair of letters ('Adma') beats a longer near-match ('Adamax').
    """
    by_lower = {c.lower(): c for c in candidates}
    matches = difflib.get_close_matches(word.lower(), list(by_lower), n=5, cutoff=0.6)
    if not matches:
        return ""
    best = min(matches, key=lambda m: (_edit_distance(word.lower(), m), -difflib.SequenceMatcher(None, word.lower(), m).ratio()))
    return f" (did you mean '{by_lower[best]}'?)"


def _edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions, adjacent swaps."""
    d = [[max(i, j) if 0 in (i, j) else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]
