"""The trainer's side of a run over several processes: DistributedDataParallel wrappers for
alternating updates, synced or per-process batch norm, one latent stream shared by every
process, per-process seeds, and a run directory that only rank 0 writes."""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from ganforge import distributed
from ganforge.distributed import Ranks, StopVote
from ganforge.errors import GanforgeError
from ganforge.interfaces import Generator
from ganforge.seeding import rng_state, seed_everything, set_rng_state
from ganforge.spec.settings import DistributedConfig
from ganforge.training.rundir import RunDir

#: DDP's switch for broadcasting buffers at every forward (renamed in recent PyTorch; both keep the sync at construction)
_NO_BUFFER_SYNC = "forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters else "broadcast_buffers"


class ParallelNetworks:
    """The generator and discriminator wrapped for data-parallel training.

    How the trainer uses them, and why it is correct:

    * Discriminator phase: ``discriminator`` (the DDP wrapper) scores real, fake and any
      penalty inputs; the one backward all-reduces D's gradients. Double backward (gradient
      penalties through ``torch.autograd.grad(create_graph=True)`` on the inputs) works: the
      inner ``grad`` call computes input gradients only, and the outer backward accumulates each
      parameter's gradient once, which is when DDP all-reduces it.
    * The last discriminator update's fake batch comes from ``generator`` (the DDP wrapper)
      with its graph kept; it is detached for D, so D's backward never reaches G.
    * Generator phase: the trainer scores fakes with the *bare* discriminator, its parameters
      frozen: no D gradients exist, so nothing of D is all-reduced or disturbed, while G's
      gradients, flowing back through D's operations into G's graph, are all-reduced by G's
      wrapper in G's backward (the first backward since G's DDP forward that reaches G).
    * Buffers are not broadcast at each forward (``broadcast_buffers=False``): each process's
      batch norm keeps its own running statistics (they only matter in eval mode), and
      :meth:`sync_buffers` averages them before every checkpoint, sample picture and metric.
    """

    def __init__(
        self, ranks: Ranks, settings: DistributedConfig, generator: Generator, discriminator: nn.Module | None, device: torch.device
    ) -> None:
        if settings.sync_bn:
            if device.type != "cuda":
                raise GanforgeError(
                    "distributed.sync_bn needs CUDA devices (PyTorch's SyncBatchNorm has no CPU version); "
                    "set distributed.sync_bn: false to keep batch-norm statistics per process"
                )
            for network in (generator, discriminator):
                if network is not None:
                    nn.SyncBatchNorm.convert_sync_batchnorm(network)
        options: dict[str, Any] = {
            "device_ids": [device.index] if device.type == "cuda" else None,
            _NO_BUFFER_SYNC: False,
            "find_unused_parameters": settings.find_unused_parameters,
        }
        self.ranks = ranks
        self.device = device
        self.bare_generator = generator
        self.generator = DistributedDataParallel(generator, **options)
        self.discriminator = DistributedDataParallel(discriminator, **options) if discriminator is not None else None
        self.latent_rng = torch.Generator(device)
        self.vote = StopVote()

    def start(self, seed: int, step: int, state: dict[str, Any] | None) -> None:
        """Set up the random streams: the shared latent stream and this process's own.

        On a fresh start the latent stream takes over the global generator's state (so the
        global batch's latents are those a single process would draw first), then each
        process reseeds its global generators with a seed derived from (run seed, rank):
        dropout, augmentation and random losses differ between processes, reproducibly.
        A resume with the same number of processes restores every stream exactly."""
        saved = (state or {}).get("distributed") or {}
        if saved.get("latent_rng") is not None:
            self.latent_rng.set_state(saved["latent_rng"].cpu())
        else:
            source = torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else torch.get_rng_state()
            self.latent_rng.set_state(source)
        per_rank = saved.get("rng") or []
        if len(per_rank) == self.ranks.world_size:
            set_rng_state(per_rank[self.ranks.rank])
        else:
            seed_everything(distributed.derive_seed(seed, self.ranks.rank, step))

    def sample_latent(self, n: int, device: torch.device) -> Tensor:
        """This process's ``n`` rows of the global batch's latents, drawn from the shared stream."""
        world = self.ranks.world_size
        latent = self.bare_generator.sample_latent(n * world, device, self.latent_rng)
        return latent[n * self.ranks.rank : n * (self.ranks.rank + 1)]

    def average(self, values: dict[str, Tensor]) -> dict[str, Tensor]:
        """Per-process scalars averaged over the processes (same keys, in the same order, everywhere)."""
        if not values:
            return values
        stacked = distributed.all_reduce_sum(torch.stack(list(values.values())).double()) / self.ranks.world_size
        return dict(zip(values, stacked))

    def average_gradients(self, module: nn.Module) -> None:
        """Average ``module``'s gradients over the processes, in one all-reduce: a separate
        regularisation update (``train.lazy_regularization: separate``) runs the bare network, as
        stylegan3's training loop does, so that DDP's reducer (which expects every parameter to
        get a gradient in each backward) stays out of a backward that a penalty ends early."""
        weights = [w for w in module.parameters() if w.grad is not None]
        if not weights:
            return
        flat = torch.cat([w.grad.flatten() for w in weights if w.grad is not None])
        distributed.all_reduce_sum(flat)
        flat /= self.ranks.world_size
        for weight, grad in zip(weights, flat.split([w.numel() for w in weights])):
            assert weight.grad is not None
            weight.grad.copy_(grad.view(weight.shape))

    def sync_buffers(self, *modules: nn.Module) -> None:
        distributed.average_buffers(*modules)

    def state(self) -> dict[str, Any]:
        """What a checkpoint needs to resume every process's random streams (a collective)."""
        return {
            "world_size": self.ranks.world_size,
            "rng": distributed.all_gather_objects(rng_state()),
            "latent_rng": self.latent_rng.get_state(),
        }

    def close(self) -> None:
        self.vote.close()


def global_batch_size(batch: int, ranks: Ranks, settings: DistributedConfig, saved: dict[str, Any] | None = None) -> int:
    """Samples per discriminator update over all processes (``data.batch_size`` in one process)."""
    world = ranks.world_size
    if settings.batch == "global":
        if batch % world:
            raise GanforgeError(
                f"data.batch_size={batch} is the global batch (distributed.batch: global) and does not split "
                f"among {world} processes; use a multiple of {world}, or distributed.batch: per_rank"
            )
        return batch
    trained = ((saved or {}).get("distributed") or {}).get("world_size", 1)
    if saved is not None and trained != world:
        raise GanforgeError(
            f"--resume: the run trained {trained} process(es) x data.batch_size={batch} (distributed.batch: per_rank); "
            f"resume it with {trained} process(es), or train with distributed.batch: global to change the count"
        )
    return batch * world


class FollowerRunDir(RunDir):
    """The run directory as ranks other than 0 see it: read (to resume), never written."""

    def create(self) -> None:
        pass

    def write_spec(self, resolved: dict[str, Any]) -> None:
        pass

    def log(self, record: dict[str, Any]) -> None:
        pass

    def truncate_log(self, after_step: int) -> None:
        pass

    def write_status(self, status: str, step: int, total_steps: int, message: str | None = None) -> None:
        pass
