"""Errors a user can fix. The CLI prints them as one line and exits with code 2."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Iterable


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


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or an empty string."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ""
