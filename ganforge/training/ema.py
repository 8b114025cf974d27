"""Exponential moving average of a network's weights."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps ``shadow``, a copy of ``model`` whose parameters follow ``decay * shadow + (1 - decay) * model``;
    buffers (e.g. batch-norm statistics) are copied as they are."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)
        self._pairs = [(s, p) for s, p in zip(self.shadow.parameters(), model.parameters()) if p.is_floating_point()]
        self._buffers = list(zip(self.shadow.buffers(), model.buffers()))

    @torch.no_grad()
    def update(self) -> None:
        if self._pairs:
            shadow, live = zip(*self._pairs)
            torch._foreach_lerp_(list(shadow), list(live), 1.0 - self.decay)
        for s, b in self._buffers:
            s.copy_(b)
