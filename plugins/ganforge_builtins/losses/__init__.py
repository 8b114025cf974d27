"""Adversarial losses and penalties: minimax, least squares, Wasserstein, relativistic, hinge, RpGAN, R1/R2, mode seeking and the auxiliary classifier term.

One plugin: the hooks of its modules, called in the order listed here."""

from ganforge.hookspecs import combine
from ganforge_builtins.losses import auxiliary_classifier, hinge, lsgan, minimax, mode_seeking, r1, r2, relativistic, rpgan, wasserstein

plugin = combine(minimax, lsgan, wasserstein, relativistic, hinge, r1, r2, rpgan, mode_seeking, auxiliary_classifier)
