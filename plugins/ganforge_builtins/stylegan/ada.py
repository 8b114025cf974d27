"""StyleGAN2 as NVIDIA's stylegan2-ada-pytorch builds it (config ``stylegan2`` / ``paper256``
and relatives): the generator with skip outputs and the residual (or plain) discriminator,
layer for layer and name for name, so ``ganforge import stylegan2-ada`` loads a published
``network-snapshot-*.pkl`` with its keys unchanged and reproduces its images.

Differences from the ``stylegan`` generator: FIR [1, 3, 3, 1] resampling (upfirdn2d) instead of
bilinear, one scalar noise strength per layer, the activation clamp (``conv_clamp``), the
channel rule ``min(channel_base / resolution, channel_max)``, one w_avg for all classes, and
one-hot labels through a fully connected embedding. Everything runs in float32 (the
reference's float16 layers, which only exist on GPUs, are computed in float32: the
reference's ``force_fp32``).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge import Discriminator, Generator, GeneratorOutput, hookimpl
from ganforge.errors import GanforgeError
from ganforge.types import NonNegativeInt, PositiveInt, Probability
from ganforge_builtins.networks.conditioning import classes_or_none, require_labels
from ganforge_builtins.stylegan._ops import Activation, bias_act, conv2d_resample, modulated_conv2d, normalize_2nd_moment, setup_filter, upsample2d

NoiseMode = Literal["random", "const", "none"]


class FullyConnectedLayer(nn.Module):
    """A linear layer with equalised learning rate (``lr_multiplier``) and :func:`bias_act`."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, activation: Activation = "linear", lr_multiplier: float = 1.0, bias_init: float = 0.0) -> None:
        super().__init__()
        self.activation: Activation = activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: Tensor) -> Tensor:
        bias = self.bias * self.bias_gain if self.bias is not None else None
        return bias_act(x.matmul((self.weight * self.weight_gain).to(x.dtype).t()), bias, self.activation)


class Conv2dLayer(nn.Module):
    """A convolution with equalised learning rate, optional 2x FIR resampling, bias, activation and clamp."""

    resample_filter: Tensor

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True, activation: Activation = "linear",
        up: int = 1, down: int = 1, conv_clamp: float | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.activation: Activation = activation
        self.up, self.down, self.conv_clamp = up, down, conv_clamp
        self.register_buffer("resample_filter", setup_filter())
        self.padding = kernel_size // 2
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x: Tensor, gain: float = 1.0) -> Tensor:
        x = conv2d_resample(x, (self.weight * self.weight_gain).to(x.dtype), self.resample_filter, self.up, self.down, self.padding)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias, self.activation, gain=gain, clamp=clamp)


class MappingNetwork(nn.Module):
    """z and one-hot labels -> w (broadcast to ``num_ws`` copies); the running mean ``w_avg``."""

    w_avg: Tensor

    def __init__(
        self, z_dim: int, c_dim: int, w_dim: int, num_ws: int | None, num_layers: int = 8, embed_features: int | None = None,
        layer_features: int | None = None, lr_multiplier: float = 0.01, w_avg_beta: float | None = 0.995,
    ) -> None:  # fmt: skip
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws, self.num_layers, self.w_avg_beta = z_dim, c_dim, w_dim, num_ws, num_layers, w_avg_beta
        embed_features = 0 if c_dim == 0 else w_dim if embed_features is None else embed_features
        layer_features = w_dim if layer_features is None else layer_features
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for i in range(num_layers):
            self.add_module(f"fc{i}", FullyConnectedLayer(features[i], features[i + 1], activation="lrelu", lr_multiplier=lr_multiplier))
        if num_ws is not None and w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: Tensor | None, c: Tensor | None, update_w_avg: bool = False) -> Tensor:
        parts = []
        if self.z_dim > 0 and z is not None:
            parts.append(normalize_2nd_moment(z.float()))
        if self.c_dim > 0 and c is not None:
            parts.append(normalize_2nd_moment(self.embed(c.float())))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        if update_w_avg and self.w_avg_beta is not None:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        return x.unsqueeze(1).repeat(1, self.num_ws, 1) if self.num_ws is not None else x


class SynthesisLayer(nn.Module):
    """A modulated 3x3 convolution (upsampling 2x when ``up``), noise, bias, lrelu and clamp."""

    resample_filter: Tensor
    noise_const: Tensor

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: int = 1, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.resolution, self.up, self.conv_clamp = resolution, up, conv_clamp
        self.register_buffer("resample_filter", setup_filter())
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor, noise_mode: NoiseMode = "const", gain: float = 1.0) -> Tensor:
        styles = self.affine(w)
        noise = None
        if noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device) * self.noise_strength
        elif noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        x = modulated_conv2d(x, self.weight, styles, self.resample_filter, up=self.up, padding=1, noise=noise)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias, "lrelu", gain=gain, clamp=clamp)


