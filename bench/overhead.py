"""ganforge's trainer step against a hand-written PyTorch loop: same networks, same batch.

    python bench/overhead.py [--steps 30] [--rounds 7] [--batch-size 64] [--width 64]

Both sides start from identical copies of the DCGAN generator and discriminator built
from specs/lsgan.yaml, use Adam with the spec's settings and the LSGAN (0, 1, 1) loss, and
train on the same single batch (ganforge's dataset holds exactly one batch). They run in one
process, interleaved in rounds, so load on the machine hits both alike. The ratio is of
median seconds per step; ganforge's side includes its batch indexing, uint8 conversion, loss
bookkeeping and the rest of the step, the hand loop gets its batch pre-converted.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent


def hand_written_step(G, D, opt_g, opt_d, real, latent_dim) -> None:
    """The reference DCGAN loop (pytorch/examples), with the LSGAN objective."""
    z = torch.randn(real.shape[0], latent_dim)
    fake = G(z)
    opt_d.zero_grad(set_to_none=True)
    loss_d = 0.5 * ((D(real) - 1).pow(2).mean() + D(fake.detach()).pow(2).mean())
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad(set_to_none=True)
    loss_g = 0.5 * (D(fake) - 1).pow(2).mean()
    loss_g.backward()
    opt_g.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="steps per side per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--width", type=int, default=64)
    args = parser.parse_args()

    from ganforge.experiment import build_experiment
    from ganforge.plugins import get_plugins
    from ganforge.spec import apply_overrides, load_spec
    from ganforge.training.progress import LineProgress
    from ganforge.training.rundir import RunDir
    from ganforge.training.trainer import Trainer

    overrides = [
        "device=cpu",
        f"data={{name: synthetic, size: {args.batch_size}, batch_size: {args.batch_size}}}",
        f"generator.width={args.width}",
        f"discriminator.width={args.width}",
        "train.ema=null",
    ]
    spec = apply_overrides(load_spec(ROOT / "specs/lsgan.yaml"), overrides)
    experiment = build_experiment(spec, get_plugins().registry)
    G, D = copy.deepcopy(experiment.generator), copy.deepcopy(experiment.discriminator)
    opt_g, opt_d = experiment.make_optimizer("generator", G), experiment.make_optimizer("discriminator", D)
    real = experiment.dataset.load().samples.float().div(127.5).sub(1.0)

    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(experiment, RunDir(tmp), LineProgress(stream=open("/dev/null", "w")))
        trainer.prepare()

        def time_block(step) -> float:
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            return (time.perf_counter() - start) / args.steps

        def hand() -> None:
            hand_written_step(G, D, opt_g, opt_d, real, G.latent_dim)

        def ganforge_step() -> None:
            trainer.train_step()
            trainer.step += 1
            if trainer.step % trainer.cfg.log_every == 0:
                trainer._pending = {}  # what _flush_losses clears, without writing a file

        time_block(hand), time_block(ganforge_step)  # warm-up
        hand_times, gf_times = [], []
        for _ in range(args.rounds):
            hand_times.append(time_block(hand))
            gf_times.append(time_block(ganforge_step))
    h, g = statistics.median(hand_times), statistics.median(gf_times)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch_size}, width {args.width}, "
          f"{args.rounds} rounds x {args.steps} steps per side")  # fmt: skip
    print(f"hand-written loop: {h * 1e3:8.2f} ms/step")
    print(f"ganforge trainer:  {g * 1e3:8.2f} ms/step")
    print(f"ratio ganforge / hand-written: {g / h:.3f}")
    sys.exit(0)


if __name__ == "__main__":
    main()
