"""Several processes working on one run: torch.distributed joined from torchrun's environment,
and the few collectives ganforge uses (sums, row gathers, object broadcasts, buffer averages).

In a single process every collective is the identity, so callers need no special case.
NCCL serves CUDA devices, gloo the CPU; tensors given to a collective must be on this
process's device (``Ranks.device``) for NCCL, on the CPU for gloo.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from ganforge.errors import GanforgeError


@dataclass(frozen=True)
class Ranks:
    """Where this process stands: ``rank`` of ``world_size`` processes, ``local_rank`` on its machine."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and shows progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def shard(self, n: int) -> range:
        """This process's contiguous share of ``n`` items; the shares of ranks 0, 1, ... in order
        are ``range(n)``, and their sizes differ by at most one."""
        return range(n * self.rank // self.world_size, n * (self.rank + 1) // self.world_size)


def launched_world_size() -> int:
    """The number of processes torchrun started for this run (1 without torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def active() -> bool:
    """True when this process belongs to a process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def current() -> Ranks:
    """This process's place in the process group (rank 0 of 1 when there is none)."""
    if not active():
        return Ranks()
    return Ranks(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def init_from_env(device: torch.device) -> tuple[Ranks, torch.device]:
    """Join the process group torchrun describes in the environment, once per process, and
    return this process's place and device: ``cuda:LOCAL_RANK`` (NCCL) when ``device`` is a
    CUDA device, ``device`` itself (gloo) otherwise. Without torchrun, or with a single
    process, nothing happens and ``device`` is returned unchanged."""
    if launched_world_size() <= 1:
        return Ranks(), device
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise GanforgeError(
                f"process {local_rank} on this machine has no GPU of its own ({torch.cuda.device_count()} CUDA devices); "
                "start at most one process per GPU (torchrun --nproc_per_node)"
            )
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        if device.type == "cuda":
            dist.init_process_group("nccl", device_id=device)
        else:
            dist.init_process_group("gloo")
    return current(), device


def shutdown() -> None:
    """Leave the process group at the end of a run, so the process exits cleanly.

    The barrier keeps a process that finished first from tearing down its gloo connections
    while a peer still works (rank 0 writes the last checkpoint): torn down early, gloo's
    worker threads could abort the process at exit ("terminate called without an active
    exception")."""
    if dist.is_available() and dist.is_initialized():
        if dist.get_world_size() > 1:
            dist.barrier()
        dist.destroy_process_group()


def all_reduce_sum(tensor: Tensor) -> Tensor:
    """Sum ``tensor`` over all processes in place and return it (float64 sums stay float64)."""
    if active():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_gather_rows(tensor: Tensor) -> Tensor:
    """Every process's rows (dim 0) concatenated in rank order; the processes may hold
    different numbers of rows. With :meth:`Ranks.shard` shares this restores the original order."""
    if not active():
        return tensor
    world = dist.get_world_size()
    count = torch.tensor([tensor.shape[0]], dtype=torch.int64, device=tensor.device)
    counts = [torch.zeros_like(count) for _ in range(world)]
    dist.all_gather(counts, count)
    sizes = [int(c.item()) for c in counts]
    padded = tensor.new_zeros((max(sizes), *tensor.shape[1:]))
    padded[: tensor.shape[0]] = tensor
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    return torch.cat([part[:size] for part, size in zip(parts, sizes)])


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` (any picklable value) on every process."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_gather_objects(obj: Any) -> list[Any]:
    """Every process's ``obj``, in rank order."""
    if not active():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def average_buffers(*modules: nn.Module) -> None:
    """Replace every floating-point buffer of ``modules`` by its mean over the processes, e.g.
    batch-norm running statistics that each process gathered from its own batches."""
    if not active():
        return
    buffers = [b for module in modules for b in module.buffers() if b.is_floating_point()]
    if not buffers:
        return
    flat = torch.cat([b.detach().reshape(-1).to(torch.float64) for b in buffers])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= dist.get_world_size()
    offset = 0
    with torch.no_grad():
        for b in buffers:
            b.copy_(flat[offset : offset + b.numel()].view_as(b))
            offset += b.numel()


def derive_seed(seed: int, *keys: int) -> int:
    """A seed for ``(seed, *keys)``, e.g. one per rank, statistically independent of the others."""
    return int(np.random.SeedSequence([seed % 2**63, *keys]).generate_state(1, np.uint64)[0] % 2**63)


class StopVote:
    """Agrees over the processes on when to stop after a signal, without a blocking exchange
    each step: every step sends this process's vote and reads the outcome of the previous
    step's exchange, so all processes stop after the same step, at most one step after the
    first of them was signalled. Votes travel over their own gloo group, beside NCCL's."""

    def __init__(self) -> None:
        self._group: Any = dist.new_group(backend="gloo")
        self._sent: Tensor | None = None
        self._work: Any = None

    def __call__(self, stop: bool) -> bool:
        decided = False
        if self._work is not None:
            self._work.wait()
            decided = bool(self._sent.item())  # type: ignore[union-attr]
        self._sent = torch.tensor([int(stop)], dtype=torch.int32)
        self._work = dist.all_reduce(self._sent, group=self._group, async_op=True)  # type: ignore[arg-type]
        return decided

    def close(self) -> None:
        """Wait for the last exchange (every process sent the same number of votes) and leave
        the votes' group."""
        if self._work is not None:
            self._work.wait()
            self._work = None
        if self._group is not None:
            dist.destroy_process_group(self._group)
            self._group = None
