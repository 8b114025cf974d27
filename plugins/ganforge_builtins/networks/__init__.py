"""Generators and discriminators of the classic zoo: DCGAN, MLP, SNGAN's ResNets, PacGAN packing and InfoGAN.

One plugin: its modules register in the order listed here, each imported only when
a hook needs it (``ganforge --help`` imports none of them)."""

from ganforge.hookspecs import family

plugin = family(__name__, "dcgan", "infogan", "mlp", "pacgan", "resnet")
