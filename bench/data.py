"""Data at scale: time to the first step and peak memory of ``ganforge run`` against the number of
images, the loader's images/s against torchvision's ImageFolder + DataLoader and against the
decode limit, and steps/s on in-memory data.

    python bench/data.py                                  # 1k, 10k and 100k JPEGs at 128x128
    python bench/data.py --sizes 1000 10000 --workers 2   # what fits a small machine
    python bench/data.py --before-python /tmp/venv-main/bin/python   # in-memory steps/s: this checkout vs another install

It writes its own data under ``--root`` (JPEG folders of N random-texture images, quality 90,
and a ZIP of the largest packed by ``ganforge dataset pack``) and reuses it on the next call.

1. ``ganforge run`` of a tiny MLP GAN on the folder (``data.in_memory: false``, one step), run
   twice: the first indexes the folder afresh, the second finds the index cached and the files in the OS cache; seconds from the process start to its
   first logged step, the peak resident memory of the process and its DataLoader workers
   together (sampled from /proc every 20 ms), beside the start-up of Python, torch and the
   plugins alone and the first step of the same networks in a hand-written PyTorch loop on a
   random batch: ganforge's first step less that loop's is what ganforge and the data add.
2. Images/s over ``--batches`` batches of 64 (after one warm-up batch, every file read once
   beforehand so that no loader pays for the disk the others do not): ganforge's batch stream
   on the folder and on the ZIP, torchvision's ``ImageFolder`` (PIL decode, Resize(128),
   CenterCrop(128), PILToTensor) in a ``DataLoader`` with the same workers, batch and shuffling,
   and the decode limit: one process decoding the same JPEGs with ``torchvision.io`` in a loop,
   times the workers.
3. Steps/s of ``specs/lsgan.yaml`` (Fashion-MNIST when it is on this machine, else the
   ``synthetic`` dataset of the same shape and size) held in memory: ``--steps`` steps after
   ``--warmup``, for this checkout and, with ``--before-python``, for another install.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIZE = 128
SPEC = """\
seed: 0
device: cpu
generator: {{name: mlp, latent_dim: 16, hidden: [32]}}
discriminator: {{name: mlp, hidden: [32]}}
loss: lsgan
data: {{name: image-folder, root: {root}, image_size: {size}, batch_size: 64, workers: {workers}, in_memory: false}}
train: {{steps: 1, log_every: 1, samples: 4}}
logging: {{plots: false}}
"""


def make_folder(folder: Path, count: int) -> Path:
    """``count`` JPEGs of 160x144 (resized and cropped to 128 when read), in one class folder."""
    images = folder / "all"
    done = len(list(images.glob("*.jpg"))) if images.is_dir() else 0
    if done >= count:
        return folder
    from PIL import Image

    images.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (36, 40, 3), dtype=np.uint8)
    started = time.perf_counter()
    for i in range(done, count):
        texture = np.roll(base, (i % 36, i % 40), axis=(0, 1)) ^ np.uint8(i % 251)
        Image.fromarray(texture).resize((160, 144), Image.Resampling.BILINEAR).save(images / f"{i:07d}.jpg", quality=90)
        if (i + 1) % 5000 == 0:
            print(f"  wrote {i + 1:,}/{count:,} JPEGs ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return folder


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and every process under it."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return total


def startup() -> float:
    """Seconds ``python -c 'import torch, ganforge.cli'`` with the plugins loaded takes: Python and
    torch starting (the plugins import their components only when asked), the same for any dataset."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, ganforge.cli; from ganforge.plugins import get_plugins; get_plugins()"], check=True,
                   env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    return time.perf_counter() - started


#: the same two MLPs, Adam and one LSGAN step on a random batch, written by hand: the floor of any
#: PyTorch trainer's first step (torch's first ``optimizer.step`` imports ``torch._dynamo``).
HANDWRITTEN = f"""
import torch
from torch import nn
size = 3 * {SIZE} * {SIZE}
g = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, size), nn.Tanh())
d = nn.Sequential(nn.Flatten(), nn.Linear(size, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
opt_g, opt_d = torch.optim.Adam(g.parameters(), 2e-4), torch.optim.Adam(d.parameters(), 2e-4)
real = torch.rand(64, size) * 2 - 1
fake = g(torch.randn(64, 16))
loss_d = ((d(real) - 1) ** 2).mean() + (d(fake.detach()) ** 2).mean()
opt_d.zero_grad(); loss_d.backward(); opt_d.step()
loss_g = ((d(fake) - 1) ** 2).mean()
opt_g.zero_grad(); loss_g.backward(); opt_g.step()
"""


