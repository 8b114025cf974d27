"""Pieces shared by commands: loading a spec with overrides and building it."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import click

from ganforge.errors import GanforgeError
from ganforge.experiment import Experiment, build_experiment
from ganforge.plugins import get_plugins
from ganforge.spec import apply_overrides, load_spec

set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a spec value: dotted key, YAML value (repeatable), e.g. --set train.steps=200.",
)

overwrite_option = click.option("--overwrite", is_flag=True, help="Replace output files that already exist.")


def refuse_to_replace(paths: Iterable[Path], overwrite: bool) -> None:
    """A one-line error (exit code 2) naming the first of ``paths`` that exists, unless
    ``overwrite``: a command never replaces a file the user made without being told to."""
    if overwrite:
        return
    for path in paths:
        if path.exists():
            raise GanforgeError(f"{path} exists; pass --overwrite to replace it, or choose another --out")


def experiment_from(spec_path: str | Path, overrides: tuple[str, ...] = ()) -> Experiment:
    spec = apply_overrides(load_spec(spec_path), overrides)
    return build_experiment(spec, get_plugins().registry)


def describe_components(experiment: Experiment) -> str:
    """``generator dcgan (plugin dcgan), ...`` for the components an experiment uses."""
    return ", ".join(f"{role} {info.name} (plugin {info.plugin})" for role, info in experiment.components.items())
