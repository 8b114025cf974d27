"""Pieces shared by commands: loading a spec with overrides and building it."""

from __future__ import annotations

from pathlib import Path

import click

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

def experiment_from(spec_path: str | Path, overrides: tuple[str, ...] = ()) -> Experiment:
    spec = apply_overrides(load_spec(spec_path), overrides)
    return build_experiment(spec, get_plugins().registry)


def describe_components(experiment: Experiment) -> str:
    """``generator dcgan (plugin dcgan), ...`` for the components an experiment uses."""
    return ", ".join(f"{role} {info.name} (plugin {info.plugin})" for role, info in experiment.components.items())