def handwritten() -> float:
    """Seconds from the start of a Python process to the end of :data:`HANDWRITTEN`'s step."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", HANDWRITTEN], check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return time.perf_counter() - started


def first_step(root: Path, workers: int, scratch: Path, out: Path) -> tuple[float, float]:
    """(seconds to the first logged step, peak RSS in MiB) of ``ganforge run`` on ``root`` into ``out``."""
    spec = scratch / "spec.yaml"
    spec.write_text(SPEC.format(root=root, size=SIZE, workers=workers))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "ganforge", "run", str(spec), "--out", str(out), "--quiet"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    peak, step_at = 0, None
    while process.poll() is None:
        peak = max(peak, tree_rss(process.pid))
        if step_at is None and (out / "metrics.jsonl").is_file() and (out / "metrics.jsonl").stat().st_size:
            step_at = time.perf_counter() - started
        time.sleep(0.02)
    if process.returncode:
        raise SystemExit(f"ganforge run failed: {process.stderr.read().decode() if process.stderr else ''}")
    return (step_at if step_at is not None else time.perf_counter() - started), peak / 2**20


def ganforge_rate(root: Path, workers: int, batches: int) -> float:
    import torch

    from ganforge.training.batches import BatchStream
    from ganforge_builtins.data.image_folder import ImageFolder

    split = ImageFolder(str(root), image_size=SIZE).load()
    stream = BatchStream(split, 64, torch.device("cpu"), seed=0, workers=workers)
    next(stream)
    started = time.perf_counter()
    for _ in range(batches):
        next(stream)
    return batches * 64 / (time.perf_counter() - started)


def torchvision_rate(root: Path, workers: int, batches: int) -> float:
    import torch
    from torchvision import datasets, transforms

    dataset = datasets.ImageFolder(str(root), transforms.Compose([transforms.Resize(SIZE), transforms.CenterCrop(SIZE), transforms.PILToTensor()]))
    loader = iter(torch.utils.data.DataLoader(dataset, batch_size=64, shuffle=True, num_workers=workers, drop_last=True))
    next(loader)
    started = time.perf_counter()
    for _ in range(batches):
        next(loader)
    return batches * 64 / (time.perf_counter() - started)


def decode_limit(root: Path, images: int) -> float:
    """Images/s of one process reading and decoding JPEGs with torchvision.io, nothing else."""
    import torch
    from torchvision.io import decode_jpeg

    files = sorted((root / "all").glob("*.jpg"))[:images]
    started = time.perf_counter()
    for path in files:
        decode_jpeg(torch.frombuffer(bytearray(path.read_bytes()), dtype=torch.uint8))
    return len(files) / (time.perf_counter() - started)


def lsgan_rate(python: str, steps: int, warmup: int, scratch: Path) -> tuple[float, str]:
    """Steps/s of specs/lsgan.yaml with in-memory data, between step ``warmup`` and ``warmup + steps``."""
    spec = Path(__file__).resolve().parents[1] / "specs" / "lsgan.yaml"
    code = f"""
import json, sys, time
from ganforge.cli.common import experiment_from
from ganforge.errors import GanforgeError
from ganforge.training.progress import NoProgress
from ganforge.training.rundir import RunDir
from ganforge.training.trainer import Trainer
sets = ["train.steps={warmup + steps}", "metrics=[]", "train.log_every=50", "train.ema=null", "device=cpu", "logging.plots=false"]
try:
    experiment, data = experiment_from({str(spec)!r}, tuple(sets)), "fashion-mnist"
    experiment.dataset.load("train")
except GanforgeError:
    experiment, data = experiment_from({str(spec)!r}, tuple(sets + ["data={{name: synthetic, image_size: 28, channels: 1, size: 60000, batch_size: 64}}"])), "synthetic 60000x1x28x28"
trainer = Trainer(experiment, RunDir({str(scratch / "lsgan")!r}), NoProgress())
trainer.prepare()
for _ in range({warmup}):
    trainer.train_step(); trainer.state.step += 1
started = time.perf_counter()
for _ in range({steps}):
    trainer.train_step(); trainer.state.step += 1
