"""Feature extractors: FID Inception-v3, torchvision Inception-v3, DINOv2/CLIP vision transformers, VGG19 and LPIPS-VGG16.

One plugin: its modules register in the order listed here, each imported only when
a hook needs it (``ganforge --help`` imports none of them)."""

from ganforge.hookspecs import family

plugin = family(__name__, "inception", "lpips", "vgg", "vit")
