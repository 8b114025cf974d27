"""The plugin the ``ganforge`` entry point in pyproject.toml names: this package's modules, each
imported only when ganforge calls one of its hooks, so ``ganforge --help`` with the plugin
installed imports neither it nor torch."""

from ganforge.hookspecs import family

plugin = family("ganforge_boundary_seeking", "loss")
