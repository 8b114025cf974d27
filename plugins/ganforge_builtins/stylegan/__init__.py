"""StyleGAN 1/2 generator and discriminator, and path-length regularisation.

One plugin: its modules register in the order listed here, each imported only when
a hook needs it (``ganforge --help`` imports none of them)."""

from ganforge.hookspecs import family

plugin = family(__name__, "networks", "path_length")
