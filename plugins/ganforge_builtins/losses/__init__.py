"""Adversarial losses and penalties: minimax, least squares, Wasserstein, relativistic, hinge, RpGAN, R1/R2, mode seeking and the auxiliary classifier term.

One plugin: its modules register in the order listed here, each imported only when
a hook needs it (``ganforge --help`` imports none of them)."""

from ganforge.hookspecs import family

plugin = family(__name__, "auxiliary_classifier", "hinge", "lsgan", "minimax", "mode_seeking", "r1", "r2", "relativistic", "rpgan", "wasserstein")
