"""Differentiable augmentations of the discriminator's inputs: DiffAugment and ADA.

One plugin: the hooks of its modules, called in the order listed here."""

from ganforge.hookspecs import combine
from ganforge_builtins.augments import ada, diffaugment

plugin = combine(diffaugment, ada)
