"""Metrics on generated samples: FID, IS, KID, precision/recall, accuracy, density/coverage, intra-FID, CMMD, mode coverage and PPL.

One plugin: the hooks of its modules, called in the order listed here."""

from ganforge.hookspecs import combine
from ganforge_builtins.metrics import mode_coverage, ppl, research, standard

plugin = combine(standard, research, mode_coverage, ppl)
