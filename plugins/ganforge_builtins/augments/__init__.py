"""Differentiable augmentations of the discriminator's inputs: DiffAugment and ADA.

One plugin: its modules register in the order listed here, each imported only when
a hook needs it (``ganforge --help`` imports none of them)."""

from ganforge.hookspecs import family

plugin = family(__name__, "ada", "diffaugment")
