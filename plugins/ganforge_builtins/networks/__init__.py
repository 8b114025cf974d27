"""Generators and discriminators of the classic zoo: DCGAN, MLP, SNGAN's ResNets, PacGAN packing and InfoGAN.

One plugin: the hooks of its modules, called in the order listed here."""

from ganforge.hookspecs import combine
from ganforge_builtins.networks import dcgan, infogan, mlp, pacgan, resnet

plugin = combine(dcgan, mlp, resnet, pacgan, infogan)
