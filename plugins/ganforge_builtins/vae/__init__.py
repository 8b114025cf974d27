"""The variational autoencoder, its ELBO loss and metric, VAE-GAN, and `ganforge reconstruct`.

One plugin: the hooks of its modules, called in the order listed here."""

from ganforge.hookspecs import combine
from ganforge_builtins.vae import model

plugin = combine(model)
