"""The variational autoencoder, its ELBO loss and metric, VAE-GAN, and `ganforge reconstruct`.

One plugin: its modules register in the order listed here, each imported only when
a hook needs it (``ganforge --help`` imports none of them)."""

from ganforge.hookspecs import family

plugin = family(
    __name__, "model",
    commands={
        "reconstruct": (f"{__name__}.commands:reconstruct", "Write the first N images of a split beside their reconstructions by a run's VAE."),
    },
)
