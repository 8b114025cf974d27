"""Datasets: MNIST/Fashion-MNIST, CIFAR-10, image folders and dataset ZIPs (and `ganforge dataset pack`), synthetic images, toy 2-D mixtures and scikit-image's photographs.

One plugin: its modules register in the order listed here, each imported only when
a hook needs it (``ganforge --help`` imports none of them)."""

from ganforge.hookspecs import family

plugin = family(
    __name__, "cifar10", "idx", "image_folder", "skimage_photos", "synthetic", "toy2d",
    commands={"dataset": (f"{__name__}.pack:dataset_group", "Prepare datasets: pack a folder of images into one ZIP that trains without decoding anything ahead (`data: {name: image-folder, root: OUT.zip}`).")},
)
