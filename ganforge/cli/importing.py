"""``ganforge import``: a group whose formats come from plugins.

A family adds a format as the lazy command ``import NAME`` (``commands={"import esrgan": ...}``
in :func:`ganforge.hookspecs.family`); the format's module is imported only when it runs or shows
its help. The formats write their run directories with :mod:`ganforge.artifacts.imported`.
"""

from __future__ import annotations

import importlib
from typing import Any

import click


class FormatGroup(click.Group):
    """A group whose subcommands are the root group's ``grouped`` entries under its name."""

    def _formats(self, ctx: click.Context) -> dict[str, tuple[str, str]]:
        grouped: dict[str, dict[str, tuple[str, str]]] = getattr(ctx.find_root().command, "grouped", {})
        return grouped.get(self.name or "", {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self._formats(ctx), *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        formats = self._formats(ctx)
        if cmd_name in formats and cmd_name not in self.commands:
            module, _, attribute = formats[cmd_name][0].partition(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The formats with their summaries, without importing them."""
        formats = self._formats(ctx)
        rows = [(name, formats[name][1] if name in formats else self.commands[name].get_short_help_str()) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Formats"):
                formatter.write_dl(rows)


@click.group("import", cls=FormatGroup)
def import_command(**_: Any) -> None:
    """Turn published weights (StyleGAN2-ADA pickles, ESRGAN / Real-ESRGAN .pth files) into run directories.

    \b
    Examples:
      ganforge import esrgan RealESRGAN_x4plus.pth --out runs/realesrgan
      ganforge import stylegan2-ada network-snapshot.pkl --out runs/ffhq
    The run directory works with sample, eval, serve, upscale, export and as init_from:. The
    file is only read, never executed. The weights' own licence applies to the run.
    """
