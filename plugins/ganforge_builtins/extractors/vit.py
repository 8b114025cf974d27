"""Vision-transformer feature extractors through timm (the ``vit`` extra): DINOv2 ViT-S/14
and ViT-B/14 CLS features (the FD_DINOv2 of Stein et al., 2023) and CLIP ViT-B/32 image
embeddings (the embedding of CMMD)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ganforge import FeatureExtractor, hookimpl
from ganforge.errors import GanforgeError
from ganforge.hook_extractor import to_unit_range
from ganforge.interfaces.extractor import state_digest
from ganforge.requirements import Need, extra_missing, weights_missing
from ganforge.types import PositiveInt
from ganforge.weights import find_hub_weights

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
#: Images per forward pass (bounds activation memory at 224×224).
MAX_BATCH = 128
EXTRA_HINT = "pip install 'ganforge[vit]' (or: pip install timm)"


def import_timm() -> Any:
    """timm, or a one-line error naming the extra that installs it."""
    try:
        import timm
    except ImportError as exc:
        raise GanforgeError(f"this extractor needs timm, which is not installed: {EXTRA_HINT}") from exc
    return timm


def timm_available() -> bool:
    """Whether the ``vit`` extra (timm) is installed."""
    import importlib.util

    return importlib.util.find_spec("timm") is not None


def resize_like_pil(unit_images: Tensor, size: int, square: bool) -> Tensor:
    """[0, 1] RGB images resized bicubically as PIL does on 8-bit images (torch's antialiased
    bicubic is PIL's filter, a = −0.5), in two passes each rounded to 8-bit levels as PIL's are.
    ``square``: straight to size × size (torchvision ``Resize((s, s))``); otherwise the
    shorter side to ``size``, then the centre ``size`` × ``size`` crop (``Resize(s)`` +
    ``CenterCrop(s)``, CLIP's preprocessing)."""
    height, width = unit_images.shape[-2:]
    if square:
        target = (size, size)
    elif height <= width:
        target = (size, int(size * width / height))
    else:
        target = (int(size * height / width), size)
    # PIL resizes in two passes, width first in its C code, and stores the intermediate as
    # 8-bit, so here. Square images (the usual case) match Pillow 13 to one 8-bit level; for
    # some non-square ones resized along both axes Pillow takes the height first, and the
    # results then differ by up to ~20 levels at sharp edges.
    for size_now in ((height, target[1]), target):
        if tuple(unit_images.shape[-2:]) != size_now:
            unit_images = F.interpolate(unit_images, size=size_now, mode="bicubic", antialias=True, align_corners=False)
            unit_images = (unit_images * 255).round_().clamp_(0, 255) / 255
    if not square:
        top, left = round((unit_images.shape[-2] - size) / 2), round((unit_images.shape[-1] - size) / 2)  # torchvision's CenterCrop
        unit_images = unit_images[..., top : top + size, left : left + size]
    return unit_images


class TimmViT(FeatureExtractor):
    """A timm vision transformer's pooled output as features (base of the built-in ViT extractors)."""

    model_name: str = ""
    hub_id: str = ""
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    square_resize: bool = True
    output: str = ""

    @classmethod
    def requirements(cls) -> list[Need]:
        """The vit extra (timm) and the weights file (never downloaded)."""
        return [Need("extra vit (timm)", extra_missing("timm", "vit")), Need(f"weights {cls.model_name}.safetensors", weights_missing(f"{cls.model_name}.safetensors", cls.hub_id))]

    def __init__(self, weights: str | None = None, pretrained: bool = True, seed: int = 0, image_size: PositiveInt = 224) -> None:
        super().__init__()
        timm = import_timm()
        self.image_size = image_size
        kwargs: dict[str, Any] = {"img_size": image_size}
        if type(self).output == "CLS token":
            kwargs["num_classes"] = 0
        if pretrained:
            path = find_hub_weights(f"{self.model_name}.safetensors", self.hub_id, weights)
            try:
                network = timm.create_model(self.model_name, pretrained=True, pretrained_cfg_overlay={"file": str(path)}, **kwargs)
            except (RuntimeError, KeyError, ValueError, OSError) as exc:
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise GanforgeError(f"{path}: weights do not fit timm's {self.model_name} ({first})") from exc
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                network = timm.create_model(self.model_name, pretrained=False, **kwargs)
        self.network = network.eval()
        self.feature_dim = int(network.num_features if kwargs.get("num_classes") == 0 else network.num_classes)
        self.layers = (self.output,)
        self._cache_key = f"{self.model_name}-{image_size}-{state_digest(network)}"
        self.register_buffer("mean_", torch.tensor(self.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std_", torch.tensor(self.std).view(1, 3, 1, 1), persistent=False)

    @property
    def preprocessing(self) -> str:
        """The input pipeline, for provenance."""
        resize = f"({self.image_size}, {self.image_size})" if self.square_resize else f"shorter side {self.image_size} + centre crop"
        return f"8-bit quantised, PIL-equivalent bicubic resize to {resize}, rounded to 8 bits, normalised mean {self.mean} std {self.std}"

    def preprocess(self, images: Tensor) -> Tensor:
        unit = to_unit_range(images.to(self.mean_.device), quantise=True)
        if unit.shape[1] == 1:
            unit = unit.expand(-1, 3, -1, -1)
        return (resize_like_pil(unit, self.image_size, self.square_resize) - self.mean_) / self.std_

    @torch.inference_mode()
    def features(self, images: Tensor) -> Tensor:
        if images.shape[0] > MAX_BATCH:
            return torch.cat([self.features(chunk) for chunk in images.split(MAX_BATCH)])
        return self.network(self.preprocess(images)).float()


class DINOv2ViTS14(TimmViT):
    """DINOv2 ViT-S/14 CLS-token features (384-d), the FD_DINOv2 space of Stein et al. (2023); needs timm.

    Preprocessing as dgm-eval's: bicubic resize to 224×224 (PIL's filter), ImageNet mean/std.
    Positional embeddings are resampled to the 16×16 patch grid by timm on loading.

    :param weights: timm's ``vit_small_patch14_dinov2.lvd142m`` weights file (or its folder); by
        default ``$GANFORGE_WEIGHTS``, then the Hugging Face hub cache.
    :param pretrained: ``false`` builds random weights from ``seed`` (for tests), reading no file.
    :param seed: seed of the random weights when not pretrained.
    :param image_size: input resolution (224 in FD_DINOv2; a multiple of 14).
    """

    model_name = "vit_small_patch14_dinov2.lvd142m"
    hub_id = "timm/vit_small_patch14_dinov2.lvd142m"
    output = "CLS token"


class DINOv2ViTB14(DINOv2ViTS14):
    """DINOv2 ViT-B/14 CLS-token features (768-d), the FD_DINOv2 space of Stein et al. (2023); needs timm.

    Preprocessing as dgm-eval's: bicubic resize to 224×224 (PIL's filter), ImageNet mean/std.

    :param weights: timm's ``vit_base_patch14_dinov2.lvd142m`` weights file (or its folder); by
        default ``$GANFORGE_WEIGHTS``, then the Hugging Face hub cache.
    :param pretrained: ``false`` builds random weights from ``seed`` (for tests), reading no file.
    :param seed: seed of the random weights when not pretrained.
    :param image_size: input resolution (224 in FD_DINOv2; a multiple of 14).
    """

    model_name = "vit_base_patch14_dinov2.lvd142m"
    hub_id = "timm/vit_base_patch14_dinov2.lvd142m"


class CLIPViTB32(TimmViT):
    """CLIP ViT-B/32 image embeddings (512-d, OpenAI weights, before L2 normalisation); needs timm.

    Preprocessing as OpenAI CLIP's: bicubic resize of the shorter side to 224 (PIL's filter),
    centre crop 224×224, CLIP's mean/std.

    :param weights: timm's ``vit_base_patch32_clip_224.openai`` weights file (or its folder); by
        default ``$GANFORGE_WEIGHTS``, then the Hugging Face hub cache.
    :param pretrained: ``false`` builds random weights from ``seed`` (for tests), reading no file.
    :param seed: seed of the random weights when not pretrained.
    :param image_size: input resolution (224 for this model; a multiple of 32).
    """

    model_name = "vit_base_patch32_clip_224.openai"
    hub_id = "timm/vit_base_patch32_clip_224.openai"
    mean, std = CLIP_MEAN, CLIP_STD
    square_resize = False
    output = "image embedding (projection)"


@hookimpl
def register_extractors(register):
    register("dinov2-vits14", DINOv2ViTS14)
    register("dinov2-vitb14", DINOv2ViTB14)
    register("clip-vit-b32", CLIPViTB32)
