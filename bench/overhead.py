"""ganforge's trainer step against a hand-written PyTorch loop, in fp32, bf16 and compiled.

    python bench/overhead.py [--steps 30] [--rounds 7] [--batch-size 64] [--width 64]
                             [--modes fp32 bf16 compile] [--device cpu|cuda]

For each mode, both sides start from identical copies of the DCGAN generator and
discriminator built from specs/lsgan.yaml, use Adam with the spec's settings and the LSGAN
(0, 1, 1) loss, and train on the same single batch (ganforge's dataset holds exactly one
batch). The hand loop does in plain PyTorch what the mode asks for (``torch.autocast`` for
bf16/fp16, ``torch.compile`` of both networks for compile); ganforge gets the same through
``train.precision`` / ``train.compile``. Sides run in one process, interleaved in rounds, so
load on the machine hits both alike. Ratios are of median seconds per step; ganforge's side
includes its batch indexing, uint8 conversion, loss bookkeeping and the rest of the step.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import torch

ROOT = Path(__file__).resolve().parent.parent
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def hand_written_step(G: Any, D: Any, opt_g: Any, opt_d: Any, real: torch.Tensor, latent_dim: int, autocast: Any) -> None:
    """The reference DCGAN loop (pytorch/examples), with the LSGAN objective."""
    z = torch.randn(real.shape[0], latent_dim, device=real.device)
    with autocast():
        fake = G(z)
        loss_d = 0.5 * ((D(real) - 1).pow(2).mean() + D(fake.detach()).pow(2).mean())
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    with autocast():
        loss_g = 0.5 * (D(fake) - 1).pow(2).mean()
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()


def build_sides(mode: str, args: argparse.Namespace, tmp: str) -> tuple[Callable[[], None], Callable[[], None]]:
    """The hand-written step and ganforge's step for one mode, from identical networks."""
    from ganforge.experiment import build_experiment
    from ganforge.plugins import get_plugins
    from ganforge.spec import apply_overrides, load_spec
    from ganforge.spec.optimizers import build_optimizer
    from ganforge.training.progress import NoProgress
    from ganforge.training.rundir import RunDir
    from ganforge.training.trainer import Trainer

    overrides = [
        f"device={args.device}",
        f"data={{name: synthetic, size: {args.batch_size}, batch_size: {args.batch_size}}}",
        f"generator.width={args.width}",
        f"discriminator.width={args.width}",
        "train.ema=null",
        "metrics=[]",
        f"train.precision={mode if mode in DTYPES else 'fp32'}",
        f"train.compile={'true' if mode == 'compile' else 'false'}",
    ]
    spec = apply_overrides(load_spec(ROOT / "specs/lsgan.yaml"), overrides)
    experiment = build_experiment(spec, get_plugins().registry)
    device = torch.device(args.device)
    G, D = copy.deepcopy(experiment.generator).to(device), copy.deepcopy(experiment.discriminator).to(device)
    optimizers = experiment.resolved["optimizers"]
    opt_g, opt_d = build_optimizer(optimizers["generator"], G), build_optimizer(optimizers["discriminator"], D)
    real = experiment.dataset.load().samples.float().div(127.5).sub(1.0).to(device)
    if mode == "compile":
        G_call, D_call = torch.compile(G), torch.compile(D)
    else:
        G_call, D_call = G, D
    dtype = DTYPES.get(mode)

    def autocast() -> Any:
        return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()

    trainer = Trainer(experiment, RunDir(Path(tmp) / mode), NoProgress())
    trainer.prepare()

    def hand() -> None:
        hand_written_step(G_call, D_call, opt_g, opt_d, real, G.latent_dim, autocast)

    def ganforge_step() -> None:
        trainer.train_step()
        trainer.state.step += 1
        if trainer.state.step % trainer.cfg.log_every == 0:
            trainer.losses.take_means()  # what a flush does, without writing a file

    return hand, ganforge_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="steps per side per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--modes", nargs="+", default=["fp32", "bf16", "compile"], choices=["fp32", "bf16", "fp16", "compile"])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    def time_block(step: Callable[[], None]) -> float:
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        return (time.perf_counter() - start) / args.steps

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes:
            hand, ganforge_step = build_sides(mode, args, tmp)
            time_block(hand), time_block(ganforge_step)  # warm-up (and compilation)
            hand_times, gf_times = [], []
            for _ in range(args.rounds):
                hand_times.append(time_block(hand))
                gf_times.append(time_block(ganforge_step))
            rows.append((mode, statistics.median(hand_times), statistics.median(gf_times)))
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads, batch {args.batch_size}, "
          f"width {args.width}, {args.rounds} rounds x {args.steps} steps per side")  # fmt: skip
    print("| mode | hand-written loop (ms/step) | ganforge (ms/step) | ganforge / hand |")
    print("|---|---:|---:|---:|")
    fp32_hand = next((h for m, h, _ in rows if m == "fp32"), None)
    for mode, h, g in rows:
        print(f"| {mode} | {h * 1e3:.2f} | {g * 1e3:.2f} | {g / h:.3f} |")
    if fp32_hand is not None:
        print("speed-up over the fp32 hand loop: " + ", ".join(f"{m} {fp32_hand / g:.2f}x" for m, _, g in rows))


if __name__ == "__main__":
    main()
