"""Trained-model quality on real Fashion-MNIST: every 28×28 spec, a fixed number of epochs, one table.

    python bench/quality.py                                  # lsgan cgan gan infogan dcgan, 5 epochs each
    python bench/quality.py --specs lsgan cgan:10            # cgan for 10 epochs, lsgan for --epochs
    python bench/quality.py --reuse                          # print the table from finished runs

Each spec is trained by ``ganforge run`` in a subprocess with its data set to Fashion-MNIST
(``gan``, ``infogan`` are written for MNIST and ``dcgan`` for CIFAR-10: their networks and
hyperparameters are kept, only the data changes) and its metrics replaced by the table's:

- classifier FID (10,000 samples against the training split, the domain classifier's
  features) after every epoch;
- for conditional specs, after every epoch: accuracy (share of 10,000 samples the
  classifier puts in the class asked for; in brackets the classifier's accuracy on the
  real test images, which a generator as good as the data would score) and per-class diversity (``class-diversity``:
  RMS feature distance to the class mean, generated over real test images, mean over the
  classes; 1.0 = as diverse as the real test set).

The table gives FID per epoch, the best (and its epoch) and the final value, the final
accuracy and diversity, and the wall time of the run (training and evaluation). Runs go to
``--out``/<spec>; the machine should be otherwise quiet, or the times mean little.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPECS = ("lsgan", "cgan", "gan", "infogan", "dcgan")
FID = {"name": "fid", "every": "1 epoch", "samples": 10000}
CONDITIONAL = [
    {"name": "accuracy", "every": "1 epoch", "samples": 10000},
    {"name": "class-diversity", "every": "1 epoch", "samples_per_class": 1000},
]


def is_conditional(spec: dict[str, Any]) -> bool:
    return bool((spec.get("generator") or {}).get("num_classes"))


def overrides(spec: dict[str, Any], epochs: int | None) -> list[str]:
    """The ``--set`` arguments that make a spec one row of the table."""
    metrics = [FID, *(CONDITIONAL if is_conditional(spec) else [])]
    sets = ["data.name=fashion-mnist", f"metrics={json.dumps(metrics)}", "train.steps=null"]
    if epochs is not None:
        sets.append(f"train.epochs={epochs}")
    return [arg for value in sets for arg in ("--set", value)]


def train(name: str, out: Path, epochs: int | None, threads: int | None) -> float:
    """Run one spec; its wall time in seconds."""
    spec = yaml.safe_load((ROOT / "specs" / f"{name}.yaml").read_text())
    command = [sys.executable, "-m", "ganforge", "run", str(ROOT / "specs" / f"{name}.yaml"), *overrides(spec, epochs), "--out", str(out), "--overwrite", "--quiet"]
    env = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
    started = time.perf_counter()
    with (out.parent / f"{name}.log").open("w") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{name}: ganforge run exited with {done.returncode}; see {out.parent / f'{name}.log'}")
    (out / "quality-wall.json").write_text(json.dumps({"wall_s": wall}))
    return wall


def row(name: str, out: Path) -> dict[str, Any]:
    """One spec's figures from its run directory's metrics.jsonl."""
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    evaluated = [r for r in records if "fid" in r]
    if not evaluated:
        raise SystemExit(f"{name}: {out / 'metrics.jsonl'} holds no FID; was the run finished?")
    fids = [r["fid"] for r in evaluated]
    best = min(range(len(fids)), key=fids.__getitem__)
    last = evaluated[-1]
    wall_file = out / "quality-wall.json"
    return {
        "spec": name,
        "epochs": len(fids),
        "fid": fids,
        "best": fids[best],
        "best_epoch": best + 1,
        "final": fids[-1],
        "accuracy": last.get("accuracy"),
        "accuracy_real": last.get("accuracy/real"),
        "diversity": last.get("class-diversity"),
        "diversity_min": last.get("class-diversity/min"),
        "wall_s": json.loads(wall_file.read_text())["wall_s"] if wall_file.exists() else None,
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| spec | epochs | classifier FID per epoch | best (epoch) | final | accuracy (real) | class diversity (min) | wall |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        per_epoch = ", ".join(f"{v:.1f}" for v in r["fid"])
        accuracy = "–" if r["accuracy"] is None else f"{r['accuracy']:.3f}"
        if r["accuracy"] is not None and r.get("accuracy_real") is not None:
            accuracy += f" ({r['accuracy_real']:.3f})"
        diversity = "–" if r["diversity"] is None else f"{r['diversity']:.2f} ({r['diversity_min']:.2f})"
        wall = "–" if r["wall_s"] is None else f"{r['wall_s'] / 60:.1f} min"
        lines.append(f"| {r['spec']} | {r['epochs']} | {per_epoch} | {r['best']:.1f} ({r['best_epoch']}) | {r['final']:.1f} | {accuracy} | {diversity} | {wall} |")
    return "\n".join(lines)


def parse_entry(entry: str, default_epochs: int, parser: argparse.ArgumentParser) -> tuple[str, int | None]:
    """``NAME`` or ``NAME:EPOCHS`` -> (name, epochs; None for the spec's own length)."""
    name, _, epochs = entry.partition(":")
    if not (ROOT / "specs" / f"{name}.yaml").exists():
        parser.error(f"no spec specs/{name}.yaml")
    if epochs and not epochs.isdigit():
        parser.error(f"{entry}: EPOCHS must be a whole number")
    count = int(epochs) if epochs else default_epochs
    return name, count or None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--specs", nargs="+", default=list(DEFAULT_SPECS), help="spec names under specs/, each NAME or NAME:EPOCHS")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per spec; 0: each spec's own length")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "quality")
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for the runs")
    parser.add_argument("--reuse", action="store_true", help="do not train: read the runs already under --out")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args()
    plan = [parse_entry(entry, args.epochs, parser) for entry in args.specs]
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, epochs in plan:
        out = args.out / name
        if not args.reuse:
            print(f"{name}: training ({'own length' if epochs is None else f'{epochs} epochs'}) into {out}", flush=True)
            wall = train(name, out, epochs, args.threads)
            print(f"{name}: done in {wall / 60:.1f} min", flush=True)
        rows.append(row(name, out))
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
