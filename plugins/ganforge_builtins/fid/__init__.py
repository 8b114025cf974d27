"""The `ganforge fid` and `ganforge stats` commands.

One plugin: the hooks of its modules, called in the order listed here."""

from ganforge.hookspecs import combine
from ganforge_builtins.fid import commands

plugin = combine(commands)
