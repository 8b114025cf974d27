"""The ``ganforge`` command line. Each command lives in its own module of this package and is
imported only when it runs (or its own ``--help`` is asked for), so ``ganforge --help`` starts
without importing torch."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from ganforge import __version__
from ganforge.errors import GanforgeError
from ganforge.plugins import get_plugins

#: ganforge's own commands: name -> (``module:function``, the summary ``ganforge --help`` shows).
#: A test checks each summary against its command's own docstring.
COMMANDS: dict[str, tuple[str, str]] = {
    "list": ("ganforge.cli.listing:list_components", "List registered components, optionally of one KIND and matching the glob PATTERN."),
    "validate": ("ganforge.cli.validate:validate", "Check SPEC: section and parameter names, types, component names; build every component."),
    "run": ("ganforge.cli.run:run", "Train the GAN that SPEC describes and write the run directory."),
    "eval": ("ganforge.cli.eval:eval_command", "Compute metrics of a trained generator (the EMA weights when the run kept them)."),
    "sample": ("ganforge.cli.sample:sample", "Draw samples from the generator of a run (RUN_DIR) or a checkpoint file."),
    "serve": ("ganforge.cli.serve:serve", "Serve the generator of RUN_DIR (or a checkpoint) over HTTP until Ctrl-C or SIGTERM."),
    "plot": ("ganforge.cli.plot:plot", "Draw PNG figures of RUN_DIR's losses and metrics over training."),
    "runs": ("ganforge.cli.runs:runs", "List the runs under DIRECTORY (default ./runs): spec name, model, loss, steps done, status, and the last and best value of each metric."),
    "plugins": ("ganforge.cli.plugins:plugins_command", "List installed plugins: distribution, version, components, and load errors."),
    "new-plugin": ("ganforge.cli.new_plugin:new_plugin", "Write a plugin package providing one KIND component registered as NAME."),
    "sweep": ("ganforge.cli.sweep:sweep", "Train SPEC over a grid of settings and seeds; compare them in a table and plots."),
    "import": ("ganforge.cli.importing:import_command", "Turn published weights (StyleGAN2-ADA pickles, ESRGAN / Real-ESRGAN .pth files) into run directories."),
    "export": ("ganforge.cli.export:export_command", "Export a run's generator for use outside ganforge."),
}


class GanforgeGroup(click.Group):
    """A click group that prints user errors as one line (exit 2), takes ``--debug`` anywhere, and
    imports each of ganforge's own commands (:data:`COMMANDS`) only when it is used."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: commands added by name, imported on first use: ganforge's own and plugins'.
        self.lazy: dict[str, tuple[str, str]] = dict(COMMANDS)
        #: subcommands plugins add to a group of ours (``import esrgan``): group -> name -> (target, summary).
        self.grouped: dict[str, dict[str, tuple[str, str]]] = {}

    def add_lazy_command(self, name: str, target: str, summary: str) -> None:
        """Add the command ``target`` (``module:function``) as ``name`` without importing it;
        ``summary`` is its line in ``ganforge --help``. ``GROUP NAME`` (e.g. ``import esrgan``)
        adds a subcommand to one of ganforge's groups (see :mod:`ganforge.cli.importing`)."""
        group, _, sub = name.partition(" ")
        if sub:
            self.grouped.setdefault(group, {})[sub] = (target, summary)
        else:
            self.lazy[name] = (target, summary)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.lazy, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, _, attribute = self.lazy[cmd_name][0].partition(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the lazy commands' summaries and the loaded commands' help,
        without importing a lazy command."""
        limit = formatter.width - 6 - max(len(name) for name in self.list_commands(ctx))
        rows = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            command = command or click.Command(name, help=self.lazy[name][1])  # a stand-in, for its summary line
            rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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
