"""Benchmark of ganforge's FID against pytorch-fid's routes, on the same statistics and weights.

1. Fréchet distance at d = 2048 on synthetic ReLU features: pytorch-fid's
   ``scipy.linalg.sqrtm(Σ₁Σ₂)`` against ganforge's exact routes, one-shot (``frechet_distance``)
   and per evaluation with the reference prepared once (as during training), plus the
   relative difference of the values.
2. Feature extraction: images/s of the ``inception-v3`` extractor against a plain forward
   pass of the same network with the same random weights and inputs, the way pytorch-fid runs
   it (NCHW, ``torch.no_grad``, resize inside the model); the plain pass in channels-last
   layout is shown too.

    python bench/fid.py                       # everything, CPU or the GPU when there is one
    python bench/fid.py --skip-extraction --sizes 5000 1000
    # on a shared machine: one thread, CPU time of this process
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python bench/fid.py --clock cpu
"""

from __future__ import annotations

import argparse
import statistics as stats_module
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from ganforge.stats import FeatureStats, FrechetReference, frechet_distance_sqrtm  # noqa: E402


def relu_features(n: int, d: int, mixing: torch.Tensor, shift: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, d, generator=g) @ mixing + shift).relu()


#: "wall" or "cpu": CPU time of this process is the fairer clock on a shared, oversubscribed
#: machine (run single-threaded then: OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1).
CLOCK = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter


def timed(fn, reps: int = 1) -> tuple[float, object]:
    times, result = [], None
    for _ in range(reps):
        start = clock()
        result = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(clock() - start)
    return stats_module.median(times), result


def bench_distance(n: int, d: int, reps: int, device: torch.device) -> dict:
    g = torch.Generator().manual_seed(0)
    mixing = torch.randn(d, d, generator=g) / d**0.5
    a = FeatureStats.from_features(relu_features(n, d, mixing, 0.0, 1).to(device))
    b = FeatureStats.from_features(relu_features(n, d, mixing * 1.1, 0.2, 2).to(device))
    arrays = [t.cpu().numpy() for t in (a.mu, a.sigma, b.mu, b.sigma)]
    sqrtm_s, sqrtm_value = timed(lambda: frechet_distance_sqrtm(*arrays))
    first_s, _ = timed(lambda: FrechetReference(a).distance(b), reps)  # one-shot: factor the reference every time
    reference = FrechetReference(a)
    reference.distance(b)  # prepares the Cholesky factor (or the centred reference vectors) once
    cached_s, value = timed(lambda: reference.distance(b), reps)
    row = {
        "n": n, "route": reference.last_route, "sqrtm_s": sqrtm_s, "first_s": first_s, "cached_s": cached_s,
        "speedup_first": sqrtm_s / first_s, "speedup": sqrtm_s / cached_s, "fid": value, "fid_sqrtm": sqrtm_value,
        "rel_diff": abs(value - sqrtm_value) / abs(sqrtm_value),
    }  # fmt: skip
    if n <= d:  # the same statistics without their vectors: rank known (an .npz), and unknown (pytorch-fid's)
        row["fid_rank"] = FrechetReference(FeatureStats(a.mu, a.sigma, a.n)).distance(FeatureStats(b.mu, b.sigma, b.n))
        row["fid_dense"] = FrechetReference(FeatureStats(a.mu, a.sigma, 0)).distance(FeatureStats(b.mu, b.sigma, 0))
    return row


