"""LPIPS-VGG16 (Zhang et al., 2018) as a feature extractor: squared feature distance = LPIPS."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ganforge import FeatureExtractor, hookimpl
from ganforge.errors import GanforgeError
from ganforge.interfaces.extractor import state_digest
from ganforge.requirements import Need, weights_missing
from ganforge.weights import find_weights, load_state_dict

VGG_WEIGHTS_FILE = "vgg16-397923af.pth"
VGG_WEIGHTS_URL = f"https://download.pytorch.org/models/{VGG_WEIGHTS_FILE}"
LIN_WEIGHTS_FILE = "vgg.pth"
LIN_WEIGHTS_URL = "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth"
#: the ReLU outputs LPIPS compares: relu1_2, relu2_2, relu3_3, relu4_3, relu5_3.
TAPS = (3, 8, 15, 22, 29)
CHANNELS = (64, 128, 256, 512, 512)
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)


class LPIPSFeatures(FeatureExtractor):
    """LPIPS-VGG16 features: the squared L2 distance between two images' features is their LPIPS distance.

    Each of VGG16's five tapped ReLU outputs is normalised to unit length over channels,
    scaled per channel by the square root of LPIPS's learned weight and by 1/sqrt(H W), and
    flattened; so |f(x) - f(y)|^2 = sum over layers of the spatial mean of
    sum_c w_c (f_c(x) - f_c(y))^2, LPIPS v0.1 exactly. Used by ``ppl``; grey images are
    repeated to RGB. The feature length depends on the image size.

    Args:
        weights: torchvision's ``vgg16-397923af.pth`` (a file or its folder); by default ``$GANFORGE_WEIGHTS``, the torch hub cache, then a download.
        lin_weights: LPIPS's ``vgg.pth`` (v0.1 linear layers), found the same way.
    """

    @classmethod
    def requirements(cls) -> list[Need]:
        """The VGG16 weights and LPIPS's linear layers (downloaded on first use when online)."""
        return [Need(f"weights {name}", weights_missing(name)) for name in (VGG_WEIGHTS_FILE, LIN_WEIGHTS_FILE)]

    def __init__(self, weights: str | None = None, lin_weights: str | None = None) -> None:
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers  # torchvision takes seconds to import: only when built

        self.vgg = make_layers(cfgs["D"])[: TAPS[-1] + 1].eval().requires_grad_(False)  # VGG16's convolutional part
        state = load_state_dict(find_weights(VGG_WEIGHTS_FILE, VGG_WEIGHTS_URL, weights))
        try:  # the classifier's weights in the file are not needed
            self.vgg.load_state_dict({k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}, strict=True)
        except RuntimeError as exc:
            raise GanforgeError(f"weights do not fit VGG16 ({str(exc).splitlines()[0]}); expected {VGG_WEIGHTS_FILE}") from exc
        lin = load_state_dict(find_weights(LIN_WEIGHTS_FILE, LIN_WEIGHTS_URL, lin_weights))
        for i, channels in enumerate(CHANNELS):
            weight = lin.get(f"lin{i}.model.1.weight")
            if weight is None or weight.numel() != channels:
                raise GanforgeError(f"{LIN_WEIGHTS_FILE}: no lin{i}.model.1.weight with {channels} entries; expected LPIPS v0.1's vgg.pth")
            self.register_buffer(f"lin{i}", weight.float().reshape(1, channels, 1, 1).clamp_min(0).sqrt())
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))
        self._cache_key = f"lpips-vgg16-{state_digest(self)}"

    def features(self, images: Tensor) -> Tensor:
        x = images.float() / 127.5 - 1 if images.dtype == torch.uint8 else images.float()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = (x.to(self.shift.device) - self.shift) / self.scale
        parts = []
        with torch.no_grad():
            for index, layer in enumerate(self.vgg):
                x = layer(x)
                if index in TAPS:
                    unit = x / (x.square().sum(dim=1, keepdim=True).sqrt() + 1e-10)
                    weight = getattr(self, f"lin{TAPS.index(index)}")
                    parts.append((unit * weight / math.sqrt(x.shape[2] * x.shape[3])).flatten(1))
        return torch.cat(parts, dim=1)


@hookimpl
def register_extractors(register):
    register("lpips-vgg16", LPIPSFeatures)
