"""The domain-classifier feature extractor and `ganforge train-classifier`.

One plugin: the hooks of its modules, called in the order listed here."""

from ganforge.hookspecs import combine
from ganforge_builtins.classifier import extractor

plugin = combine(extractor)
