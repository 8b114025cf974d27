"""Drawing samples from a trained generator: seeded latents, the truncation trick, class
labels by name, and interpolation between latent pairs. Shared by ``ganforge sample`` and
``ganforge serve``."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from ganforge.artifacts.loading import TrainedGenerator
from ganforge.errors import GanforgeError
from ganforge.interfaces import Generator, as_generated

INTERPOLATIONS: tuple[str, ...] = ("spherical", "linear")
#: samples per generator forward, to bound memory for large requests.
CHUNK = 256


def truncated_latent(generator: Generator, n: int, psi: float, rng: torch.Generator, labels: Tensor | None = None) -> Tensor:
    """``n`` latents drawn on the CPU from ``rng``, truncated as ``generator.truncate`` defines
    (for Gaussian latents: every entry redrawn until it lies in [-psi, psi]; StyleGAN's pull
    *w* towards its mean, for ``labels`` when conditional), returned on the CPU."""
    return generator.truncate(generator.sample_latent(n, "cpu", rng), psi, rng, labels).cpu()


def lerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Straight-line interpolation between rows of ``a`` and ``b`` at fractions ``t`` (shape (T,)):
    returns ``(N, T, D)``."""
    t = t.view(1, -1, 1)
    return a.unsqueeze(1) * (1 - t) + b.unsqueeze(1) * t


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation (Shoemake): along the great circle between the directions of
    ``a`` and ``b``, which keeps a Gaussian latent's norm typical; ``(N, T, D)``. Nearly
    parallel pairs fall back to :func:`lerp`."""
    a_unit = a / a.norm(dim=1, keepdim=True).clamp_min(1e-12)
    b_unit = b / b.norm(dim=1, keepdim=True).clamp_min(1e-12)
    omega = torch.acos((a_unit * b_unit).sum(dim=1).clamp(-1.0, 1.0)).view(-1, 1, 1)
    sin_omega = torch.sin(omega)
    t = t.view(1, -1, 1)
    spherical = (torch.sin((1 - t) * omega) * a.unsqueeze(1) + torch.sin(t * omega) * b.unsqueeze(1)) / sin_omega.clamp_min(1e-12)
    return torch.where(sin_omega.abs() < 1e-6, lerp(a, b, t.view(-1)), spherical)


@dataclass
class Samples:
    """Generated samples in [-1, 1] on the CPU, how to lay them out, and where they came from."""

    images: Tensor
    nrow: int
    latents: Tensor
    labels: Tensor | None

    def names(self, class_names: Sequence[str], interpolation_steps: int | None = None) -> list[str]:
        """A file name stem per sample: its index (or pair and step) and its class."""
        stems = []
        for i in range(self.images.shape[0]):
            stem = f"pair{i // interpolation_steps:03d}_step{i % interpolation_steps:03d}" if interpolation_steps else f"{i:05d}"
            if self.labels is not None:
                stem += "_" + _file_safe(class_names[int(self.labels[i])])
            stems.append(stem)
        return stems


class Sampler:
    """A trained generator ready to draw from: seeded, classes by name or index, safe to
    call from several threads (forwards are serialised)."""

    def __init__(self, generator: Generator, class_names: Sequence[str] = ()) -> None:
        self.generator = generator
        self.device = next(iter(generator.parameters()), torch.empty(0)).device
        self.num_classes = int(generator.num_classes or 0)
        names = list(class_names)
        if self.num_classes and len(names) != self.num_classes:
            names = [str(i) for i in range(self.num_classes)]  # the dataset's names do not describe these labels
        self.class_names: list[str] = names if self.num_classes else []
        self._lock = threading.Lock()

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    def class_index(self, value: str | int) -> int:
        """A class given by name (exact, then case-insensitive) or by index."""
        if not self.conditional:
            raise GanforgeError("this generator is not class-conditional (trained without num_classes); leave out the class")
        text = str(value).strip()
        if text in self.class_names:
            return self.class_names.index(text)
        lowered = [n.lower() for n in self.class_names]
        if text.lower() in lowered:
            return lowered.index(text.lower())
        if text.lstrip("-").isdigit():
            index = int(text)
            if 0 <= index < self.num_classes:
                return index
        choices = ", ".join(f"{i}={n}" for i, n in enumerate(self.class_names))
        raise GanforgeError(f"unknown class '{text}'; valid classes (name or index): {choices}")

    def sample(self, n: int, seed: int = 0, label: int | None = None, truncation: float | None = None) -> Samples:
        """``n`` samples from ``seed``. A conditional generator draws class ``label``, or, when it
        is None, cycles through the classes so each grid column holds one class."""
        self._check_count(n)
        rng = torch.Generator().manual_seed(seed)
        labels = self._labels(n, label)
        latents = self._latents(n, rng, truncation, labels)
        nrow = grid_columns(n, self.num_classes, label is not None)
        return Samples(self._forward(latents, labels), nrow, latents, labels)

    def interpolation(
        self, pairs: int, steps: int, path: str = "spherical", seed: int = 0, label: int | None = None, truncation: float | None = None
    ) -> Samples:
        """One row per latent pair: ``steps`` samples from the first latent to the second,
        inclusive, along a ``spherical`` or ``linear`` path; the class is fixed along a row."""
        self._check_count(pairs)
        if steps < 2:
            raise GanforgeError(f"interpolation needs at least 2 steps (both ends), got {steps}")
        if path not in INTERPOLATIONS:
            raise GanforgeError(f"unknown interpolation path '{path}'; use one of {', '.join(INTERPOLATIONS)}")
        rng = torch.Generator().manual_seed(seed)
        row_labels = self._labels(pairs, label)
        ends = self._latents(2 * pairs, rng, truncation, None if row_labels is None else row_labels.repeat(2))
        t = torch.linspace(0.0, 1.0, steps)
        mix = slerp if path == "spherical" else lerp
        flat = ends.flatten(1)  # structured latents (StyleGAN's per-layer w) interpolate entry by entry
        latents = mix(flat[:pairs], flat[pairs:], t).reshape(pairs * steps, *ends.shape[1:])
        labels = None if row_labels is None else row_labels.repeat_interleave(steps)
        return Samples(self._forward(latents, labels), steps, latents, labels)

    # ---- internals ---------------------------------------------------------------------
    def _check_count(self, n: int) -> None:
        if n < 1:
            raise GanforgeError(f"the number of samples must be at least 1, got {n}")

    def _latents(self, n: int, rng: torch.Generator, truncation: float | None, labels: Tensor | None) -> Tensor:
        if truncation is None:
            return self.generator.sample_latent(n, "cpu", rng)
        return truncated_latent(self.generator, n, truncation, rng, labels)

    def _labels(self, n: int, label: int | None) -> Tensor | None:
        if not self.conditional:
            if label is not None:
                raise GanforgeError("this generator is not class-conditional (trained without num_classes); leave out the class")
            return None
        if label is not None:
            if not 0 <= label < self.num_classes:
                raise GanforgeError(f"class index {label} is outside 0..{self.num_classes - 1}")
            return torch.full((n,), label, dtype=torch.int64)
        return torch.arange(n, dtype=torch.int64) % self.num_classes

    def _forward(self, latents: Tensor, labels: Tensor | None) -> Tensor:
        chunks = []
        with self._lock, torch.inference_mode():
            for start in range(0, latents.shape[0], CHUNK):
                z = latents[start : start + CHUNK].to(self.device)
                y = None if labels is None else labels[start : start + CHUNK].to(self.device)
                chunks.append(as_generated(self.generator(z, y)).samples.float().cpu())
        return torch.cat(chunks)


def sampler_for(trained: TrainedGenerator) -> Sampler:
    """A :class:`Sampler` for a loaded run, with class names from its dataset."""
    return Sampler(trained.generator, trained.experiment.dataset.class_names)


def grid_columns(n: int, num_classes: int, one_class: bool) -> int:
    """Images per grid row: one column per class when a conditional grid mixes classes,
    otherwise as square as possible."""
    if num_classes and not one_class and n >= num_classes:
        return num_classes
    return max(1, math.ceil(math.sqrt(n)))


def _file_safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name)
