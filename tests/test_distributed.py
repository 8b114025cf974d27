"""Distributed training on CPU with gloo and 2 processes: ranks agree, a 2-process run equals a
1-process run on the same global batches, rank 0 alone writes, interrupted runs resume."""

from __future__ import annotations

import json
import math
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor

from ganforge import Batch, Loss, hookimpl
from ganforge.checkpoint import load_checkpoint
from ganforge.cli.common import experiment_from
from ganforge.distributed import Ranks
from ganforge.errors import GanforgeError
from ganforge.interfaces.dataset import DataSplit
from ganforge.plugins import Plugins
from ganforge.spec.settings import DistributedConfig
from ganforge.training.batches import BatchStream
from ganforge.training.parallel import ParallelNetworks
from ganforge.training.progress import NoProgress
from ganforge.training.rundir import RunDir
from ganforge.training.trainer import Trainer

from .conftest import TINY_SPEC, invoke
from .distributed_support import INTERRUPTED, MLPDiscriminator, MLPGenerator, join, run_ranks, start_ranks, train


def flat(state: Any, prefix: str = "") -> dict[str, Tensor]:
    """Every tensor in nested state dicts, by path."""
    if isinstance(state, Tensor):
        return {prefix.rstrip("."): state}
    items = state.items() if isinstance(state, dict) else enumerate(state) if isinstance(state, (list, tuple)) else ()
    out: dict[str, Tensor] = {}
    for key, value in items:
        out.update(flat(value, f"{prefix}{key}."))
    return out


def differing(a: dict[str, Tensor], b: dict[str, Tensor]) -> list[str]:
    assert a.keys() == b.keys()
    return [k for k in a if not torch.equal(a[k], b[k])]


def is_running_stat(name: str) -> bool:
    return name.endswith(("running_mean", "running_var"))


# ---- two ranks, DCGAN with per-process batch norm, EMA: interrupted, resumed, straight -----------

