"""Exponential moving average of a network's weights."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps ``shadow``, a copy of ``model`` whose parameters follow ``d * shadow + (1 - d) * model``;
    buffers (e.g. batch-norm statistics) are copied as they are.

    ``d`` warms up as ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates (TensorFlow's
    ``ExponentialMovingAverage`` with ``num_updates``): with a plain 0.999 the average would
    still hold 0.999**937 = 39% of the random initialisation after a Fashion-MNIST epoch.
    """

    def __init__(self, model: nn.Module, decay: float, updates: int = 0) -> None:
        self.decay = decay
        self.updates = updates
        self.shadow = copy.deepcopy(model).eval().requires_grad_(False)
        self._pairs = [(s, p) for s, p in zip(self.shadow.parameters(), model.parameters()) if p.is_floating_point()]
        self._buffers = list(zip(self.shadow.buffers(), model.buffers()))

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self) -> None:
        decay = self.current_decay()
        self.updates += 1
        if self._pairs:
            shadow, live = zip(*self._pairs)
            torch._foreach_lerp_(list(shadow), list(live), 1.0 - decay)
        for s, b in self._buffers:
            s.copy_(b)
