"""Benchmark of ganforge's FID against pytorch-fid's routes, on the same statistics and weights.

1. Fréchet distance at d = 2048 on synthetic ReLU features: pytorch-fid's
   ``scipy.linalg.sqrtm(Σ₁Σ₂)`` against ganforge's exact routes, one-shot (``frechet_distance``)
   and per evaluation with the reference prepared once (as during training), plus the
   relative difference of the values.
2. With ``--against pytorch-fid`` (when it is installed; nothing is installed here): both
   pipelines on the same image folders with the same Inception weights (random, or the real
   file with ``--weights``): each FID, their relative difference, the statistics' relative
   differences, and the wall time of each ``fid A B`` command.
3. Feature extraction: images/s of the ``inception-v3`` extractor against a plain forward
   pass of the same network with the same random weights and inputs, the way pytorch-fid runs
   it (NCHW, ``torch.no_grad``, resize inside the model); the plain pass in channels-last
   layout is shown too.

    python bench/fid.py                       # everything, CPU or the GPU when there is one
    python bench/fid.py --skip-extraction --sizes 5000 1000
    python bench/fid.py --skip-distance --skip-extraction --against pytorch-fid   # needs pytorch-fid installed
    python bench/fid.py --skip-distance --skip-extraction --against torch-fidelity --agreement-size 299
    python bench/fid.py --skip-distance --skip-extraction --against torchmetrics           # needs torchmetrics installed
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
from typing import Any

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from ganforge_builtins.stats import FeatureStats, FrechetReference, frechet_distance_sqrtm


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
    from ganforge_builtins.extractors._fid_inception_net import fid_inception_v3
    from ganforge_builtins.extractors.inception import InceptionV3

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


def rel(x: Any, y: Any) -> float:
    """Relative difference |x - y| / |y| of two arrays (Frobenius norm)."""
    import numpy as np

    return float(np.linalg.norm(np.asarray(x) - np.asarray(y)) / np.linalg.norm(np.asarray(y)))


def write_folders(root: Path, count: int, size: int = 32) -> tuple[Path, Path]:
    """Two folders of ``count`` RGB PNGs each: smooth random images, the second set brighter."""
    from PIL import Image

    folders = (root / "a", root / "b")
    g = torch.Generator().manual_seed(0)
    for shift, folder in zip((0.0, 0.15), folders):
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            low = torch.rand(3, 4, 4, generator=g)
            image = F.interpolate(low[None], size=(size, size), mode="bilinear", align_corners=False)[0]
            image = (image + 0.1 * torch.rand(3, size, size, generator=g) + shift).clamp(0, 1)
            Image.fromarray((image * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()).save(folder / f"{i:05d}.png")
    return folders


def random_fid_inception() -> torch.nn.Module:
    """The FID Inception-v3 with seeded random weights scaled to keep activations of order 1
    (He initialisation of every convolution; PyTorch's default shrinks them to ~1e-7 over
    the network's depth, and the FID with them)."""
    from ganforge_builtins.extractors._fid_inception_net import fid_inception_v3

    torch.manual_seed(0)
    network = fid_inception_v3()
    for module in network.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return network


def bench_against_pytorch_fid(images: int, batch: int, folders: list[str] | None, weights: str | None, size: int, device: torch.device) -> dict:
    """Both pipelines on the same folders with the same Inception weights (random, seed 0,
    unless ``weights`` names the real file): statistics, FID, and each command's wall time."""
    import os
    import subprocess

    from pytorch_fid.fid_score import calculate_activation_statistics, calculate_frechet_distance
    from pytorch_fid.inception import InceptionV3 as PytorchFidInception

    from ganforge_builtins.data.image_files import image_batches, image_files
    from ganforge_builtins.extractors._fid_inception_net import FID_WEIGHTS_FILE
    from ganforge_builtins.extractors.inception import InceptionV3
    from ganforge_builtins.fid.commands import statistics
    from ganforge_builtins.stats import frechet_distance

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # pytorch-fid loads its weights through torch hub's cache: the same file serves both.
        hub = root / "torch" / "hub" / "checkpoints"
        hub.mkdir(parents=True)
        if weights:
            (hub / FID_WEIGHTS_FILE).symlink_to(Path(weights).resolve())
        else:
            torch.save(random_fid_inception().state_dict(), hub / FID_WEIGHTS_FILE)
        os.environ["TORCH_HOME"] = str(root / "torch")
        a, b = (Path(f) for f in folders) if folders else write_folders(root / "images", images, size)
        files = [sorted(str(p) for p in image_files(folder)) for folder in (a, b)]

        theirs_model = PytorchFidInception([3]).to(device).eval()
        theirs = [calculate_activation_statistics(f, theirs_model, batch, 2048, str(device), 0) for f in files]
        fid_theirs = float(calculate_frechet_distance(theirs[0][0], theirs[0][1], theirs[1][0], theirs[1][1]))

        ours_model = InceptionV3(weights=str(hub / FID_WEIGHTS_FILE)).prepare(None, device)
        ours = [statistics(ours_model, image_batches(image_files(folder), batch), len(image_files(folder)), folder.name) for folder in (a, b)]
        fid_ours = frechet_distance(ours[0], ours[1])

        mu_diff = max(rel(o.mu.cpu().numpy(), t[0]) for o, t in zip(ours, theirs))
        sigma_diff = max(rel(o.sigma.cpu().numpy(), t[1]) for o, t in zip(ours, theirs))

        def wall(command: list[str]) -> float:
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=os.environ)
            return time.perf_counter() - start

        common = ["--device", str(device), "--batch-size", str(batch)]
        wall_theirs = wall([sys.executable, "-m", "pytorch_fid", str(a), str(b), *common, "--num-workers", "0"])
        wall_ours = wall([sys.executable, "-m", "ganforge", "fid", str(a), str(b), *common])
    return {
        "images": len(files[0]) + len(files[1]), "fid_ganforge": fid_ours, "fid_pytorch_fid": fid_theirs,
        "fid_rel_diff": abs(fid_ours - fid_theirs) / abs(fid_theirs), "mu_rel_diff": mu_diff, "sigma_rel_diff": sigma_diff,
        "wall_ganforge_s": wall_ours, "wall_pytorch_fid_s": wall_theirs, "weights": weights or "random (seed 0, He-scaled)",
    }  # fmt: skip


