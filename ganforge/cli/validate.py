"""``ganforge validate``: check a spec without training."""

from __future__ import annotations

import click

from ganforge.cli.common import describe_components, experiment_from, set_option


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@set_option
def validate(spec: str, overrides: tuple[str, ...]) -> None:
    """Check SPEC: section and parameter names, types, component names; build every component.

    \b
    Example:
      ganforge validate specs/lsgan.yaml --set train.steps=10
    """
    experiment = experiment_from(spec, overrides)
    click.echo(f"{spec}: OK — {describe_components(experiment)}")
