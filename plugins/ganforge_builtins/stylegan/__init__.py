"""StyleGAN 1/2 generator and discriminator, and path-length regularisation.

One plugin: the hooks of its modules, called in the order listed here."""

from ganforge.hookspecs import combine
from ganforge_builtins.stylegan import networks, path_length

plugin = combine(networks, path_length)
