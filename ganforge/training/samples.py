"""The fixed-input sample pictures a run writes each epoch and at its end."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor, nn

from ganforge.errors import attributed
from ganforge.interfaces import Dataset, Generator, as_generated, to_model_range
from ganforge.interfaces.dataset import Split
from ganforge.training.observers import RunObserver


class SampleWriter:
    """Draws the same inputs at every picture (seeded latents; one row per class for a
    conditional generator; the first training samples' inputs for a generator that reads
    the batch), so pictures of one run compare over time."""

    def __init__(
        self, generator: Generator, dataset: Dataset, split: Split, count: int, seed: int, device: torch.device, owner: str = "dataset"
    ) -> None:
        self.dataset = dataset
        self.owner = owner  # how errors in save_samples name the dataset
        rng = torch.Generator().manual_seed(seed + 1)
        self.labels: Tensor | None = None
        self.row = max(1, int(math.sqrt(count)))
        if generator.num_classes:
            classes = generator.num_classes
            self.row = max(1, count // classes)  # one row per class
            self.labels = torch.arange(classes).repeat_interleave(self.row).to(device)
            count = classes * self.row
        # "real" is the batch being trained on: pictures (like metrics) draw without it
        needed = [name for name in generator.inputs if name != "real"]
        if needed:
            count = min(count, len(split))
        self.latent = generator.sample_latent(count, "cpu", rng).to(device)
        rows = [split.get(i).inputs for i in range(count)] if needed else []
        self.inputs = {name: to_model_range(torch.stack([row[name] for row in rows])).to(device) for name in needed}

    def write(self, generator: nn.Module, path: Path, step: int, observers: Sequence[RunObserver]) -> Tensor:
        """Draw with ``generator`` (in eval mode, restored after) and write the picture to ``path``."""
        was_training = generator.training
        generator.eval()
        with torch.inference_mode():
            samples = as_generated(generator(self.latent, self.labels, **self.inputs)).samples
        generator.train(was_training)
        samples = samples.float().cpu()
        with attributed(self.owner, "save_samples"):
            self.dataset.save_samples(samples, path, nrow=self.row)
        for observer in observers:
            observer.on_samples(step, samples, path)
        return samples
