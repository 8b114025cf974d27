"""StyleGAN generator and discriminator (Karras et al., 2019 and 2020): a mapping network to W,
per-layer styles through AdaIN or modulated convolutions, per-pixel noise, style mixing,
truncation in W and optional progressive growing; a residual discriminator with minibatch
standard deviation, conditional by projection."""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge import Discriminator, Generator, GeneratorOutput, hookimpl
from ganforge.errors import GanforgeError
from ganforge.types import NonNegativeInt, PositiveInt, Probability, UnitInterval
from ganforge_builtins.networks.conditioning import classes_or_none, require_labels
from ganforge_builtins.stylegan._layers import (
    EqualConv2d,
    EqualLinear,
    NoiseInput,
    Progression,
    Resample,
    adain,
    downsample,
    lrelu,
    minibatch_stddev,
    modulated_conv2d,
    resolutions_for,
    upsample,
)

Style = Literal["adain", "modulated"]
#: coarse styles act up to 8x8, fine ones from 64x64 (the paper's split); see ``style_groups``.
COARSE_MAX, FINE_MIN = 8, 64


def channels_at(width: int, resolution: int) -> int:
    """Feature channels at a resolution: ``width`` up to 32x32, halved at every doubling above."""
    return max(8, min(width, width * 32 // resolution))


def normalize_2nd_moment(x: Tensor, eps: float = 1e-8) -> Tensor:
    """Rows scaled to unit mean square (the mapping network's input normalisation)."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class MappingNetwork(nn.Module):
    """z (and a class embedding) -> w: an MLP of equalised, slowed-down (``lr_mul``) layers."""

    def __init__(self, latent_dim: int, w_dim: int, num_layers: int, lr_mul: float, num_classes: int | None) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.embed = EqualLinear(num_classes, w_dim) if num_classes else None
        features = [latent_dim + (w_dim if num_classes else 0)] + [w_dim] * num_layers
        self.layers = nn.ModuleList(EqualLinear(a, b, lr_mul=lr_mul, activate=True) for a, b in zip(features[:-1], features[1:]))

    def forward(self, z: Tensor, labels: Tensor | None) -> Tensor:
        x = normalize_2nd_moment(z)
        if self.embed is not None and labels is not None:
            one_hot = F.one_hot(labels, int(self.num_classes or 0)).to(z.dtype)
            x = torch.cat([x, normalize_2nd_moment(self.embed(one_hot))], dim=1)
        for layer in self.layers:
            x = layer(x)
        return x


class SynthesisLayer(nn.Module):
    """One styled layer: [upsample] conv (modulated, or plain then AdaIN), noise, bias, leaky ReLU.

    ``conv=False`` is StyleGAN 1's first layer, which styles the learned constant directly.
    """

    def __init__(
        self, in_channels: int, out_channels: int, w_dim: int, resolution: int, style: Style, up: bool, conv: bool = True, resample: Resample = "bilinear"
    ) -> None:
        super().__init__()
        self.style, self.up, self.conv, self.resample = style, up, conv, resample
        self.noise = NoiseInput(out_channels, resolution)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        if style == "modulated":
            self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
            self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        else:
            self.plain = EqualConv2d(in_channels, out_channels, 3, bias=False) if conv else None
            self.affine = EqualLinear(w_dim, 2 * out_channels)
            with torch.no_grad():
                self.affine.bias[:out_channels] = 1.0  # scale 1, shift 0 at initialisation

    def forward(self, x: Tensor, w: Tensor, noise: Tensor | None = None) -> Tensor:
        if self.up:
            x = upsample(x, self.resample)
        styles = self.affine(w)
        if self.style == "modulated":
            x = modulated_conv2d(x, self.weight, styles)
        elif self.plain is not None:
            x = self.plain(x)
        x = lrelu(self.noise(x, noise) + self.bias.to(x.dtype).view(1, -1, 1, 1))
        if self.style == "adain":
            scale, shift = styles.chunk(2, dim=1)
            x = adain(x, scale, shift)
        return x


class ToRGB(nn.Module):
    """Feature map -> image: a modulated 1x1 convolution without demodulation (StyleGAN 2), or
    a plain one (StyleGAN 1)."""

    def __init__(self, in_channels: int, image_channels: int, w_dim: int, style: Style) -> None:
        super().__init__()
        self.style = style
        if style == "modulated":
            self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
            self.weight = nn.Parameter(torch.randn(image_channels, in_channels, 1, 1))
            self.bias = nn.Parameter(torch.zeros(image_channels))
            self.weight_gain = 1.0 / math.sqrt(in_channels)
        else:
            self.conv = EqualConv2d(in_channels, image_channels, 1)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        if self.style == "modulated":
            x = modulated_conv2d(x, self.weight, self.affine(w) * self.weight_gain, demodulate=False)
            return x + self.bias.to(x.dtype).view(1, -1, 1, 1)
        return self.conv(x)


class StyleGANGenerator(Generator):
    """StyleGAN generator: mapping network to W, learned constant, per-layer styles (AdaIN or modulated convs), noise.

    ``style: adain`` is StyleGAN 1 (AdaIN after every convolution, one output layer);
    ``style: modulated`` is StyleGAN 2 (weight modulation and demodulation, skip outputs: an
    RGB output per resolution, upsampled and summed). Every layer has equalised learning
    rate. Two styles per resolution; ``forward`` takes z ``(N, latent_dim)`` or w+
    ``(N, num_ws, w_dim)`` directly (what :meth:`truncate` and :meth:`map_latent` return).

    In training mode it tracks the running mean of w (per class when conditional), mixes
    styles (with probability ``mixing_prob`` the layers from a random crossover on take w
    of a second latent), draws fresh noise, and returns the per-layer ``ws`` beside the
    samples (``batch.fake_extras["ws"]``, for ``path-length``). In eval mode noise is a
    fixed image per layer and samples are clamped to [-1, 1], as the reference exports them.

    Args:
        image_shape: (channels, size, size) from the dataset; size 28 (7x7 constant) or a power of two from 4 to 1024.
        latent_dim: size of the Gaussian latent z.
        w_dim: size of the intermediate latent w (and of the class embedding).
        mapping_layers: fully connected layers of the mapping network (8 in the paper).
        mapping_lr_mul: learning-rate multiplier of the mapping network (0.01 in the paper).
        width: feature channels up to 32x32 (halved at every doubling above).
        style: ``adain`` (StyleGAN 1) or ``modulated`` (StyleGAN 2).
        num_classes: make the generator class-conditional (a class embedding fed to the mapping network).
        mixing_prob: probability of style mixing for a training batch (0.9 in the paper; 0 turns it off).
        w_avg_beta: decay of the running mean of w that truncation pulls towards.
        truncation_cutoff: truncation applies to the first this many style layers; null for all.
        progressive: progressive growing, ``{start: resolution, fade_steps: N, stable_steps: N}``; null trains at full resolution.
        resample: ``bilinear`` (the default, as runs before it had) or ``fir``: the reference's
            [1, 3, 3, 1] FIR filter (upfirdn2d) for every 2x upsampling, zero-padded at the border.
    """

    w_avg: Tensor

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        latent_dim: PositiveInt = 128,
        w_dim: PositiveInt = 128,
        mapping_layers: PositiveInt = 8,
        mapping_lr_mul: float = 0.01,
        width: PositiveInt = 64,
        style: Style = "adain",
        num_classes: NonNegativeInt | None = None,
        mixing_prob: Probability = 0.9,
        w_avg_beta: UnitInterval = 0.995,
        truncation_cutoff: int | None = None,
        progressive: dict[str, int] | None = None,
        resample: Resample = "bilinear",
    ) -> None:
        super().__init__()
        if len(image_shape) != 3 or image_shape[1] != image_shape[2]:
            raise ValueError(f"StyleGAN generates square images, got image_shape {tuple(image_shape)}")
        self.resample: Resample = resample
        self.image_shape = tuple(image_shape)
        self.latent_dim, self.w_dim, self.style = latent_dim, w_dim, style
        self.num_classes = classes_or_none(num_classes)
        self.mixing_prob, self.w_avg_beta = mixing_prob, w_avg_beta
        self.resolutions = resolutions_for(image_shape[1])
        self.progression = Progression(self.resolutions, progressive)
        self.level, self.alpha = self.progression.at(0)
        self.mapping = MappingNetwork(latent_dim, w_dim, mapping_layers, mapping_lr_mul, self.num_classes)
        self.register_buffer("w_avg", torch.zeros(self.num_classes or 1, w_dim))

        channels = [channels_at(width, r) for r in self.resolutions]
        self.const = nn.Parameter(torch.randn(channels[0], self.resolutions[0], self.resolutions[0]))
        self.blocks = nn.ModuleList()
        for i, (r, c) in enumerate(zip(self.resolutions, channels)):
            if i == 0:
                layers = [SynthesisLayer(c, c, w_dim, r, style, up=False, conv=False)] if style == "adain" else []
                layers.append(SynthesisLayer(c, c, w_dim, r, style, up=False))
            else:
                layers = [SynthesisLayer(channels[i - 1], c, w_dim, r, style, up=True, resample=resample), SynthesisLayer(c, c, w_dim, r, style, up=False)]
            self.blocks.append(nn.ModuleList(layers))
        # StyleGAN 2 outputs at every resolution (skips); StyleGAN 1 only at the last, or at each
        # when growing progressively (the previous resolution's output fades out).
        every = style == "modulated" or self.progression.enabled
        self.to_rgb = nn.ModuleDict(
            {str(r): ToRGB(c, image_shape[0], w_dim, style) for i, (r, c) in enumerate(zip(self.resolutions, channels)) if every or i == len(channels) - 1}
        )
        self.num_ws = 2 * len(self.resolutions)
        self.truncation_cutoff = self.num_ws if truncation_cutoff is None else truncation_cutoff
        if not 0 <= self.truncation_cutoff <= self.num_ws:
            raise ValueError(f"truncation_cutoff must lie in 0..{self.num_ws} (the number of style layers), got {truncation_cutoff}")

    # ---- the documented extras: what sampling, the CLI and metrics ask for -------------------
    def map_latent(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """z ``(N, latent_dim)`` -> w+ ``(N, num_ws, w_dim)``: the mapping network's w, one copy per
        style layer (no mixing, no running-mean update); ``forward`` accepts the result."""
        labels = require_labels(labels, self.num_classes, z.shape[0], "stylegan generator")
        return self.mapping(z, labels).unsqueeze(1).repeat(1, self.num_ws, 1)

    def style_groups(self) -> dict[str, range]:
        """The style layers (indices into w+) of the coarse, middle and fine resolutions, for
        style-mixing figures: coarse up to 8x8, fine from 64x64 (the paper's split), and for
        images below 64x64 the last resolution is "fine". A group may be empty."""
        last = len(self.resolutions) - 1
        kinds = ["coarse" if r <= COARSE_MAX or i == 0 else "fine" if r >= FINE_MIN or i == last else "middle" for i, r in enumerate(self.resolutions)]
        return {g: range(2 * kinds.index(g), 2 * (len(kinds) - kinds[::-1].index(g))) if g in kinds else range(0) for g in ("coarse", "middle", "fine")}

    def truncate(self, latent: Tensor, psi: float, generator: torch.Generator | None = None, labels: Tensor | None = None) -> Tensor:
        """The truncation trick in W: w+ ``(N, num_ws, w_dim)`` with w pulled towards the running
        mean of w (of each sample's class when conditional), ``w_avg + psi (w - w_avg)``, on the
        first ``truncation_cutoff`` layers. ``psi`` = 1 is the identity, 0 the mean image.
        Takes z or w+; not differentiable."""
        if not math.isfinite(psi):
            raise GanforgeError(f"truncation must be a finite number (e.g. 0.7), got {psi}")
        device = self.w_avg.device
        labels = None if labels is None else labels.to(device)
        with torch.no_grad():
            ws = latent.to(device).clone() if latent.ndim == 3 else self.map_latent(latent.to(device), labels)
            avg = (self.w_avg[labels] if self.num_classes and labels is not None else self.w_avg[:1]).unsqueeze(1)
            cut = self.truncation_cutoff
            ws[:, :cut] = avg + psi * (ws[:, :cut] - avg)
        return ws

    def noise_inputs(self) -> list[NoiseInput]:
        """The per-pixel noise layers in the order :meth:`synthesis` takes explicit noise."""
        return [layer.noise for block in self.blocks for layer in block]  # type: ignore[union-attr]

    def noise_variations(self, latent: Tensor, labels: Tensor | None, draws: int, generator: torch.Generator | None = None) -> Tensor:
        """Samples ``(N, draws, *image_shape)``: each latent (z or w+) with ``draws`` different
        draws of the per-pixel noise from ``generator``, everything else fixed; for the
        stochastic-variation figure."""
        device = self.w_avg.device
        ws = latent.to(device) if latent.ndim == 3 else self.map_latent(latent.to(device), None if labels is None else labels.to(device))
        images = []
        for _ in range(draws):
            noise = [torch.randn(ws.shape[0], 1, n.resolution, n.resolution, generator=generator).to(device) for n in self.noise_inputs()]
            images.append(self.synthesis(ws, noise).clamp(-1, 1))
        return torch.stack(images, dim=1)

    # ---- training progress --------------------------------------------------------------
    def set_step(self, step: int) -> None:
        """Progressive growing: the resolution and fade-in alpha after ``step`` steps."""
        self.level, self.alpha = self.progression.at(step)

    # ---- forward ------------------------------------------------------------------------
    def synthesis(self, ws: Tensor, noise: list[Tensor] | None = None) -> Tensor:
        """w+ -> images at full size, at the current progressive level (bilinearly upsampled when lower);
        ``noise`` optionally gives every noise layer's input (see :meth:`noise_inputs`)."""
        n = ws.shape[0]
        x = self.const.to(ws.dtype).unsqueeze(0).expand(n, -1, -1, -1)
        noises = iter(noise) if noise is not None else None
        image: Tensor | None = None
        previous: Tensor | None = None
        index = 0
        for i, block in enumerate(self.blocks):
            if i > self.level:
                break
            for layer in block:
                x = layer(x, ws[:, index], None if noises is None else next(noises))
                index += 1
            fading = i == self.level and self.alpha < 1.0 and i > 0
            key = str(self.resolutions[i])
            if self.style == "modulated":
                rgb = self.to_rgb[key](x, ws[:, min(index, self.num_ws - 1)])
                image = rgb if image is None else upsample(image, self.resample) + (self.alpha * rgb if fading else rgb)
            elif i == self.level:
                image = self.to_rgb[key](x, ws[:, index - 1])
                if fading and previous is not None:
                    image = torch.lerp(upsample(previous, self.resample), image, self.alpha)
            elif i == self.level - 1 and self.alpha < 1.0:
                previous = self.to_rgb[key](x, ws[:, index - 1])
        assert image is not None
        while image.shape[-1] < self.image_shape[1]:  # a lower progressive level: the same upsampling the skips use,
            image = upsample(image, self.resample)  # so the output is continuous when the next resolution starts fading in
        return image

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor | GeneratorOutput:
        labels = require_labels(labels, self.num_classes, z.shape[0], "stylegan generator")
        if z.ndim == 3:
            ws = z
        else:
            w = self.mapping(z, labels)
            if self.training:
                self._track_mean(w.detach(), labels)
            ws = w.unsqueeze(1).repeat(1, self.num_ws, 1)
            if self.training and self.mixing_prob > 0 and float(torch.rand(())) < self.mixing_prob:
                cutoff = int(torch.randint(1, self.num_ws, ()))
                second = self.mapping(torch.randn_like(z), labels).unsqueeze(1).repeat(1, self.num_ws - cutoff, 1)
                ws = torch.cat([ws[:, :cutoff], second], dim=1)
        images = self.synthesis(ws)
        if self.training:
            return GeneratorOutput(images, {"ws": ws})
        return images.clamp(-1, 1)

    def _track_mean(self, w: Tensor, labels: Tensor | None) -> None:
        """w_avg <- lerp(batch mean of w, w_avg, beta), per class present when conditional."""
        with torch.no_grad():
            w = w.float()
            if labels is None or not self.num_classes:
                self.w_avg.copy_(torch.lerp(w.mean(dim=0, keepdim=True), self.w_avg, self.w_avg_beta))
                return
            sums = torch.zeros_like(self.w_avg).index_add_(0, labels, w)
            counts = torch.bincount(labels, minlength=self.num_classes).to(w.dtype).unsqueeze(1)
            updated = torch.lerp(sums / counts.clamp_min(1), self.w_avg, self.w_avg_beta)
            self.w_avg.copy_(torch.where(counts > 0, updated, self.w_avg))


class DiscriminatorBlock(nn.Module):
    """Residual block: conv-lrelu, conv-lrelu, downsample; plus a downsampled 1x1 skip; sum
    times sqrt(1/2) (StyleGAN 2's resnet discriminator)."""

    def __init__(self, in_channels: int, out_channels: int, resample: Resample = "bilinear") -> None:
        super().__init__()
        self.resample: Resample = resample
        self.conv0 = EqualConv2d(in_channels, in_channels, 3)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        skip = self.skip(downsample(x, self.resample))
        h = downsample(lrelu(self.conv1(lrelu(self.conv0(x)))), self.resample)
        return (h + skip) * math.sqrt(0.5)


class StyleGANDiscriminator(Discriminator):
    """StyleGAN 2 residual discriminator: equalised learning rate, minibatch std, projection when conditional.

    From-RGB 1x1 convolution, residual downsampling blocks down to 4x4 (7x7 for 28x28), then
    a minibatch standard-deviation feature, a 3x3 convolution and two fully connected
    layers. Conditional by projection (Miyato & Koyama, 2018): the score adds the inner
    product of the last features with a class embedding. With ``progressive`` it follows the
    same schedule as the generator: images are average-pooled to the current resolution and
    the new block fades in with alpha.

    Args:
        image_shape: (channels, size, size) from the dataset; size 28 or a power of two from 4 to 1024.
        width: feature channels up to 32x32 (halved at every doubling above).
        num_classes: make the discriminator class-conditional (projection of a class embedding).
        mbstd_group: samples per minibatch standard-deviation group (fewer when the batch does not divide).
        progressive: progressive growing, ``{start: resolution, fade_steps: N, stable_steps: N}``, as the generator's; null for none.
        resample: ``bilinear`` (average pooling, the default) or ``fir``: the reference's [1, 3, 3, 1]
            FIR filter (upfirdn2d) for every 2x downsampling.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        width: PositiveInt = 64,
        num_classes: NonNegativeInt | None = None,
        mbstd_group: PositiveInt = 4,
        progressive: dict[str, int] | None = None,
        resample: Resample = "bilinear",
    ) -> None:
        super().__init__()
        self.resample: Resample = resample
        if len(image_shape) != 3 or image_shape[1] != image_shape[2]:
            raise ValueError(f"StyleGAN's discriminator takes square images, got image_shape {tuple(image_shape)}")
        self.image_shape = tuple(image_shape)
        self.num_classes = classes_or_none(num_classes)
        self.mbstd_group = mbstd_group
        self.resolutions = resolutions_for(image_shape[1])
        self.progression = Progression(self.resolutions, progressive)
        self.level, self.alpha = self.progression.at(0)
        channels = {r: channels_at(width, r) for r in self.resolutions}
        rgb_at = self.resolutions if self.progression.enabled else self.resolutions[-1:]
        self.from_rgb = nn.ModuleDict({str(r): EqualConv2d(image_shape[0], channels[r], 1) for r in rgb_at})
        self.blocks = nn.ModuleDict({str(r): DiscriminatorBlock(channels[r], channels[r // 2], resample) for r in self.resolutions[1:]})
        base, c = self.resolutions[0], channels[self.resolutions[0]]
        self.conv = EqualConv2d(c + 1, c, 3)
        self.fc = EqualLinear(c * base * base, c, activate=True)
        self.out = EqualLinear(c, 1)
        self.embed = EqualLinear(self.num_classes, c) if self.num_classes else None

    def set_step(self, step: int) -> None:
        """Progressive growing: the resolution and fade-in alpha after ``step`` steps."""
        self.level, self.alpha = self.progression.at(step)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        labels = require_labels(labels, self.num_classes, images.shape[0], "stylegan discriminator")
        size = images.shape[-1]
        r = self.resolutions[self.level]
        x = images if r == size else F.avg_pool2d(images, size // r)
        h = lrelu(self.from_rgb[str(r)](x))
        for i in range(self.level, 0, -1):
            h = self.blocks[str(self.resolutions[i])](h)
            if i == self.level and self.alpha < 1.0:
                low = lrelu(self.from_rgb[str(self.resolutions[i - 1])](downsample(x, self.resample)))
                h = torch.lerp(low, h, self.alpha)
        h = lrelu(self.conv(minibatch_stddev(h, self.mbstd_group)))
        h = self.fc(h.flatten(1))
        scores = self.out(h).flatten()
        if self.embed is not None and labels is not None:
            projection = self.embed(F.one_hot(labels, int(self.num_classes or 0)).to(h.dtype))
            scores = scores + (projection * h).sum(dim=1) / math.sqrt(h.shape[1])
        return scores


@hookimpl
def register_generators(register):
    register("stylegan", StyleGANGenerator)


@hookimpl
def register_discriminators(register):
    register("stylegan", StyleGANDiscriminator)
