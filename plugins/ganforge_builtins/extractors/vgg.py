"""The VGG19 feature extractor (ImageNet weights), with named layers for perceptual losses."""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch
from torch import Tensor, nn

from ganforge import hookimpl
from ganforge.errors import GanforgeError
from ganforge.hook_extractor import HookExtractor, to_unit_range
from ganforge.requirements import Need, weights_missing
from ganforge.weights import find_weights, load_state_dict

VGG19_WEIGHTS_FILE = "vgg19-dcbb9e9d.pth"
VGG19_WEIGHTS_URL = f"https://download.pytorch.org/models/{VGG19_WEIGHTS_FILE}"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: convolutions per stage of VGG19 ("E" configuration) and their channels
STAGES = ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512))


def vgg19_features() -> nn.Sequential:
    """torchvision's ``vgg19().features`` with named layers: ``conv1_1``, ``relu1_1``, ...
    ``pool1``, ... ``conv5_4``, ``relu5_4``, ``pool5`` (the same order, so its weights load by position)."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    previous = 3
    for stage, (convs, channels) in enumerate(STAGES, start=1):
        for i in range(1, convs + 1):
            layers[f"conv{stage}_{i}"] = nn.Conv2d(previous, channels, 3, padding=1)
            layers[f"relu{stage}_{i}"] = nn.ReLU(inplace=False)  # in place would change the hooked conv output
            previous = channels
        layers[f"pool{stage}"] = nn.MaxPool2d(2, 2)
    return nn.Sequential(layers)


class VGG19(HookExtractor):
    """VGG19 (ImageNet weights) features from named layers (conv5_4, relu5_4, ...), for perceptual losses.

    Layers are named like the papers: ``convS_I`` is a convolution's output before its ReLU
    (ESRGAN's perceptual layer is ``conv5_4``), ``reluS_I`` after it (SRGAN's is ``relu5_4``),
    ``poolS`` the max-pools. Inputs in [-1, 1] are mapped to [0, 1], grey repeated to RGB, and
    normalised with ImageNet's mean and standard deviation. ``features`` pools the hooked
    layers spatially; the perceptual loss reads the raw maps. The weights file
    ``vgg19-dcbb9e9d.pth`` (torchvision's) is found like Inception's: ``weights``,
    ``$GANFORGE_WEIGHTS``, the torch hub cache, or a download; absent, a one-line error.

    Args:
        layers: the layer (or layers) whose activations are the features.
        weights: path of the weights file (or a folder holding it); null to search for it.
        pretrained: false for seeded random weights (tests, or a perceptual loss with a
            random network), without any file.
        seed: seed of the random weights when not pretrained.
    """

    @classmethod
    def requirements(cls) -> list[Need]:
        """The ImageNet weights file, unless ``pretrained: false`` (downloaded on first use when online)."""
        return [Need(f"weights {VGG19_WEIGHTS_FILE} (none with pretrained: false)", weights_missing(VGG19_WEIGHTS_FILE))]

    def __init__(self, layers: Sequence[str] | str = "relu5_4", weights: str | None = None, pretrained: bool = True, seed: int = 0) -> None:
        super().__init__(vgg19_features(), [layers] if isinstance(layers, str) else list(layers))
        if pretrained:
            path = find_weights(VGG19_WEIGHTS_FILE, VGG19_WEIGHTS_URL, weights)
            state = load_state_dict(path)
            convs = [m for m in self.network if isinstance(m, nn.Conv2d)]
            keys = sorted({k.rsplit(".", 1)[0] for k in state if k.startswith("features.")}, key=lambda k: int(k.split(".")[1]))
            if len(keys) != len(convs):
                raise GanforgeError(f"{path}: expected torchvision's VGG19 weights ({VGG19_WEIGHTS_FILE}) with {len(convs)} convolutions, found {len(keys)}")
            try:
                with torch.no_grad():
                    for conv, key in zip(convs, keys):
                        conv.weight.copy_(state[f"{key}.weight"])
                        conv.bias.copy_(state[f"{key}.bias"])
            except (RuntimeError, KeyError) as exc:
                raise GanforgeError(f"{path}: weights do not fit VGG19 ({str(exc).splitlines()[0]}); expected {VGG19_WEIGHTS_FILE}") from None
        else:
            rng = torch.Generator().manual_seed(seed)
            with torch.no_grad():
                for module in self.network:
                    if isinstance(module, nn.Conv2d):
                        fan_in = module.weight[0].numel()
                        module.weight.copy_(torch.randn(module.weight.shape, generator=rng) * (2 / fan_in) ** 0.5)
                        module.bias.zero_()
        self.network.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def logits(self, images: Tensor) -> Tensor:
        raise NotImplementedError("vgg19 holds the convolutional layers only, no classification head")

    def features_and_logits(self, images: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError("vgg19 holds the convolutional layers only, no classification head")

    def preprocess(self, images: Tensor) -> Tensor:
        unit = to_unit_range(images, quantise=False)
        if unit.shape[1] == 1:
            unit = unit.expand(-1, 3, -1, -1)
        mean: Tensor = self.mean  # type: ignore[assignment]
        std: Tensor = self.std  # type: ignore[assignment]
        return (unit - mean.to(unit.device)) / std.to(unit.device)


@hookimpl
def register_extractors(register):
    register("vgg19", VGG19)
