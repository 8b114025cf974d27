"""Mode collapse on the toy benchmarks, measured as VEEGAN and PacGAN measure it.

    python bench/toy.py [--datasets ring grid] [--methods bce wgan-gp pacgan2 pacgan4 r3gan]
                        [--seeds 3] [--steps N] [--jobs 2] [--out runs/toy] [--json results.json]
    python bench/toy.py --spec mine=path/to/spec.yaml      # any spec, as one more row

Every (method, dataset, seed) is one independent `ganforge run` in its own subprocess, with
one thread each (OMP_NUM_THREADS=1), ``--jobs`` of them at a time. A method is a spec plus
``--set`` overrides (the table below); the dataset is swapped with ``--set data.name=...``
and the seed with ``--set seed=...``. Each run ends with one evaluation of the
``mode-coverage`` metric on 2,500 samples (of the EMA generator when the spec keeps one):

- a sample is *high quality* when it lies within 3 standard deviations of its nearest mode;
- a mode is *covered* when at least one high-quality sample is nearest to it;
- *reverse KL* is KL(generated || true) between the mode histograms: every sample counted at
  its nearest mode, against the uniform distribution over the modes.

The table gives the mean ± sample standard deviation over the seeds. ``--steps`` shortens
every run (default: each spec's own ``train.steps``, 20,000).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
#: modes in each benchmark, for the table's header.
MODES = {"ring": 8, "grid": 25}
#: WGAN-GP on the toy data as specs/ring.yaml documents it: 5 critic steps, a linear generator
#: output, the benchmark's own units, lr 1e-3, no EMA.
WGAN_GP = [
    "loss={name: wgan-gp}", "train.d_steps=5", "generator.output=linear", "data.normalise=false", "train.ema=null",
    "optimizers.generator={name: Adam, lr: 1.0e-3, betas: [0.5, 0.9]}",
    "optimizers.discriminator={name: Adam, lr: 1.0e-3, betas: [0.5, 0.9]}",
]  # fmt: skip


@dataclass(frozen=True)
class Method:
    """One row of the table: a spec and the overrides that make the method."""

    name: str
    spec: Path
    overrides: tuple[str, ...] = ()
    label: str = ""


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("bce", SPECS / "ring.yaml", label="`bce` (GAN, non-saturating)"),
        Method("wgan-gp", SPECS / "ring.yaml", tuple(WGAN_GP), label="`wgan-gp` (5 critic steps)"),
        Method("pacgan2", SPECS / "pacgan-ring.yaml", ("discriminator.pack=2",), label="`pacgan` m = 2, `bce`"),
        Method("pacgan4", SPECS / "pacgan-ring.yaml", ("discriminator.pack=4",), label="`pacgan` m = 4, `bce`"),
        Method("r3gan", SPECS / "r3gan-ring.yaml", label="`rpgan` + `r1` + `r2` (γ = 0.1)"),
    )
}


@dataclass
class Run:
    method: Method
    dataset: str
    seed: int
    result: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    error: str = ""


def spec_steps(spec: Path) -> int:
    """The spec's own ``train.steps``."""
    import yaml

    steps = (yaml.safe_load(spec.read_text()).get("train") or {}).get("steps")
    if not isinstance(steps, int):
        raise SystemExit(f"{spec}: train.steps is not set; pass --steps")
    return steps


def command(run: Run, steps: int | None, out: Path) -> list[str]:
    """The `ganforge run` command line of one run (``steps`` None: the spec's own length)."""
    sets = [
        *run.method.overrides,
        "device=cpu",
        f"seed={run.seed}",
        f"data.name={run.dataset}",
        "logging={plots: false}",
        "train.checkpoint_every=null",
    ]
    if steps is not None:
        sets += [f"train.steps={steps}", f"train.log_every={min(500, steps)}"]
    every = steps if steps is not None else spec_steps(run.method.spec)
    sets.append(f"metrics=[{{name: mode-coverage, every: {every}, num_samples: 2500, sigmas: 3.0, min_samples: 1}}]")
    args = [sys.executable, "-m", "ganforge", "run", str(run.method.spec), "--quiet", "--out", str(out)]
    return args + [a for s in sets for a in ("--set", s)]


