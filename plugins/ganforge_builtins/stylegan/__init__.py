"""StyleGAN 1/2 generator and discriminator, NVIDIA's StyleGAN2 (stylegan2-ada) and `import stylegan2-ada`, and path-length regularisation.

One plugin: its modules register in the order listed here, each imported only when
a hook needs it (``ganforge --help`` imports none of them)."""

from ganforge.hookspecs import family

plugin = family(
    __name__, "networks", "ada", "path_length",
    commands={"import stylegan2-ada": (f"{__name__}.importing:import_stylegan2_ada", "Import a StyleGAN2-ADA network pickle (network-snapshot-*.pkl) as a run directory.")},
)  # fmt: skip
