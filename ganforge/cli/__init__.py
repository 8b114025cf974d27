"""The ``ganforge`` command line. Each command lives in its own module of this package."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ganforge import __version__
from ganforge.errors import GanforgeError
from ganforge.plugins import get_plugins


class GanforgeGroup(click.Group):
    """A click group that prints user errors as one line (exit 2) and takes ``--debug`` anywhere."""

    def main(self, args: Any = None, *pargs: Any, **kwargs: Any) -> Any:
        args = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in args or bool(os.environ.get("GANFORGE_DEBUG"))
        args = [a for a in args if a != "--debug"]
        plugins = get_plugins()
        if getattr(self, "_commands_from", None) is not plugins:
            plugins.add_commands(self)
            self._commands_from = plugins
        extra = kwargs.setdefault("obj", {})
        extra["debug"] = debug
        return super().main(args, *pargs, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GanforgeError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            for line in str(exc).splitlines():
                click.echo(f"Error: {line}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


@click.group(cls=GanforgeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ganforge")
def cli() -> None:
    """Train and evaluate GANs described by YAML specs.

    \b
    Examples:
      ganforge list                       every component, with its plugin
      ganforge run specs/lsgan.yaml       train LSGAN on Fashion-MNIST
    Add --debug to any command to see a traceback on error.
    """
    plugins = get_plugins()
    plugins.registry  # noqa: B018 - collecting the registrations finds duplicate names and unknown hooks
    for failure in plugins.failures:
        click.echo(f"Warning: {failure}", err=True)


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="ganforge")


def _add_builtin_commands() -> None:
    from ganforge.cli import eval as eval_cli
    from ganforge.cli import listing, new_plugin, plot, plugins, run, runs, sample, serve, validate

    for command in (
        listing.list_components, validate.validate, run.run, eval_cli.eval_command,
        sample.sample, serve.serve, plot.plot, runs.runs, plugins.plugins_command, new_plugin.new_plugin,
    ):  # fmt: skip
        cli.add_command(command)


_add_builtin_commands()