def execute(run: Run, steps: int | None, out: Path) -> Run:
    """One run in a subprocess with one thread; its last mode-coverage record."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    start = time.perf_counter()
    done = subprocess.run(command(run, steps, out), env=env, capture_output=True, text=True)
    run.seconds = time.perf_counter() - start
    if done.returncode != 0:
        run.error = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return run
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
    finals = [r for r in records if "modes" in r]
    if not finals:
        run.error = "no mode-coverage record in metrics.jsonl"
        return run
    run.result = {k: float(finals[-1][k]) for k in ("modes", "high_quality", "mode_kl")}
    return run


def mean_std(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
    values = [v * scale for v in values]
    if not values:
        return "–"
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def table(runs: list[Run], datasets: list[str], methods: list[Method]) -> str:
    """The markdown table: one row per method, three columns per benchmark."""
    head = "| method |" + "".join(f" {d}: modes (of {MODES.get(d, '?')}) | {d}: high quality % | {d}: reverse KL |" for d in datasets)
    lines = [head, "|---|" + "---|---|---|" * len(datasets)]
    for method in methods:
        cells = []
        for d in datasets:
            done = [r for r in runs if r.method is method and r.dataset == d and r.result]
            failed = [r for r in runs if r.method is method and r.dataset == d and r.error]
            note = f" ({len(failed)} failed)" if failed else ""
            cells += [
                mean_std([r.result["modes"] for r in done]) + note,
                mean_std([r.result["high_quality"] for r in done], 100.0),
                mean_std([r.result["mode_kl"] for r in done], digits=3),
            ]
        lines.append(f"| {method.label or method.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--datasets", nargs="+", default=["ring", "grid"], choices=sorted(MODES))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS), help="built-in rows (default: all)")
    parser.add_argument("--spec", action="append", default=[], metavar="NAME=PATH", help="another spec as a row (repeatable)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per method and dataset (0, 1, ...)")
    parser.add_argument("--steps", type=int, default=None, help="generator steps per run (default: each spec's train.steps)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time, one thread each")
    parser.add_argument("--out", type=Path, default=None, help="where the run directories go (default: a temporary folder)")
    parser.add_argument("--json", type=Path, default=None, help="also write every run's result here")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.jobs < 1 or (args.steps is not None and args.steps < 1):
        parser.error("--seeds, --jobs and --steps must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    methods = [METHODS[m] for m in args.methods]
    for entry in args.spec:
        name, _, path = entry.partition("=")
        if not path or not Path(path).is_file():
            raise SystemExit(f"--spec {entry}: expected NAME=PATH to an existing spec file")
        methods.append(Method(name, Path(path), label=name))
    runs = [Run(m, d, s) for d in args.datasets for m in methods for s in range(args.seeds)]
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(execute, r, args.steps, root / f"{r.dataset}-{r.method.name}-seed{r.seed}") for r in runs]
            for future in futures:
                r = future.result()
                status = r.error or ", ".join(f"{k}={v:.4g}" for k, v in r.result.items())
                print(f"{r.dataset} {r.method.name} seed {r.seed}: {status} ({r.seconds:.0f} s)", file=sys.stderr, flush=True)
        wall = time.perf_counter() - start
    length = f"{args.steps} steps" if args.steps else "each spec's train.steps"
    print(table(runs, args.datasets, methods))
    print(f"\n{len(runs)} runs ({args.seeds} seeds, {length}, {args.jobs} at a time, one thread each): {wall / 60:.1f} min wall")
    if args.json:
        args.json.write_text(json.dumps([
            {"method": r.method.name, "dataset": r.dataset, "seed": r.seed, "seconds": r.seconds, "error": r.error, **r.result} for r in runs
        ], indent=1))  # fmt: skip
    return 1 if any(r.error for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