class ToRGBLayer(nn.Module):
    """A modulated 1x1 convolution without demodulation, bias and clamp."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        x = modulated_conv2d(x, self.weight, self.affine(w) * self.weight_gain, demodulate=False)
        return bias_act(x, self.bias, clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution of the skip generator: [const], conv0 (up), conv1, toRGB added to the upsampled image."""

    resample_filter: Tensor

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int, conv_clamp: float | None) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.register_buffer("resample_filter", setup_filter())
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2, conv_clamp=conv_clamp)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp)
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
        self.num_conv = 1 if in_channels == 0 else 2

    def forward(self, x: Tensor | None, img: Tensor | None, ws: Tensor, noise_mode: NoiseMode) -> tuple[Tensor, Tensor]:
        if x is None:
            x = self.const.unsqueeze(0).repeat(ws.shape[0], 1, 1, 1)
            x = self.conv1(x, ws[:, 0], noise_mode)
        else:
            x = self.conv0(x, ws[:, 0], noise_mode)
            x = self.conv1(x, ws[:, 1], noise_mode)
        y = self.torgb(x, ws[:, self.num_conv]).float()
        img = upsample2d(img, self.resample_filter) + y if img is not None else y
        return x, img


def channels(channel_base: int, channel_max: int, resolution: int) -> int:
    """Feature channels at a resolution (the reference's rule)."""
    return min(channel_base // resolution, channel_max)


class SynthesisNetwork(nn.Module):
    """w+ -> image: one :class:`SynthesisBlock` per resolution from 4x4 (blocks ``b4``, ``b8``, ...)."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channel_base: int, channel_max: int, conv_clamp: float | None) -> None:
        super().__init__()
        self.block_resolutions = [2**i for i in range(2, int(math.log2(img_resolution)) + 1)]
        self.num_ws = 0
        for res in self.block_resolutions:
            in_channels = channels(channel_base, channel_max, res // 2) if res > 4 else 0
            block = SynthesisBlock(in_channels, channels(channel_base, channel_max, res), w_dim, res, img_channels, conv_clamp)
            self.num_ws += block.num_conv
            self.add_module(f"b{res}", block)
        self.num_ws += 1  # the last toRGB's

    def forward(self, ws: Tensor, noise_mode: NoiseMode = "const") -> Tensor:
        ws = ws.float()
        x: Tensor | None = None
        img: Tensor | None = None
        index = 0
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            x, img = block(x, img, ws[:, index : index + block.num_conv + 1], noise_mode)
            index += block.num_conv
        assert img is not None
        return img


def _check_image_shape(image_shape: tuple[int, ...], who: str) -> tuple[int, int]:
    if len(image_shape) != 3 or image_shape[1] != image_shape[2] or image_shape[1] < 4 or image_shape[1] & (image_shape[1] - 1):
        raise ValueError(f"{who} takes square images with a power-of-two side >= 4, got image_shape {tuple(image_shape)}")
    return int(image_shape[0]), int(image_shape[1])


class StyleGAN2ADAGenerator(Generator):
    """StyleGAN2 generator of NVIDIA's stylegan2-ada-pytorch, name for name: FIR resampling, skip outputs, activation clamp.

    The network ``ganforge import stylegan2-ada`` loads published pickles into; trainable
    like any generator. ``forward`` takes z ``(N, latent_dim)`` (and class indices when
    conditional, fed one-hot as the reference's ``c``) or w+ ``(N, num_ws, w_dim)``. In
    training mode it updates ``w_avg``, mixes styles with probability ``mixing_prob`` (as the
    reference's loss does) and draws fresh noise, returning the per-layer ``ws`` beside the
    images; in eval mode noise is each layer's ``noise_const`` (the reference's
    ``noise_mode='const'``) and images are clamped to [-1, 1].

    Args:
        image_shape: (channels, size, size) from the dataset; size a power of two from 4.
        latent_dim: z's size (the reference's z_dim).
        w_dim: w's size.
        num_classes: class-conditional with this many classes (the reference's c_dim).
        mapping_layers: fully connected layers of the mapping network.
        mapping_lr_mul: learning-rate multiplier of the mapping network.
        embed_features: size of the label embedding (default w_dim).
        layer_features: width of the mapping layers (default w_dim).
        channel_base: channels at a resolution are min(channel_base / resolution, channel_max).
        channel_max: the most channels of any layer.
        conv_clamp: clamp every convolution's output to +-this (256 in the reference's configs); null for none.
        w_avg_beta: decay of the running mean of w.
        mixing_prob: probability of style mixing for a training batch.
        truncation_cutoff: truncation applies to the first this many ws; null for all.
    """

    def __init__(
        self, image_shape: tuple[int, int, int], latent_dim: PositiveInt = 512, w_dim: PositiveInt = 512, num_classes: NonNegativeInt | None = None,
        mapping_layers: PositiveInt = 8, mapping_lr_mul: float = 0.01, embed_features: int | None = None, layer_features: int | None = None,
        channel_base: PositiveInt = 32768, channel_max: PositiveInt = 512, conv_clamp: float | None = None, w_avg_beta: float = 0.995,
        mixing_prob: Probability = 0.9, truncation_cutoff: int | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        img_channels, resolution = _check_image_shape(image_shape, "stylegan2-ada")
        self.image_shape = (img_channels, resolution, resolution)
        self.latent_dim, self.w_dim, self.mixing_prob = latent_dim, w_dim, mixing_prob
        self.num_classes = classes_or_none(num_classes)
        self.synthesis = SynthesisNetwork(w_dim, resolution, img_channels, channel_base, channel_max, conv_clamp)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(
            latent_dim, self.num_classes or 0, w_dim, self.num_ws, mapping_layers, embed_features, layer_features, mapping_lr_mul, w_avg_beta
        )
        self.truncation_cutoff = self.num_ws if truncation_cutoff is None else truncation_cutoff
        if not 0 <= self.truncation_cutoff <= self.num_ws:
            raise ValueError(f"truncation_cutoff must lie in 0..{self.num_ws} (the number of ws), got {truncation_cutoff}")

    def _c(self, labels: Tensor | None, like: Tensor) -> Tensor | None:
        return F.one_hot(labels, int(self.num_classes)).to(like.dtype) if self.num_classes and labels is not None else None

    def map_latent(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """z -> w+ ``(N, num_ws, w_dim)`` without truncation or a w_avg update."""
        labels = require_labels(labels, self.num_classes, z.shape[0], "stylegan2-ada generator")
        return self.mapping(z, self._c(labels, z))

    def truncate(self, latent: Tensor, psi: float, generator: torch.Generator | None = None, labels: Tensor | None = None) -> Tensor:
        """The truncation trick in W as the reference applies it: ``w_avg.lerp(w, psi)`` on
        the first ``truncation_cutoff`` ws. Takes z or w+; not differentiable."""
        if not math.isfinite(psi):
            raise GanforgeError(f"truncation must be a finite number (e.g. 0.7), got {psi}")
        device = self.mapping.w_avg.device
        with torch.no_grad():
            ws = latent.to(device).clone() if latent.ndim == 3 else self.map_latent(latent.to(device), None if labels is None else labels.to(device))
            cut = self.truncation_cutoff
            ws[:, :cut] = self.mapping.w_avg.lerp(ws[:, :cut], psi)
        return ws

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor | GeneratorOutput:
        labels = require_labels(labels, self.num_classes, z.shape[0], "stylegan2-ada generator")
        if z.ndim == 3:
            ws = z
        else:
            c = self._c(labels, z)
            ws = self.mapping(z, c, update_w_avg=self.training)
            if self.training and self.mixing_prob > 0 and float(torch.rand(())) < self.mixing_prob:
                cutoff = int(torch.randint(1, self.num_ws, ()))
                ws = torch.cat([ws[:, :cutoff], self.mapping(torch.randn_like(z), c)[:, cutoff:]], dim=1)
        images = self.synthesis(ws, "random" if self.training else "const")
        if self.training:
            return GeneratorOutput(images, {"ws": ws})
        return images.clamp(-1, 1)


class DiscriminatorBlock(nn.Module):
    """One resolution of the discriminator: [fromRGB], conv0, conv1 (down), and a 1x1 skip (resnet)."""

    resample_filter: Tensor

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, img_channels: int, architecture: str, conv_clamp: float | None) -> None:
        super().__init__()
        self.in_channels, self.architecture = in_channels, architecture
        self.register_buffer("resample_filter", setup_filter())
        if in_channels == 0:
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, 1, activation="lrelu", conv_clamp=conv_clamp)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, activation="lrelu", conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, activation="lrelu", down=2, conv_clamp=conv_clamp)
        if architecture == "resnet":
            self.skip = Conv2dLayer(tmp_channels, out_channels, 1, bias=False, down=2)

    def forward(self, x: Tensor | None, img: Tensor) -> Tensor:
        if x is None:
            x = self.fromrgb(img.float())
        if self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            return y + self.conv1(self.conv0(x), gain=math.sqrt(0.5))
        return self.conv1(self.conv0(x))


class MinibatchStdLayer(nn.Module):
    """Appends the standard deviation over groups of samples, averaged per feature group."""

    def __init__(self, group_size: int | None, num_channels: int = 1) -> None:
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        group = math.gcd(n, self.group_size) if self.group_size is not None else n  # the reference's min(group_size, N) wherever that divides N
        f = self.num_channels
        y = x.reshape(group, -1, f, c // f, h, w)
        y = ((y - y.mean(dim=0)).square().mean(dim=0) + 1e-8).sqrt()
        y = y.mean(dim=(2, 3, 4)).reshape(-1, f, 1, 1).repeat(group, 1, h, w)
        return torch.cat([x, y], dim=1)


class DiscriminatorEpilogue(nn.Module):
    """4x4: minibatch std, conv, fully connected, output (projected on the mapped label when conditional)."""

    def __init__(self, in_channels: int, cmap_dim: int, mbstd_group_size: int | None, mbstd_num_channels: int, conv_clamp: float | None) -> None:
        super().__init__()
        self.cmap_dim = cmap_dim
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if mbstd_num_channels > 0 else None
        self.conv = Conv2dLayer(in_channels + mbstd_num_channels, in_channels, 3, activation="lrelu", conv_clamp=conv_clamp)
        self.fc = FullyConnectedLayer(in_channels * 16, in_channels, activation="lrelu")
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, x: Tensor, cmap: Tensor | None) -> Tensor:
        x = self.mbstd(x.float()) if self.mbstd is not None else x.float()
        x = self.out(self.fc(self.conv(x).flatten(1)))
        if cmap is not None:
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / math.sqrt(self.cmap_dim))
        return x


class StyleGAN2ADADiscriminator(Discriminator):
    """StyleGAN2 discriminator of NVIDIA's stylegan2-ada-pytorch, name for name: residual (or plain) blocks with FIR downsampling.

    Blocks from the image resolution down to 8x8 (``b{res}``), then the 4x4 epilogue
    (``b4``): minibatch standard deviation, a convolution and two fully connected layers.
    Conditional by projection on the labels mapped by its own mapping network.

    Args:
        image_shape: (channels, size, size) from the dataset.
        num_classes: class-conditional with this many classes.
        architecture: ``resnet`` (the reference's default) or ``orig`` (no skips; its cifar config).
        channel_base: channels at a resolution are min(channel_base / resolution, channel_max).
        channel_max: the most channels of any layer.
        conv_clamp: clamp every convolution's output to +-this; null for none.
        cmap_dim: size of the mapped label (default: the 4x4 channels).
        mbstd_group_size: samples per minibatch-std group (fewer when the batch does not divide).
        mbstd_num_channels: minibatch-std features (0 for none).
        mapping_layers: layers of the label mapping network.
        mapping_lr_mul: its learning-rate multiplier.
    """

    def __init__(
        self, image_shape: tuple[int, int, int], num_classes: NonNegativeInt | None = None, architecture: Literal["resnet", "orig"] = "resnet",
        channel_base: int = 32768, channel_max: int = 512, conv_clamp: float | None = None, cmap_dim: int | None = None,
        mbstd_group_size: int | None = 4, mbstd_num_channels: int = 1, mapping_layers: int = 8, mapping_lr_mul: float = 0.01,
    ) -> None:  # fmt: skip
        super().__init__()
        img_channels, resolution = _check_image_shape(image_shape, "stylegan2-ada discriminator")
        self.image_shape = (img_channels, resolution, resolution)
        self.num_classes = classes_or_none(num_classes)
        self.block_resolutions = [2**i for i in range(int(math.log2(resolution)), 2, -1)]
        cmap = 0 if not self.num_classes else channels(channel_base, channel_max, 4) if cmap_dim is None else cmap_dim
        for res in self.block_resolutions:
            tmp = channels(channel_base, channel_max, res)
            block = DiscriminatorBlock(tmp if res < resolution else 0, tmp, channels(channel_base, channel_max, res // 2), img_channels, architecture, conv_clamp)
            self.add_module(f"b{res}", block)
        if self.num_classes:
            self.mapping = MappingNetwork(0, self.num_classes, cmap, None, mapping_layers, lr_multiplier=mapping_lr_mul, w_avg_beta=None)
        self.b4 = DiscriminatorEpilogue(channels(channel_base, channel_max, 4), cmap, mbstd_group_size, mbstd_num_channels, conv_clamp)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        labels = require_labels(labels, self.num_classes, images.shape[0], "stylegan2-ada discriminator")
        x: Tensor | None = None
        for res in self.block_resolutions:
            x = getattr(self, f"b{res}")(x, images)
        assert x is not None
        cmap = self.mapping(None, F.one_hot(labels, int(self.num_classes)).float()) if self.num_classes and labels is not None else None
        return self.b4(x, cmap).flatten()


@hookimpl
def register_generators(register):
    register("stylegan2-ada", StyleGAN2ADAGenerator)


@hookimpl
def register_discriminators(register):
    register("stylegan2-ada", StyleGAN2ADADiscriminator)
