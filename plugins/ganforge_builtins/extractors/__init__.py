"""Feature extractors: FID Inception-v3, torchvision Inception-v3, DINOv2/CLIP vision transformers, VGG19 and LPIPS-VGG16.

One plugin: the hooks of its modules, called in the order listed here."""

from ganforge.hookspecs import combine
from ganforge_builtins.extractors import inception, lpips, vgg, vit

plugin = combine(inception, vit, vgg, lpips)