def bench_against_torch_fidelity(images: int, batch: int, folders: list[str] | None, weights: str | None, size: int, device: torch.device) -> dict:
    """torch-fidelity's Inception (the same state-dict keys as pytorch-fid's, so the same file
    loads into both) and its statistics and eigvals-based distance, against ganforge's, on the
    same folders; its resize is TF1's bilinear, not PyTorch's, so use ``size`` 299 images to
    compare the networks and distances alone."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    from ganforge_builtins.data.image_files import image_batches, image_files
    from ganforge_builtins.extractors.inception import InceptionV3
    from ganforge_builtins.fid.commands import statistics
    from ganforge_builtins.stats import frechet_distance

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = Path(weights) if weights else root / "random.pth"
        if not weights:
            torch.save(random_fid_inception().state_dict(), path)
        a, b = (Path(f) for f in folders) if folders else write_folders(root / "images", images, size)
        theirs_model = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(path)).to(device)
        theirs = []
        for folder in (a, b):
            features = []
            for pixels in image_batches(image_files(folder), batch):
                with torch.no_grad():
                    features.append(theirs_model(pixels.expand(-1, 3, -1, -1).to(device))[0].cpu())
            theirs.append(fid_features_to_statistics(torch.cat(features).double()))
        fid_theirs = fid_statistics_to_metric(theirs[0], theirs[1], False)["frechet_inception_distance"]
        ours_model = InceptionV3(weights=str(path)).prepare(None, device)
        ours = [statistics(ours_model, image_batches(image_files(f), batch), len(image_files(f)), f.name) for f in (a, b)]
        fid_ours = frechet_distance(ours[0], ours[1])

        class TFScaled(InceptionV3):
            """ganforge's network fed torch-fidelity's input scaling, (x − 128) / 128 (pytorch-fid's is 2x − 1)."""

            def preprocess(self, images: torch.Tensor) -> torch.Tensor:
                x = images.float().expand(-1, 3, -1, -1)
                x = x if x.shape[-1] == 299 else F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
                return ((x - 128) / 128).contiguous(memory_format=torch.channels_last)

        scaled_model = TFScaled(weights=str(path)).prepare(None, device)
        scaled = [statistics(scaled_model, image_batches(image_files(f), batch), len(image_files(f)), f.name) for f in (a, b)]
        fid_scaled = frechet_distance(scaled[0], scaled[1])

    return {
        "images": sum(o.n for o in ours), "size": size, "fid_ganforge": fid_ours, "fid_torch_fidelity": fid_theirs,
        "fid_rel_diff": abs(fid_ours - fid_theirs) / abs(fid_theirs),
        "mu_rel_diff": max(rel(o.mu.cpu().numpy(), t["mu"]) for o, t in zip(ours, theirs)),
        "sigma_rel_diff": max(rel(o.sigma.cpu().numpy(), t["sigma"]) for o, t in zip(ours, theirs)),
        "weights": weights or "random (seed 0, He-scaled)", "fid_same_scaling": fid_scaled,
        "same_scaling_rel_diff": abs(fid_scaled - fid_theirs) / abs(fid_theirs),
        "same_scaling_mu_rel_diff": max(rel(o.mu.cpu().numpy(), t["mu"]) for o, t in zip(scaled, theirs)),
    }  # fmt: skip


def bench_against_torchmetrics(images: int, batch: int, folders: list[str] | None, weights: str | None, size: int, device: torch.device) -> dict:
    """torchmetrics' ``FrechetInceptionDistance`` with a custom feature module (ganforge's
    ``inception-v3`` extractor, same weights), against ganforge on the same folders: the same
    features on both sides, so what differs is the statistics and the distance (torchmetrics
    accumulates in float64 and takes the eigenvalues of Σ₁Σ₂)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    from ganforge_builtins.data.image_files import image_batches, image_files
    from ganforge_builtins.extractors.inception import InceptionV3
    from ganforge_builtins.fid.commands import statistics
    from ganforge_builtins.stats import frechet_distance

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = Path(weights) if weights else root / "random.pth"
        if not weights:
            torch.save(random_fid_inception().state_dict(), path)
        a, b = (Path(f) for f in folders) if folders else write_folders(root / "images", images, size)
        extractor = InceptionV3(weights=str(path)).prepare(None, device)

        class Features(torch.nn.Module):
            """ganforge's extractor as the feature module torchmetrics calls on uint8 images."""

            num_features = 2048

            def forward(self, pixels: torch.Tensor) -> torch.Tensor:
                return extractor.features(pixels)

        metric = FrechetInceptionDistance(feature=Features(), normalize=False).to(device)
        for folder, real in ((a, True), (b, False)):
            for pixels in image_batches(image_files(folder), batch):
                metric.update(pixels.expand(-1, 3, -1, -1).to(device), real=real)
        fid_theirs = float(metric.compute())
        ours = [statistics(extractor, image_batches(image_files(f), batch), len(image_files(f)), f.name) for f in (a, b)]
        fid_ours = frechet_distance(ours[0], ours[1])
    return {
        "images": sum(o.n for o in ours), "fid_ganforge": fid_ours, "fid_torchmetrics": fid_theirs,
        "fid_rel_diff": abs(fid_ours - fid_theirs) / abs(fid_theirs), "weights": weights or "random (seed 0, He-scaled)",
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
    parser.add_argument("--against", choices=["pytorch-fid", "torch-fidelity", "torchmetrics"], nargs="+", default=[],
                        help="also run these packages' pipelines on the same folders and weights (when installed; installs nothing)")
    parser.add_argument("--agreement-size", type=int, default=32, help="side of the generated images for --against (299: no resize)")
    parser.add_argument("--agreement-images", type=int, default=300, help="images per generated folder for --against")
    parser.add_argument("--folders", nargs=2, metavar=("A", "B"), help="image folders for --against (default: two generated ones)")
    parser.add_argument("--weights", help="the real pt_inception-2015-12-05-6726825d.pth for --against (default: random weights, seed 0)")
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
    for package in args.against:
        try:
            __import__(package.replace("-", "_"))
        except ImportError:
            sys.exit(f"--against {package}: {package} is not installed (pip install {package}); this bench installs nothing")
    if "torch-fidelity" in args.against:
        r = bench_against_torch_fidelity(args.agreement_images, args.batch, args.folders, args.weights, args.agreement_size, device)
        print(f"\nAgreement with torch-fidelity: {r['images']} images of {r['size']}x{r['size']}, Inception weights {r['weights']}, batch {args.batch}")
        print("| | ganforge | torch-fidelity | relative difference |")
        print("|---|---|---|---|")
        print(f"| FID | {r['fid_ganforge']:.9g} | {r['fid_torch_fidelity']:.9g} | {r['fid_rel_diff']:.1e} |")
        print(f"| statistics (max over both folders) | | | mu {r['mu_rel_diff']:.1e}, sigma {r['sigma_rel_diff']:.1e} |")
        print(f"| FID, ganforge's network fed torch-fidelity's (x - 128) / 128 | {r['fid_same_scaling']:.9g} | {r['fid_torch_fidelity']:.9g} "
              f"| {r['same_scaling_rel_diff']:.1e} (mu {r['same_scaling_mu_rel_diff']:.1e}) |")  # fmt: skip
    if "torchmetrics" in args.against:
        r = bench_against_torchmetrics(args.agreement_images, args.batch, args.folders, args.weights, args.agreement_size, device)
        print(f"\nAgreement with torchmetrics (custom feature module: ganforge's inception-v3, weights {r['weights']}): {r['images']} images")
        print("| | ganforge | torchmetrics | relative difference |")
        print("|---|---|---|---|")
        print(f"| FID | {r['fid_ganforge']:.9g} | {r['fid_torchmetrics']:.9g} | {r['fid_rel_diff']:.1e} |")
    if "pytorch-fid" in args.against:
        r = bench_against_pytorch_fid(args.agreement_images, args.batch, args.folders, args.weights, args.agreement_size, device)
        print(f"\nAgreement with pytorch-fid: {r['images']} images, Inception weights {r['weights']}, batch {args.batch}")
        print("| | ganforge | pytorch-fid | relative difference |")
        print("|---|---|---|---|")
        print(f"| FID | {r['fid_ganforge']:.9g} | {r['fid_pytorch_fid']:.9g} | {r['fid_rel_diff']:.1e} |")
        print(f"| statistics (max over both folders) | | | mu {r['mu_rel_diff']:.1e}, sigma {r['sigma_rel_diff']:.1e} |")
        print(f"| `fid A B` command, wall time | {r['wall_ganforge_s']:.1f} s | {r['wall_pytorch_fid_s']:.1f} s | ratio {r['wall_ganforge_s'] / r['wall_pytorch_fid_s']:.2f} |")
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
