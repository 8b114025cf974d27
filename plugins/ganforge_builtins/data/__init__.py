"""Datasets: MNIST/Fashion-MNIST, CIFAR-10, image folders, synthetic images, toy 2-D mixtures and scikit-image's photographs.

One plugin: the hooks of its modules, called in the order listed here."""

from ganforge.hookspecs import combine
from ganforge_builtins.data import cifar10, idx, image_folder, skimage_photos, synthetic, toy2d

plugin = combine(idx, synthetic, cifar10, image_folder, toy2d, skimage_photos)