print(json.dumps([{steps} / (time.perf_counter() - started), data]))
"""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    result = subprocess.run([python, "-c", code], env=env, capture_output=True, text=True, check=False, cwd=tempfile.gettempdir())
    if result.returncode:
        raise SystemExit(f"lsgan timing failed with {python}:\n{result.stderr[-2000:]}")
    rate, data = json.loads(result.stdout.strip().splitlines()[-1])
    return rate, data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000], help="dataset sizes (images)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batches", type=int, default=30, help="batches of 64 timed per loader")
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "ganforge-bench-data")
    parser.add_argument("--steps", type=int, default=300, help="lsgan steps timed")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--before-python", help="the python of another ganforge install, timed on the same lsgan steps")
    parser.add_argument("--skip", nargs="*", default=[], choices=["start", "loader", "lsgan"])
    args = parser.parse_args()
    os.environ.setdefault("GANFORGE_CACHE", str(args.root / "cache"))
    folders = {n: make_folder(args.root / f"jpeg-{n}", n) for n in args.sizes}
    print(f"# bench/data.py on {os.cpu_count()} CPUs, images {SIZE}x{SIZE}, workers {args.workers}: python bench/data.py {' '.join(sys.argv[1:])}")
    if "start" not in args.skip:
        base = min(startup() for _ in range(2))
        floor = min(handwritten() for _ in range(2))
        print(f"\nPython, torch and ganforge's plugins alone start in {base:.1f} s; a hand-written PyTorch loop's first step"
              f" (the same MLPs and loss on a random batch, from the process start) ends after {floor:.1f} s."
              " The last column is ganforge's first step less that loop's.")  # fmt: skip
        print("\n| images | first step (index read afresh) | first step (index cached, files in the OS cache) | peak RSS, process + workers | first step less the hand-written loop's |\n|---:|---:|---:|---:|---:|")
        for n, folder in folders.items():
            with tempfile.TemporaryDirectory() as scratch:
                shutil.rmtree(Path(os.environ["GANFORGE_CACHE"]) / "index" / "sources", ignore_errors=True)  # the first run indexes afresh
                cold, _ = first_step(folder, args.workers, Path(scratch), Path(scratch) / "first")
                warm, rss = first_step(folder, args.workers, Path(scratch), Path(scratch) / "second")
            print(f"| {n:,} | {cold:.1f} s | {warm:.1f} s | {rss:,.0f} MiB | {warm - floor:.1f} s |", flush=True)
    if "loader" not in args.skip:
        n = max(folders)
        packed = args.root / f"packed-{n}.zip"
        if not packed.is_file():
            subprocess.run([sys.executable, "-m", "ganforge", "dataset", "pack", str(folders[n]), str(packed), "--size", str(SIZE),
                            "--workers", str(args.workers)], check=True)  # fmt: skip
        for path in [*(folders[n] / "all").iterdir(), packed]:  # every loader reads from the OS cache, whichever runs first
            path.read_bytes()
        rates = {
            "ganforge image-folder (JPEG folder)": ganforge_rate(folders[n], args.workers, args.batches),
            "ganforge image-folder (packed ZIP of 128² PNGs)": ganforge_rate(packed, args.workers, args.batches),
            "torchvision ImageFolder + DataLoader (JPEG folder)": torchvision_rate(folders[n], args.workers, args.batches),
            f"decode limit (torchvision.io decode_jpeg in one process) x {args.workers}": decode_limit(folders[n], 64 * args.batches) * max(1, args.workers),
        }
        print(f"\n| loader, {n:,} images, {args.workers} workers, batch 64 | images/s |\n|---|---:|")
        for name, rate in rates.items():
            print(f"| {name} | {rate:,.0f} |", flush=True)
    if "lsgan" not in args.skip:
        with tempfile.TemporaryDirectory() as scratch:
            rate, data = lsgan_rate(sys.executable, args.steps, args.warmup, Path(scratch))
            print(f"\nspecs/lsgan.yaml on {data}, in memory: {rate:.1f} steps/s (this checkout)")
            if args.before_python:
                before, _ = lsgan_rate(args.before_python, args.steps, args.warmup, Path(scratch))
                print(f"specs/lsgan.yaml on {data}, in memory: {before:.1f} steps/s ({args.before_python})")


if __name__ == "__main__":
    main()
