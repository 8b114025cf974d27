"""Super-resolution: paired data, SRResNet/RRDB/VGG-style networks, pixel and perceptual losses, PSNR/SSIM/LPIPS, `upscale` and `interpolate-weights`.

One plugin: the hooks of its modules, called in the order listed here."""

from ganforge.hookspecs import combine
from ganforge_builtins.superres import commands, data, losses, metrics, networks

plugin = combine(data, networks, losses, metrics, commands)