@pytest.fixture(scope="module")
def dcgan_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A 2-process run stopped by SIGINT to rank 1 only, then resumed 2 steps further, and a
    straight 2-process run of the same length. 64 samples, global batch 16: 4 steps per epoch."""
    root = tmp_path_factory.mktemp("dist")
    spec = root / "tiny.yaml"
    spec.write_text(TINY_SPEC)
    interrupted = root / "interrupted"
    processes = start_ranks(2, train, spec, interrupted, ("train.steps=100000", "train.log_every=1"))
    deadline = time.time() + 90
    while time.time() < deadline and not (interrupted / "metrics.jsonl").exists():
        time.sleep(0.1)
    os.kill(processes[1].pid, signal.SIGINT)  # one rank only: the other learns it through the vote
    codes = join(processes)
    status = json.loads((interrupted / "status.json").read_text())
    stopped = status["step"]
    overrides = (f"train.steps={stopped + 2}", "train.log_every=1")
    run_ranks(2, train, spec, interrupted, overrides, True)
    straight = root / "straight"
    run_ranks(2, train, spec, straight, overrides)
    return {"codes": codes, "status": status, "stopped": stopped, "interrupted": interrupted, "straight": straight}


def test_a_signal_to_one_rank_stops_every_rank_after_the_same_step(dcgan_runs: dict[str, Any]) -> None:
    # both ranks finished the same step, wrote one checkpoint together (a collective) and exited 130
    assert dcgan_runs["codes"] == [INTERRUPTED, INTERRUPTED]
    assert dcgan_runs["status"]["status"] == "interrupted" and dcgan_runs["stopped"] >= 1


def test_ranks_hold_identical_networks(dcgan_runs: dict[str, Any]) -> None:
    for run in (dcgan_runs["straight"], dcgan_runs["interrupted"]):
        rank0, rank1 = flat(torch.load(run / "rank0.pt")), flat(torch.load(run / "rank1.pt"))
        # parameters, EMA, optimizer moments, and (averaged before the last checkpoint) batch-norm statistics
        assert not differing(rank0, rank1)
        assert any(is_running_stat(k) for k in rank0) and any(k.startswith("ema.") for k in rank0)


def test_resumed_run_matches_the_straight_run(dcgan_runs: dict[str, Any]) -> None:
    resumed = flat(load_checkpoint(dcgan_runs["interrupted"] / "checkpoints/last.pt"))
    straight = flat(load_checkpoint(dcgan_runs["straight"] / "checkpoints/last.pt"))
    params = {k for k in straight if not k.startswith(("spec.", "best.")) and not is_running_stat(k)}
    assert not differing({k: resumed[k] for k in params}, {k: straight[k] for k in params})
    # Per-process batch-norm running statistics are averaged over the ranks at each checkpoint,
    # and the interrupted run had one more checkpoint; averaging commutes with the running
    # averages' linear updates, so they agree up to float rounding (they never feed training).
    for k in straight:
        if is_running_stat(k):
            torch.testing.assert_close(resumed[k], straight[k], rtol=1e-5, atol=1e-6)


def test_rank_zero_alone_writes_one_set_of_outputs(dcgan_runs: dict[str, Any]) -> None:
    run = dcgan_runs["straight"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.pt"]
    records = RunDir(run).read_log()
    steps = [r["step"] for r in records]
    assert steps == list(range(1, dcgan_runs["stopped"] + 3))  # one line per step: no rank wrote twice
    total = dcgan_runs["stopped"] + 2
    expected = [f"epoch_{e:04d}.png" for e in range(1, total // 4 + 1)] + ([f"step_{total:07d}.png"] if total % 4 else [])
    assert sorted(p.name for p in (run / "samples").iterdir()) == expected
    assert not [p for p in run.rglob("*") if ".tmp" in p.name]
    state = load_checkpoint(run / "checkpoints/last.pt")
    assert state["distributed"]["world_size"] == 2 and len(state["distributed"]["rng"]) == 2
    # each rank has its own random stream, derived from the run seed
    assert not torch.equal(state["distributed"]["rng"][0]["torch"], state["distributed"]["rng"][1]["torch"])


# ---- two ranks against one on the same global batches: BN-free nets, a gradient penalty ---------

class MidpointGradientPenalty(Loss):
    """WGAN-GP's penalty at real/fake midpoints: double backward, without random numbers."""

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = weight

    def discriminator_loss(self, batch: Batch) -> Tensor:
        points = (0.5 * (batch.real + batch.fake)).requires_grad_(True)
        (grad,) = torch.autograd.grad(batch.score(points).scores.sum(), points, create_graph=True)
        return self.weight * (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


class MLPPlugin:
    __name__ = "dist-test-networks"

    @hookimpl
    def register_generators(self, register):
        register("test-mlp", MLPGenerator)

    @hookimpl
    def register_discriminators(self, register):
        register("test-mlp", MLPDiscriminator)

    @hookimpl
    def register_losses(self, register):
        register("test-midpoint-gp", MidpointGradientPenalty)


MLP_SPEC = """\
seed: 3
device: cpu
generator: {name: test-mlp, latent_dim: 8}
discriminator: {name: test-mlp}
loss: {name: lsgan}
penalties: [{name: test-midpoint-gp, weight: 0.5}]
data: {name: synthetic, image_size: 8, size: 48, batch_size: 8}
optimizers:
  generator: {name: Adam, lr: 1.0e-3, betas: [0.5, 0.999]}
  discriminator: {name: Adam, lr: 1.0e-3, betas: [0.5, 0.999]}
train: {steps: 4, d_steps: 2, log_every: 1, ema: 0.9}
"""


def test_two_processes_match_one_on_the_same_global_batches(tmp_path: Path, plugins: Plugins) -> None:
    """Same spec, global batch 8: two processes of 4 each against one of 8. Every loss here is
    a mean over the batch and nothing draws random numbers but the latents (one stream shared
    by all ranks), so the DDP gradient average equals the one-process gradient up to rounding.
    Covers: D's all-reduce with several D forwards and a double-backward penalty, G's all-reduce
    through the fake kept from the last of 2 D updates, and the frozen bare D in G's phase."""
    plugins.register(MLPPlugin(), "dist-test-networks")
    spec = tmp_path / "mlp.yaml"
    spec.write_text(MLP_SPEC)
    run_ranks(2, train, spec, tmp_path / "two")
    one = Trainer(experiment_from(spec), RunDir(tmp_path / "one"), NoProgress())
    one.fit()
    two = flat(torch.load(tmp_path / "two/rank0.pt"))
    for name, value in {**flat(one.generator.state_dict(), "generator."), **flat(one.discriminator.state_dict(), "discriminator."),
                        **flat(one.parts.ema.shadow.state_dict(), "ema.")}.items():  # fmt: skip
        torch.testing.assert_close(two[name], value, rtol=1e-4, atol=1e-6, msg=name)
    # the logged losses are the ranks' average: the global batch's loss
    for a, b in zip(RunDir(tmp_path / "one").read_log(), RunDir(tmp_path / "two").read_log()):
        assert a.keys() == b.keys() and all(math.isclose(a[k], b[k], rel_tol=1e-4, abs_tol=1e-6) for k in a), (a, b)
    assert not differing(two, flat(torch.load(tmp_path / "two/rank1.pt")))


# ---- pieces without processes ---------------------------------------------------------------------

def test_batch_stream_shares_each_global_batch() -> None:
    split = DataSplit(torch.arange(40, dtype=torch.uint8).view(40, 1, 1, 1), torch.arange(40))
    whole = BatchStream(split, 12, torch.device("cpu"), seed=5)
    shares = [BatchStream(split, 12, torch.device("cpu"), seed=5, rank=r, world_size=3) for r in range(3)]
    for _ in range(7):  # crosses two epochs (3 batches each): per-epoch shuffling, same on every rank
        labels = next(whole).labels
        parts = [next(s)[1] for s in shares]
        assert [len(p) for p in parts] == [4, 4, 4]
        assert torch.equal(torch.cat(parts), labels)
    assert {s.epoch for s in shares} == {whole.epoch} == {2}


def test_shards_cover_everything_once() -> None:
    for n, world in ((10, 3), (2, 4), (0, 2), (7, 1)):
        shares = [Ranks(r, world).shard(n) for r in range(world)]
        assert [i for s in shares for i in s] == list(range(n))


def test_sync_bn_on_cpu_is_a_clear_error() -> None:
    with pytest.raises(GanforgeError, match="distributed.sync_bn needs CUDA devices"):
        ParallelNetworks(Ranks(0, 2), DistributedConfig(sync_bn=True), MLPGenerator((1, 4, 4)), MLPDiscriminator((1, 4, 4)), torch.device("cpu"))


def test_distributed_section_is_validated(tiny_spec: Path) -> None:
    tiny_spec.write_text(TINY_SPEC + "distributed: {batch: per_gpu, sync_bnn: true}\n")
    result = invoke("validate", str(tiny_spec))
    assert result.exit_code == 2
    assert "distributed.sync_bnn: unknown parameter 'sync_bnn' for distributed (did you mean 'sync_bn'?)" in result.stderr
    assert "distributed.batch" in result.stderr and "per_rank" in result.stderr
