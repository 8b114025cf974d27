"""Metrics on generated samples: FID, IS, KID, precision/recall, accuracy, density/coverage, intra-FID, CMMD, mode coverage and PPL.

One plugin: its modules register in the order listed here, each imported only when
a hook needs it (``ganforge --help`` imports none of them)."""

from ganforge.hookspecs import family

plugin = family(__name__, "mode_coverage", "ppl", "research", "standard")
