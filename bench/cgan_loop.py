"""The seed's conditional DCGAN as a hand-written PyTorch loop, to set beside ``ganforge run``
of the seed's design (``specs/cgan.yaml`` with the overrides its header gives).

    python bench/cgan_loop.py --seed 0 --epochs 2 --out runs/cgan-hand-s0
    ganforge run specs/cgan.yaml --set seed=0 --set train.epochs=2 --set train.ema=null \
        --set generator.conditioning=concat --set discriminator.conditioning=channel --set discriminator.class_head=false \
        --set discriminator.dropout=0.3 --set loss.real_label=0.9 --set 'penalties=[]' \
        --out runs/cgan-ganforge-s0

Same networks (the ``dcgan`` plugin's classes, built in the spec's order after seeding), the
same data order (a permutation per epoch from ``seed * 100003 + epoch``, as ganforge's batch
stream draws it), the spec's hyperparameters (Adam 2e-4, betas (0.5, 0.999), batch 64,
one-sided label smoothing 0.9, dropout 0.3), one generator forward per step reused for the
generator update. After every epoch it measures what the spec measures (classifier FID and
accuracy on 10,000 samples) plus per-class diversity, with the same metric plugins on a
forked RNG, and appends a line to ``OUT/metrics.jsonl``. Nothing in the loop goes through
ganforge's trainer: if the two disagree beyond seed-to-seed noise, the trainer is at fault.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ganforge import EvalContext
from ganforge.plugins import get_plugins

BATCH_SIZE = 64
LATENT_DIM = 100
NUM_CLASSES = 10


def build(name: str, kind: str, **params: object) -> object:
    return get_plugins().registry.get(kind, name).factory(**params)


def evaluate(generator: torch.nn.Module, dataset: object, metrics: list[object], seed: int) -> dict[str, float]:
    was_training = generator.training
    generator.eval()
    values: dict[str, float] = {}
    with torch.random.fork_rng(devices=[]):
        for metric in metrics:
            values.update(metric.evaluate(EvalContext(generator, dataset, torch.device("cpu"), seed=seed)))  # type: ignore[attr-defined, arg-type]
    generator.train(was_training)
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=None, help="stop after this many steps (default: the epochs)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--root", default=None, help="folder of the Fashion-MNIST IDX files (default: where the dataset looks)")
    parser.add_argument("--samples", type=int, default=10000, help="samples for FID and accuracy (0: no metrics)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "metrics.jsonl"
    log.write_text("")

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    dataset = build("fashion-mnist", "dataset", **({"root": args.root} if args.root else {}))
    generator = build("dcgan", "generator", image_shape=(1, 28, 28), latent_dim=LATENT_DIM, width=64, num_classes=NUM_CLASSES, embed_dim=50)
    discriminator = build("dcgan", "discriminator", image_shape=(1, 28, 28), width=64, num_classes=NUM_CLASSES, dropout=0.3)
    metrics = [
        build("fid", "metric", samples=args.samples),
        build("accuracy", "metric", samples=args.samples),
        build("class-diversity", "metric"),
    ] if args.samples else []
    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))  # type: ignore[attr-defined]
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))  # type: ignore[attr-defined]

    train = dataset.load("train")  # type: ignore[attr-defined]
    images, labels = train.samples, train.labels
    per_epoch = len(images) // BATCH_SIZE
    total = args.steps or args.epochs * per_epoch
    started, step = time.perf_counter(), 0
    while step < total:
        epoch = step // per_epoch
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(args.seed * 100_003 + epoch))
        for b in range(per_epoch):
            index = order[b * BATCH_SIZE : (b + 1) * BATCH_SIZE]
            real = images[index].float() / 127.5 - 1.0
            y = labels[index]

            z = torch.randn(BATCH_SIZE, LATENT_DIM)
            fake = generator(z, y)  # type: ignore[operator]
            real_scores = discriminator(real, y)  # type: ignore[operator]
            fake_scores = discriminator(fake.detach(), y)  # type: ignore[operator]
            d_loss = F.binary_cross_entropy_with_logits(real_scores, torch.full_like(real_scores, 0.9)) + F.binary_cross_entropy_with_logits(
                fake_scores, torch.zeros_like(fake_scores)
            )
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()

            discriminator.requires_grad_(False)  # type: ignore[attr-defined]
            g_loss = F.softplus(-discriminator(fake, y)).mean()  # type: ignore[operator]
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            discriminator.requires_grad_(True)  # type: ignore[attr-defined]

            step += 1
            if step % 100 == 0:
                print(f"step {step}/{total}  loss/d={d_loss.item():.4g}  loss/g={g_loss.item():.4g}", flush=True)
            if step == total:
                break
        if step % per_epoch == 0 or step == total:
            values = evaluate(generator, dataset, metrics, args.seed)  # type: ignore[arg-type]
            record = {"step": step, "epoch": step / per_epoch, "wall_s": round(time.perf_counter() - started, 1), "loss/d": d_loss.item(), "loss/g": g_loss.item(), **values}
            with log.open("a") as f:
                f.write(json.dumps(record) + "\n")
            print(json.dumps(record), flush=True)
    torch.save(generator.state_dict(), args.out / "generator.pt")  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
