"""Features from any ``nn.Module``: forward hooks on named layers, pooled to vectors."""

from __future__ import annotations

import contextlib
from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from ganforge.errors import did_you_mean
from ganforge.interfaces.extractor import FeatureExtractor


class _StopForward(Exception):
    """Raised by the last hook when nothing after it is needed."""


def pool_to_vectors(output: Tensor) -> Tensor:
    """Global-average-pool spatial dimensions away; float32 ``(N, channels)``."""
    output = output.float()
    if output.ndim > 2:
        output = output.mean(dim=tuple(range(2, output.ndim)))
    return output.flatten(1)


def to_unit_range(images: Tensor, quantise: bool = True) -> Tensor:
    """Images in [0, 1]: uint8 divided by 255; float [-1, 1] mapped, and with ``quantise``
    rounded to the 256 levels a PNG would store (as ``torchvision.utils.save_image`` does),
    so generated and real images are measured alike."""
    if images.dtype == torch.uint8:
        return images.float() / 255
    unit = (images.float() + 1) / 2
    if quantise:
        unit = (unit * 255 + 0.5).clamp_(0, 255).floor_() / 255
    return unit


class HookExtractor(FeatureExtractor):
    """Feature vectors taken from named layers of ``network`` by forward hooks.

    Each captured output is global-average-pooled when spatial; several layers are
    concatenated in the given order. Logits come from ``logits_layer``, or from the
    network's output when it is ``None``. The network runs under ``torch.inference_mode``
    on its own device; the hooks exist only during a call. When logits are not wanted, the
    forward pass stops after the last feature layer. Subclasses override :meth:`preprocess`.
    """

    def __init__(self, network: nn.Module, layers: Sequence[str], logits_layer: str | None = None) -> None:
        super().__init__()
        self.attach(network, layers, logits_layer)

    def attach(self, network: nn.Module, layers: Sequence[str], logits_layer: str | None = None) -> None:
        """Use ``network`` and its ``layers`` (for subclasses that build the network late)."""
        if isinstance(layers, str):
            layers = [layers]
        if not layers:
            raise ValueError("a hook extractor needs at least one layer name")
        modules = dict(network.named_modules())
        for name in [*layers, *([logits_layer] if logits_layer else [])]:
            if name not in modules:
                raise ValueError(f"{type(network).__name__} has no layer '{name}'{did_you_mean(name, modules)}")
        self.network = network.eval()
        self.layers = tuple(layers)
        self.logits_layer = logits_layer

    def preprocess(self, images: Tensor) -> Tensor:
        """Turn input images (already on the device) into what the network takes."""
        return images.float() / 127.5 - 1 if images.dtype == torch.uint8 else images.float()

    def capture(self, images: Tensor, layers: Sequence[str], need_output: bool = False) -> tuple[dict[str, Tensor], Tensor | None]:
        """Run the network on ``images`` and return the raw outputs of ``layers`` (and the
        network's output when ``need_output``)."""
        modules = dict(self.network.named_modules())
        captured: dict[str, Tensor] = {}
        wanted = set(layers)

        def hook_for(name: str) -> Callable[[nn.Module, object, Tensor], None]:
            def hook(module: nn.Module, inputs: object, output: Tensor) -> None:
                captured[name] = output
                if not need_output and wanted.issubset(captured):
                    raise _StopForward

            return hook

        handles = [modules[name].register_forward_hook(hook_for(name)) for name in wanted]
        output = None
        try:
            with torch.inference_mode():
                x = self.preprocess(images.to(self.device))
                with contextlib.suppress(_StopForward):  # the last wanted layer ran: skip the rest of the network
                    output = self.network(x)
        finally:
            for handle in handles:
                handle.remove()
        return captured, output

    #: Largest batch one forward pass takes; bigger inputs are split (bounds activation memory).
    max_batch: int | None = None

    @torch.inference_mode()
    def _run(self, images: Tensor, want_logits: bool) -> tuple[Tensor, Tensor | None]:
        if self.max_batch and images.shape[0] > self.max_batch:
            parts = [self._run(chunk, want_logits) for chunk in images.split(self.max_batch)]
            logits = torch.cat([p[1] for p in parts]) if want_logits else None  # type: ignore[misc]
            return torch.cat([p[0] for p in parts]), logits
        layers = list(self.layers)
        if want_logits and self.logits_layer:
            layers.append(self.logits_layer)
        captured, output = self.capture(images, layers, need_output=want_logits and not self.logits_layer)
        features = torch.cat([pool_to_vectors(captured[name]) for name in self.layers], dim=1)
        if self.feature_dim is None:
            self.feature_dim = features.shape[1]
        if not want_logits:
            return features, None
        logits = captured[self.logits_layer] if self.logits_layer else output
        assert logits is not None
        return features, logits.float().flatten(1)

    def features(self, images: Tensor) -> Tensor:
        return self._run(images, want_logits=False)[0]

    def logits(self, images: Tensor) -> Tensor:
        logits = self._run(images, want_logits=True)[1]
        assert logits is not None
        return logits

    def features_and_logits(self, images: Tensor) -> tuple[Tensor, Tensor]:
        features, logits = self._run(images, want_logits=True)
        assert logits is not None
        return features, logits
