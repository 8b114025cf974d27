"""Trainer steps per second in 1 process and in N processes (DDP, gloo on CPU, NCCL on GPUs).

    python bench/distributed_throughput.py [--procs 1 2] [--threads 1] [--steps 20] [--batch-size 64] [--width 64] [--device cpu]

Each configuration trains specs/lsgan.yaml's DCGAN on synthetic 28x28 images with the same
global batch (``distributed.batch: global``), so 1 and N processes do the same work per
step; the N-process figure includes DDP's gradient all-reduce. Processes are forked with
torchrun's environment; after 3 warm-up steps each times ``--steps`` steps between two
barriers, and rank 0 reports the median of ``--rounds`` rounds. ``--threads`` is the intra-op
thread count per process. On GPUs use --device cuda and at most one process per GPU.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import statistics
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(rank: int, world: int, port: int, args: argparse.Namespace, results: multiprocessing.Queue) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(args.threads)
    from ganforge import distributed
    from ganforge.cli.common import experiment_from
    from ganforge.training.progress import NoProgress
    from ganforge.training.rundir import RunDir
    from ganforge.training.trainer import Trainer

    overrides = (
        f"device={args.device}",
        f"data={{name: synthetic, size: {args.batch_size * 8}, batch_size: {args.batch_size}}}",
        f"generator.width={args.width}",
        f"discriminator.width={args.width}",
        "train.ema=null",
    )
    experiment = experiment_from(ROOT / "specs/lsgan.yaml", overrides)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(experiment, RunDir(tmp), NoProgress())
        trainer.prepare()
        sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
        barrier = torch.distributed.barrier if world > 1 else (lambda: None)

        def timed(steps: int) -> float:
            sync()
            barrier()
            start = time.perf_counter()
            for _ in range(steps):
                trainer.train_step()
            trainer.losses.take_means()
            sync()
            barrier()
            return time.perf_counter() - start

        timed(3)
        seconds = [timed(args.steps) / args.steps for _ in range(args.rounds)]
    if rank == 0:
        results.put(statistics.median(seconds))
    distributed.shutdown()


def measure(world: int, args: argparse.Namespace) -> float:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    port = free_port()
    processes = [context.Process(target=worker, args=(rank, world, port, args, results)) for rank in range(world)]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    if any(p.exitcode for p in processes):
        raise SystemExit(f"a worker failed (exit codes {[p.exitcode for p in processes]})")
    return results.get()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads per process")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, device {args.device}, DCGAN width {args.width}, "
          f"global batch {args.batch_size}, {args.threads} thread(s) per process, median of {args.rounds} x {args.steps} steps")  # fmt: skip
    base = None
    for world in args.procs:
        seconds = measure(world, args)
        base = base or seconds
        print(f"{world} process(es): {seconds * 1e3:8.1f} ms/step  {args.batch_size / seconds:8.1f} samples/s  speed-up {base / seconds:.2f}x")


if __name__ == "__main__":
    main()
