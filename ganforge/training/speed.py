"""No silent slowdowns: ``train.precision: bf16`` on a CPU without native bf16 (AVX2 only) runs
many times slower than fp32, where a CPU with it runs faster. Which one this is cannot be read
reliably from the CPU's flags, so the run times one step of its own networks in each."""

from __future__ import annotations

import copy
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ganforge.interfaces import Generator, as_generated, as_output

#: bf16 slower than fp32 by more than this factor is warned about.
SLOWDOWN_FACTOR = 1.5
#: samples in the timed steps: enough to be representative, few enough to cost a second or two.
PROBE_BATCH = 8


@dataclass(frozen=True)
class PrecisionTiming:
    """Milliseconds of one forward and backward pass of the networks, in fp32 and in bf16."""

    fp32_ms: float
    bf16_ms: float
    batch: int

    def message(self, device: torch.device) -> str:
        """The line the run and ``validate --steps`` print: a warning when bf16 is much slower."""
        measured = (
            f"a step of this run's networks on {self.batch} samples takes {self.bf16_ms:,.0f} ms in bf16 "
            f"and {self.fp32_ms:,.0f} ms in fp32 on this {device.type}"
        )
        ratio = self.bf16_ms / max(self.fp32_ms, 1e-9)
        if ratio > SLOWDOWN_FACTOR:
            return (
                f"Warning: train.precision: bf16 is {ratio:.1f}x slower than fp32 here ({measured}): "
                f"this CPU has no native bf16; use train.precision: fp32"
            )
        return f"train.precision: bf16 ({measured})"


def time_step(generator: Generator, discriminator: nn.Module | None, device: torch.device, dtype: torch.dtype | None, batch: int = PROBE_BATCH) -> float | None:
    """Seconds of one forward and backward pass of copies of the networks (generator, then the
    discriminator on its samples) under autocast to ``dtype`` (None: fp32), the second of two
    (the first allocates). The networks, their buffers and the global random state are left as
    they were; None when the generator needs inputs from the data (super-resolution, a VAE)."""
    if generator.inputs:
        return None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        g = copy.deepcopy(generator).train()
        d = copy.deepcopy(discriminator).train() if discriminator is not None else None
        latent = g.sample_latent(batch, device)
        labels = (torch.arange(batch, device=device) % g.num_classes) if g.num_classes else None
        seconds = 0.0
        for _ in range(2):
            start = time.perf_counter()
            with torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext():
                samples = as_generated(g(latent, labels)).samples
                out = as_output(d(samples, labels)).scores if d is not None else samples
            out.float().mean().backward()
            seconds = time.perf_counter() - start
    return seconds


def bf16_timing(generator: Generator, discriminator: nn.Module | None, device: torch.device) -> PrecisionTiming | None:
    """One step of the networks timed in fp32 and in bf16 (see :func:`time_step`); None when
    the networks cannot be stepped without data."""
    fp32 = time_step(generator, discriminator, device, None)
    bf16 = time_step(generator, discriminator, device, torch.bfloat16)
    if fp32 is None or bf16 is None:
        return None
    return PrecisionTiming(fp32 * 1000, bf16 * 1000, PROBE_BATCH)


def say_when_bf16_is_slow(precision: str, generator: Generator, discriminator: nn.Module | None, device: torch.device, say: Callable[[str], None]) -> None:
    """On a CPU with ``precision`` bf16, time a step in both precisions and say both (a CPU
    without native bf16 runs it ~17x slower, which a run would otherwise show only as slowness)."""
    if precision == "bf16" and device.type == "cpu" and (timing := bf16_timing(generator, discriminator, device)) is not None:
        say(timing.message(device))
