"""Inception-v3 feature extractors: the FID network (pytorch-fid's conventions) and
torchvision's ImageNet Inception-v3."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge import hookimpl
from ganforge.errors import GanforgeError
from ganforge.hook_extractor import HookExtractor, to_unit_range
from ganforge.interfaces.extractor import state_digest
from ganforge.requirements import Need, weights_missing
from ganforge.weights import find_weights, load_state_dict

FID_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{FID_WEIGHTS_FILE}"

INPUT_SIZE = 299
#: Images per forward pass: ~2.5 GB of float32 activations at 299×299.
MAX_BATCH = 100
TORCHVISION_WEIGHTS_FILE = "inception_v3_google-0cc3c7bd.pth"
TORCHVISION_WEIGHTS_URL = f"https://download.pytorch.org/models/{TORCHVISION_WEIGHTS_FILE}"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def load_strict(network: nn.Module, weights: str | None, filename: str, url: str) -> None:
    """Load the weights file into ``network``, every key matching."""
    path = find_weights(filename, url, weights)
    try:
        network.load_state_dict(load_state_dict(path), strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise GanforgeError(f"{path}: weights do not fit {type(network).__name__} ({first}); expected {filename}") from exc


def fold_batch_norms(network: nn.Module) -> nn.Module:
    """Fold every ``BasicConv2d`` block's eval-mode batch norm into its convolution's weights
    and bias (one pass over each activation less; the results agree to float32 rounding)."""
    for module in network.modules():
        conv, bn = getattr(module, "conv", None), getattr(module, "bn", None)
        if not (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)):
            continue
        with torch.no_grad():
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=True)
            folded.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
            bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
            folded.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
        module.conv, module.bn = folded.to(conv.weight.device), nn.Identity()
    return network


def resize_to_inception(unit_images: Tensor) -> Tensor:
    """[0, 1] images, grey ones repeated to RGB, resized to 299×299 bilinearly
    (``align_corners=False``, no antialias, as pytorch-fid does), in channels-last layout."""
    if unit_images.shape[1] == 1:
        unit_images = unit_images.expand(-1, 3, -1, -1)
    if unit_images.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
        unit_images = F.interpolate(unit_images, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
    return unit_images.contiguous(memory_format=torch.channels_last)


class InceptionV3(HookExtractor):
    """FID Inception-v3 (pytorch-fid's port of the TF graph): pool3 2048-d features, 1008 logits.

    With the standard weights its features are pytorch-fid's exactly. Inputs are quantised
    to 8 bits as if saved to PNG, resized to 299×299 and scaled to 2x − 1.

    :param weights: path of ``pt_inception-2015-12-05-6726825d.pth`` (or its folder); by default
        ``$GANFORGE_WEIGHTS``, then the torch hub cache, then a download.
    """

    @classmethod
    def requirements(cls) -> list[Need]:
        """The weights file (downloaded on first use when online)."""
        return [Need(f"weights {FID_WEIGHTS_FILE}", weights_missing(FID_WEIGHTS_FILE))]

    def __init__(self, weights: str | None = None) -> None:
        from ganforge_builtins.extractors._fid_inception_net import fid_inception_v3  # torchvision: imported when the network is built

        network = fid_inception_v3()
        load_strict(network, weights, FID_WEIGHTS_FILE, FID_WEIGHTS_URL)
        digest = state_digest(network)
        super().__init__(fold_batch_norms(network.eval()).to(memory_format=torch.channels_last), layers=["avgpool"])
        self._cache_key = f"inception-v3-{digest}"
        self.preprocessing = "8-bit quantised, bilinear resize to 299x299 (align_corners=False, no antialias), 2x - 1"
        self.max_batch = MAX_BATCH
        self.feature_dim = 2048
        self.num_classes = 1008

    def preprocess(self, images: Tensor) -> Tensor:
        return resize_to_inception(to_unit_range(images, quantise=True)) * 2 - 1


class TorchvisionInceptionV3(HookExtractor):
    """torchvision's ImageNet Inception-v3: Mixed_7c average-pooled (2048-d), 1000 logits.

    :param weights: path of ``inception_v3_google-0cc3c7bd.pth`` (or its folder); by default
        ``$GANFORGE_WEIGHTS``, then the torch hub cache, then a download.
    """

    @classmethod
    def requirements(cls) -> list[Need]:
        """The weights file (downloaded on first use when online)."""
        return [Need(f"weights {TORCHVISION_WEIGHTS_FILE}", weights_missing(TORCHVISION_WEIGHTS_FILE))]

    def __init__(self, weights: str | None = None) -> None:
        from torchvision.models.inception import Inception3  # torchvision takes seconds to import: only when built

        network = Inception3(num_classes=1000, aux_logits=True, transform_input=True, init_weights=False)
        load_strict(network, weights, TORCHVISION_WEIGHTS_FILE, TORCHVISION_WEIGHTS_URL)
        digest = state_digest(network)
        super().__init__(fold_batch_norms(network.eval()).to(memory_format=torch.channels_last), layers=["Mixed_7c"])
        self._cache_key = f"torchvision-inception-v3-{digest}"
        self.preprocessing = "8-bit quantised, bilinear resize to 299x299 (align_corners=False, no antialias), ImageNet mean/std"
        self.max_batch = MAX_BATCH
        self.feature_dim = 2048
        self.num_classes = 1000
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def preprocess(self, images: Tensor) -> Tensor:
        # torchvision's weights expect ImageNet-normalised input (transform_input undoes it).
        return (resize_to_inception(to_unit_range(images, quantise=True)) - self.mean) / self.std


@hookimpl
def register_extractors(register):
    register("inception-v3", InceptionV3)
    register("torchvision-inception-v3", TorchvisionInceptionV3)