def bench_extraction(images: int, batch: int, reps: int, device: torch.device) -> dict:
    from ganforge_builtins.fid_inception_net import fid_inception_v3
    from ganforge_builtins.inception import InceptionV3

    torch.manual_seed(0)
    plain = fid_inception_v3().eval()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "random.pth"
        torch.save(plain.state_dict(), path)
        extractor = InceptionV3(weights=str(path)).prepare(None, device)
    plain = plain.to(device)
    channels_last = fid_inception_v3().eval().to(device)
    channels_last.load_state_dict(plain.state_dict())
    channels_last = channels_last.to(memory_format=torch.channels_last)
    pixels = torch.randint(0, 256, (images, 3, 32, 32), dtype=torch.uint8, device=device)

    def pool3(network: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        captured = {}
        handle = network.avgpool.register_forward_hook(lambda m, i, o: captured.setdefault("pool3", o))
        network(x)
        handle.remove()
        return captured["pool3"].flatten(1)

    def plain_pass() -> torch.Tensor:  # pytorch-fid's way
        with torch.no_grad():
            out = []
            for s in range(0, images, batch):
                x = F.interpolate(pixels[s : s + batch].float() / 255, size=(299, 299), mode="bilinear", align_corners=False)
                out.append(pool3(plain, 2 * x - 1))
            return torch.cat(out)

    def channels_last_pass() -> torch.Tensor:
        with torch.inference_mode():
            out = []
            for s in range(0, images, batch):
                x = F.interpolate(pixels[s : s + batch].float() / 255, size=(299, 299), mode="bilinear", align_corners=False)
                out.append(pool3(channels_last, (2 * x - 1).contiguous(memory_format=torch.channels_last)))
            return torch.cat(out)

    def ganforge_pass() -> torch.Tensor:
        return torch.cat([extractor.features(pixels[s : s + batch]) for s in range(0, images, batch)])

    runs = {"plain": plain_pass, "channels_last": channels_last_pass, "ganforge": ganforge_pass}
    best = {name: float("inf") for name in runs}
    outputs = {}
    for _ in range(reps):  # interleaved, best of reps: the machine is shared
        for name, fn in runs.items():
            seconds, outputs[name] = timed(fn)
            best[name] = min(best[name], seconds)
    reference = outputs["plain"]
    rel = float((outputs["ganforge"] - reference).norm() / reference.norm())
    return {
        "images": images, "batch": batch, **{f"{k}_img_s": images / v for k, v in best.items()},
        "speedup_vs_plain": best["plain"] / best["ganforge"], "speedup_vs_channels_last": best["channels_last"] / best["ganforge"],
        "feature_rel_diff": rel,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 1000])
    parser.add_argument("--reps", type=int, default=3, help="repetitions of the fast routes (median) / extraction (best)")
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--skip-distance", action="store_true")
    parser.add_argument("--skip-extraction", action="store_true")
    parser.add_argument("--clock", choices=sorted(CLOCK), default="wall", help="wall time, or this process's CPU time")
    args = parser.parse_args()
    global clock
    clock = CLOCK[args.clock]
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; torch {torch.__version__}; clock: {args.clock} time")
    if not args.skip_distance:
        print(f"\nFréchet distance, d = {args.dim} (seconds per evaluation)")
        print("| N | route | scipy sqrtm | ganforge one-shot | speed-up | ganforge, cached ref | speed-up | rel. diff vs sqrtm |")
        print("|---|---|---|---|---|---|---|---|")
        for n in args.sizes:
            r = bench_distance(n, args.dim, args.reps, device)
            print(
                f"| {n} | {r['route']} | {r['sqrtm_s']:.2f} | {r['first_s']:.3f} | {r['speedup_first']:.1f}x "
                f"| {r['cached_s']:.3f} | {r['speedup']:.1f}x | {r['rel_diff']:.1e} |", flush=True,
            )  # fmt: skip
            if "fid_dense" in r:
                print(f"|   | (FID: low-rank {r['fid']:.9g}, eigh-rank (mu, sigma, n) {r['fid_rank']:.9g}, "
                      f"eigh (mu, sigma) {r['fid_dense']:.9g}, sqrtm {r['fid_sqrtm']:.9g}) ||||||||", flush=True)  # fmt: skip
    if not args.skip_extraction:
        r = bench_extraction(args.images, args.batch, args.reps, device)
        print(f"\nFeature extraction, FID Inception-v3 on {r['images']} 32x32 images, batch {r['batch']} (best of {args.reps})")
        print("| pipeline | images/s |")
        print("|---|---|")
        print(f"| plain forward (pytorch-fid: NCHW, no_grad) | {r['plain_img_s']:.2f} |")
        print(f"| plain forward, channels_last + inference_mode | {r['channels_last_img_s']:.2f} |")
        print(f"| ganforge inception-v3 extractor | {r['ganforge_img_s']:.2f} |")
        print(f"speed-up {r['speedup_vs_plain']:.2f}x vs plain, {r['speedup_vs_channels_last']:.2f}x vs channels_last; "
              f"feature relative difference {r['feature_rel_diff']:.1e}")  # fmt: skip


if __name__ == "__main__":
    main()
