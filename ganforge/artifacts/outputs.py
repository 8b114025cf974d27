"""Where commands write: the ``--overwrite`` option, and the refusal to replace a file the
user made without it (ganforge's commands and plugins' commands alike)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import click

from ganforge.errors import GanforgeError

overwrite_option = click.option("--overwrite", is_flag=True, help="Replace output files that already exist.")


def refuse_to_replace(paths: Iterable[Path], overwrite: bool) -> None:
    """A one-line error (exit code 2) naming the first of ``paths`` that exists, unless
    ``overwrite``: a command never replaces a file the user made without being told to."""
    if overwrite:
        return
    for path in paths:
        if path.exists():
            raise GanforgeError(f"{path} exists; pass --overwrite to replace it, or choose another --out")
