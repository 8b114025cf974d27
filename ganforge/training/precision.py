"""Precision and speed: autocast, fp16 gradient scalers, torch.compile, channels-last."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Callable, ContextManager

import torch
from torch import Tensor, nn

ROLES = ("generator", "discriminator")
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
#: below this fp16 loss scale, every update overflowing means the run diverged.
MIN_LOSS_SCALE = 2.0**-14


class Precision:
    """``train.precision``: autocast for the forward passes and losses, and for fp16 one
    gradient scaler per network, so small gradients do not underflow and an update whose
    gradients overflowed is skipped. fp32 adds nothing to the step."""

    def __init__(self, mode: str, device: torch.device) -> None:
        self.mode = mode
        self.device = device
        self.dtype = DTYPES.get(mode)
        self.scalers: dict[str, torch.amp.GradScaler] = {}
        if mode == "fp16":
            self.scalers = {role: torch.amp.GradScaler(device.type) for role in ROLES}

    def autocast(self) -> ContextManager[Any]:
        return torch.autocast(self.device.type, dtype=self.dtype) if self.dtype is not None else nullcontext()

    def loss_scale(self, role: str) -> Tensor | None:
        """The current loss scale of ``role``'s scaler as a tensor (no host sync), or None."""
        scaler = self.scalers.get(role)
        return None if scaler is None else scaler.scale(torch.ones((), device=self.device))

    def backward(self, loss: Tensor, role: str) -> None:
        scaler = self.scalers.get(role)
        (loss if scaler is None else scaler.scale(loss)).backward()

    def step(self, optimizer: torch.optim.Optimizer, role: str) -> None:
        scaler = self.scalers.get(role)
        if scaler is None:
            optimizer.step()
            return
        scaler.step(optimizer)
        scaler.update()

    def collapsed(self) -> str | None:
        """A message when a loss scale fell so low that every update overflows (the run diverged)."""
        for role, scaler in self.scalers.items():
            scale = scaler.get_scale()
            if scale < MIN_LOSS_SCALE:
                return f"fp16: the {role}'s gradients overflowed at every update until its loss scale fell to {scale:.3g}"
        return None

    def state_dict(self) -> dict[str, Any]:
        return {role: scaler.state_dict() for role, scaler in self.scalers.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for role, scaler in self.scalers.items():
            if role in state:
                scaler.load_state_dict(state[role])


def use_channels_last(network: nn.Module, setting: bool | None, device: torch.device) -> None:
    """Channels-last memory format for a convolutional ``network``: ``setting`` True, or None on CUDA."""
    wanted = setting if setting is not None else device.type == "cuda"
    if wanted and any(isinstance(m, nn.Conv2d) for m in network.modules()):
        network.to(memory_format=torch.channels_last)  # type: ignore[call-overload]


class CompiledForward:
    """Calls ``torch.compile(module)``; when compilation fails (errors surface at the first
    call), says so once through ``report`` and calls the eager module from then on."""

    def __init__(self, module: nn.Module, name: str, report: Callable[[str], None]) -> None:
        self.eager = module
        self.name = name
        self.report = report
        self.compiled: Callable[..., Any] | None = torch.compile(module)
        self.succeeded = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.compiled is not None:
            try:
                result = self.compiled(*args, **kwargs)
            except Exception as exc:
                if self.succeeded:
                    raise
                self.report(f"train.compile: the {self.name} did not compile ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); running it eagerly")
                self.compiled = None
            else:
                self.succeeded = True
                return result
        return self.eager(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.eager, name)
