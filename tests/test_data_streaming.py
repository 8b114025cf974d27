"""Streamed splits: read through DataLoader workers, resumable mid-epoch bit for bit, shared out
among the processes of a distributed run, mirrored and augmented per (seed, epoch, index)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from ganforge import Dataset
from ganforge.checkpoint import load_checkpoint
from ganforge.interfaces.dataset import DataSplit, Sample, Split
from ganforge.interfaces.reading import hold_in_memory
from ganforge.plugins import Plugins
from ganforge.testing import ConformanceError, check_dataset
from ganforge.training.batches import BatchStream, permutation

from .conftest import invoke
from .data_support import Patterns, PatternSplit, PatternsPlugin, reads
from .distributed_support import run_ranks, train
from .test_distributed import MLP_SPEC, MLPPlugin

STREAMED_SPEC = """\
seed: 4
device: cpu
generator: {name: dcgan, latent_dim: 8, width: 8}
discriminator: {name: dcgan, width: 8}
loss: {name: lsgan}
data: {name: test-patterns, size: 40, side: 28, labelled: false, augments: true, batch_size: 8, workers: 2, mirror: true}
train: {steps: 9, log_every: 1, ema: 0.9}
"""


def networks(path: Path) -> dict[str, torch.Tensor]:
    state = load_checkpoint(path)
    return {f"{part}.{k}": v for part in ("generator", "discriminator") for k, v in state[part].items()}


def test_a_run_resumed_mid_epoch_with_two_workers_ends_bit_identical(tmp_path: Path, plugins: Plugins) -> None:
    """5 batches per epoch: stopped after step 3 (mid-epoch 0), resumed to step 9 (into epoch 1),
    with per-draw augmentation and mirroring in two worker processes."""
    plugins.register(PatternsPlugin(), "test-streamed-data")
    spec = tmp_path / "streamed.yaml"
    spec.write_text(STREAMED_SPEC)
    assert invoke("run", str(spec), "--out", str(tmp_path / "full")).exit_code == 0
    assert invoke("run", str(spec), "--out", str(tmp_path / "split"), "--set", "train.steps=3").exit_code == 0
    resumed = invoke("run", str(spec), "--out", str(tmp_path / "split"), "--set", "data.workers=1", "--resume")
    assert resumed.exit_code == 0, resumed.output
    full, split = networks(tmp_path / "full/checkpoints/last.pt"), networks(tmp_path / "split/checkpoints/last.pt")
    assert [k for k in full if not torch.equal(full[k], split[k])] == []
    # and the augmentation matters: another seed's draws train other weights
    assert invoke("run", str(spec), "--out", str(tmp_path / "other"), "--set", "data.augments=false").exit_code == 0
    other = networks(tmp_path / "other/checkpoints/last.pt")
    assert any(not torch.equal(full[k], other[k]) for k in full)


def test_streamed_and_in_memory_batches_are_the_same() -> None:
    """The same split read by workers and held in memory gives identical batches, mirror included,
    across an epoch boundary; starting at (epoch, batch) continues the same sequence."""
    split = Patterns(size=20, side=6, labelled=True).split
    held = hold_in_memory(split, workers=1)
    assert isinstance(held, DataSplit) and len(held) == 20
    cpu = torch.device("cpu")
    streamed = BatchStream(split, 6, cpu, seed=2, workers=2, mirror=True)
    memory = BatchStream(held, 6, cpu, seed=2, mirror=True)
    later = BatchStream(split, 6, cpu, seed=2, epoch=1, batch=1, workers=1, mirror=True)
    flipped = 0
    for step in range(8):  # 3 batches per epoch: crosses two epoch ends
        a, b = next(streamed), next(memory)
        assert torch.equal(a.samples, b.samples) and torch.equal(a.labels, b.labels) and torch.equal(a.inputs["noisy"], b.inputs["noisy"])
        if step >= 4:
            assert torch.equal(next(later).samples, a.samples)
        order = permutation(2, streamed.epoch, 20)[(streamed.batch - 1) * 6 : streamed.batch * 6]
        plain = torch.stack([split.get(int(i)).image for i in order]).float() / 127.5 - 1
        flipped += int((plain != a.samples).flatten(1).any(1).sum())
    assert 0 < flipped < 8 * 6  # mirror flips some samples, not all


def test_each_process_reads_only_its_share(tmp_path: Path, plugins: Plugins) -> None:
    """Two gloo processes, global batch 8 of 48 samples: each reads (in its own worker) only its
    4-sample half of each global batch; the halves are disjoint and cover the global batches."""
    plugins.register(MLPPlugin(), "dist-test-networks")
    plugins.register(PatternsPlugin(), "test-streamed-data")
    log = tmp_path / "log"
    log.mkdir()
    spec = tmp_path / "mlp.yaml"
    spec.write_text(MLP_SPEC.replace("data: {name: synthetic, image_size: 8, size: 48, batch_size: 8}",
                                     f"data: {{name: test-patterns, size: 48, side: 8, batch_size: 8, workers: 1, in_memory: false, log: {log}}}"))  # fmt: skip
    run_ranks(2, train, spec, tmp_path / "two", ("train.steps=3", "train.d_steps=1"))
    by_rank = reads(log)
    assert sorted(by_rank) == ["0", "1"]
    order = permutation(3, 0, 48).tolist()
    shares = {str(r): [order[b * 8 + 4 * r : b * 8 + 4 * r + 4] for b in range(6)] for r in range(2)}
    for rank, got in by_rank.items():
        assert len(got) == len(set(got)), f"rank {rank} read an index twice"
        batches = len(got) // 4
        assert batches >= 3 and sorted(got) == sorted(i for share in shares[rank][:batches] for i in share)
    assert not set(by_rank["0"]) & set(by_rank["1"])
    assert set(by_rank["0"][:12]) | set(by_rank["1"][:12]) == set(order[:24])


def test_in_memory_true_on_an_augmenting_split_is_an_error(tmp_path: Path, plugins: Plugins) -> None:
    plugins.register(PatternsPlugin(), "test-streamed-data")
    spec = tmp_path / "streamed.yaml"
    spec.write_text(STREAMED_SPEC)
    result = invoke("run", str(spec), "--out", str(tmp_path / "r"), "--set", "data.in_memory=true")
    assert result.exit_code == 2 and "draws a fresh augmentation every time" in result.output.strip().splitlines()[-1]


@pytest.mark.parametrize("workers", [0, 2])
def test_workers_do_not_change_the_batches(workers: int) -> None:
    split = Patterns(size=12, side=4, augments=True).split
    one = BatchStream(split, 4, torch.device("cpu"), seed=1, workers=0)
    other = BatchStream(split, 4, torch.device("cpu"), seed=1, workers=workers)
    for _ in range(4):
        assert torch.equal(next(one).samples, next(other).samples)


# ---- the conformance kit checks a streamed split ------------------------------------------------

class _Unpicklable(PatternSplit):
    def __init__(self) -> None:
        super().__init__(6, 4, False, False, None)
        self.reader = lambda: None  # a lambda does not pickle: workers could not receive the split


class _Restless(PatternSplit):
    def get(self, index: int, generator: torch.Generator | None = None) -> Sample:
        return Sample(torch.randint(0, 255, (1, 4, 4), dtype=torch.uint8))  # global RNG: not repeatable


def _dataset_of(split: Split) -> type[Dataset]:
    class Holder(Dataset):
        def __init__(self) -> None:
            self.image_shape = (1, 4, 4)

        def load(self, name: str = "train") -> Split:
            return split

    return Holder


def test_the_kit_passes_a_streamed_split() -> None:
    check_dataset(Patterns, size=10, side=4, augments=True)
    check_dataset(Patterns, size=10, side=4, labelled=True)


@pytest.mark.parametrize(("split", "problem"), [
    (_Unpicklable(), "cannot be pickled for DataLoader worker processes"),
    (_Restless(6, 4, False, False, None), "get(index) without a generator gives different samples"),
])  # fmt: skip
def test_the_kit_finds_a_streamed_split_workers_cannot_use(split: Split, problem: str) -> None:
    with pytest.raises(ConformanceError, match=re.escape(problem)):
        check_dataset(_dataset_of(split))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_pinned_batches_copied_during_the_step_are_the_cpu_batches() -> None:
    """Pinned memory and the side-stream copy of the next batch change nothing: the batches on the
    GPU equal the CPU's, and a stream started mid-epoch continues them."""
    split = Patterns(size=40, side=16, labelled=True, augments=True).split
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    on_gpu = BatchStream(split, 8, cuda, seed=3, workers=2, mirror=True)
    on_cpu = BatchStream(split, 8, cpu, seed=3, workers=0, mirror=True)
    batches = []
    for _ in range(12):
        gpu, host = next(on_gpu), next(on_cpu)
        assert gpu.samples.is_cuda and gpu.labels is not None and gpu.labels.is_cuda
        assert torch.equal(gpu.samples.cpu(), host.samples) and torch.equal(gpu.inputs["noisy"].cpu(), host.inputs["noisy"])
        batches.append(host.samples)
    later = BatchStream(split, 8, cuda, seed=3, epoch=1, batch=2, workers=1, mirror=True)
    for expected in batches[7:]:
        assert torch.equal(next(later).samples.cpu(), expected)
    held = BatchStream(hold_in_memory(Patterns(size=40, side=16).split), 8, cuda, seed=3, mirror=True)
    streamed = BatchStream(Patterns(size=40, side=16).split, 8, cuda, seed=3, workers=2, mirror=True)
    for _ in range(6):
        assert torch.equal(next(held).samples, next(streamed).samples)
