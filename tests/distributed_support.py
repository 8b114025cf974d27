"""Running a function in several processes joined by gloo, the way torchrun starts workers.

The processes are forked from the test process, so they start in milliseconds with
everything imported and the test's plugins registered; each gets torchrun's environment
(RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), so ganforge joins the process
group exactly as it does under torchrun.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from ganforge import Discriminator, Generator, distributed
from ganforge.cli.common import experiment_from
from ganforge.training.progress import NoProgress
from ganforge.training.rundir import RunDir
from ganforge.training.trainer import Trainer, TrainingInterrupted

INTERRUPTED = 130


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_ranks(world_size: int, fn: Callable[..., int | None], *args: Any) -> list[multiprocessing.Process]:
    """Fork ``world_size`` processes running ``fn(rank, *args)``; a process's exit code is what ``fn`` returns (0 for None)."""
    context = multiprocessing.get_context("fork")
    port = free_port()
    processes = [context.Process(target=_child, args=(rank, world_size, port, fn, args)) for rank in range(world_size)]
    for process in processes:
        process.start()
    return processes


def join(processes: list[multiprocessing.Process], timeout: float = 120) -> list[int | None]:
    deadline = time.time() + timeout
    for process in processes:
        process.join(max(0.0, deadline - time.time()))
    for process in processes:
        if process.is_alive():
            process.kill()
    return [process.exitcode for process in processes]


def run_ranks(world_size: int, fn: Callable[..., int | None], *args: Any) -> None:
    """Run ``fn(rank, *args)`` in ``world_size`` processes; fail unless every one succeeds."""
    codes = join(start_ranks(world_size, fn, *args))
    assert codes == [0] * world_size, f"exit codes {codes} (tracebacks above)"


def _child(rank: int, world_size: int, port: int, fn: Callable[..., int | None], args: tuple) -> None:
    os.environ.update(
        RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_WORLD_SIZE=str(world_size),
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
    )  # fmt: skip
    code = 1
    try:
        torch.set_num_threads(1)
        code = fn(rank, *args) or 0
    except BaseException:  # noqa: BLE001 - report anything, then leave without pytest's exit handlers
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def train(rank: int, spec: Path, out: Path, overrides: tuple[str, ...] = (), resume: bool = False) -> int:
    """A worker: train ``spec`` into ``out`` like ``ganforge run``, then save this rank's
    networks and optimizer states to ``out/rank{rank}.pt``; 130 when interrupted."""
    experiment = experiment_from(spec, overrides)
    trainer = Trainer(experiment, RunDir(out), NoProgress())
    try:
        trainer.fit(resume=resume)
    except TrainingInterrupted:
        return INTERRUPTED
    networks = {
        "generator": trainer.generator.state_dict(),
        "discriminator": trainer.discriminator.state_dict(),
        "ema": trainer.parts.ema.shadow.state_dict() if trainer.parts.ema is not None else {},
        "opt_g": trainer.parts.optimizers["generator"].state_dict(),
        "opt_d": trainer.parts.optimizers["discriminator"].state_dict(),
    }
    torch.save(networks, out / f"rank{rank}.pt")
    distributed.shutdown()
    return 0


class MLPGenerator(Generator):
    """A two-layer perceptron generator without batch norm: every weight reaches the images, and
    several processes on shares of a batch compute what one process computes on the whole."""

    def __init__(self, image_shape: tuple[int, int, int], latent_dim: int = 8, hidden: int = 16) -> None:
        super().__init__()
        self.latent_dim, self.image_shape = latent_dim, tuple(image_shape)
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.SiLU(), nn.Linear(hidden, math.prod(image_shape)), nn.Tanh())

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.net(z).view(-1, *self.image_shape)


class MLPDiscriminator(Discriminator):
    """A two-layer perceptron discriminator without batch norm; a gradient penalty with respect to
    its input (R1) does not reach its last bias."""

    def __init__(self, image_shape: tuple[int, int, int], hidden: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(image_shape), hidden), nn.SiLU(), nn.Linear(hidden, 1))

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.net(images).flatten()
