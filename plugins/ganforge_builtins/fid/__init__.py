"""The `ganforge fid` and `ganforge stats` commands.

One plugin: its modules register in the order listed here, each imported only when
a hook needs it (``ganforge --help`` imports none of them)."""

from ganforge.hookspecs import family

plugin = family(
    __name__,
    commands={
        "fid": (f"{__name__}.commands:fid", "FID between two folders of images or .npz statistics files (as pytorch-fid's command)."),
        "stats": (f"{__name__}.commands:stats", "Write feature statistics (pytorch-fid's .npz: mu, sigma) of a dataset or an image folder."),
    },
)
