"""Make the test fixtures of ``ganforge import`` by running the reference networks once.

    python bench/make_published_fixtures.py esrgan --basicsr /tmp/ref/BasicSR --esrgan /tmp/ref/ESRGAN
    python bench/make_published_fixtures.py stylegan2-ada --reference /tmp/ref/stylegan2-ada-pytorch

The reference code is not part of ganforge: check the repositories out anywhere (the commits
these fixtures came from are below) and point the script at them. Each network is built at a
tiny size, its weights drawn from a seed, and run on the CPU on fixed inputs; what it wrote
into ``tests/data/`` is the weights in the reference's own key layout and its outputs, as
``.npz`` files (nothing but arrays). The tests convert those weights with ganforge and compare
outputs to 1e-4.

Reference commits:
  xinntao/BasicSR                 d21eac885b6de90a7adef7cc59e937dbdbb200b1  (RRDBNet, MSRResNet)
  xinntao/ESRGAN                  73e9b634cf987f5996ac2dd33f4050922398a921  (RRDBNet_arch, transer_RRDB_models)
  NVlabs/stylegan2-ada-pytorch    d72cc7d041b42ec8e806021a205ed9349f87c6a4  (training/networks.py)
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import torch

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def _module(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _randomise(net: torch.nn.Module, seed: int) -> None:
    """Weights at a scale that keeps activations O(1) through a deep stack, so outputs differ visibly."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            fan_in = p[0].numel() if p.ndim > 1 else 1
            scale = 1.0 / math.sqrt(fan_in) if p.ndim > 1 else 0.1
            p.copy_(torch.randn(p.shape, generator=generator) * scale)


def _arrays(state: dict[str, torch.Tensor], prefix: str) -> dict[str, np.ndarray]:
    return {f"{prefix}{k}": v.detach().numpy() for k, v in state.items()}


def esrgan(basicsr: Path, esrgan_repo: Path) -> None:
    """BasicSR's RRDBNet (x4) and MSRResNet (x2, x4), and the ESRGAN repository's RRDBNet, on
    seeded weights and one fixed [0, 1] input each."""
    # BasicSR's package imports cv2 and compiled ops; only its architecture files are needed.
    for name in ("basicsr", "basicsr.models", "basicsr.utils"):
        sys.modules[name] = types.ModuleType(name)
    sys.modules["basicsr.utils"].get_root_logger = lambda *a, **k: None  # type: ignore[attr-defined]
    archs = basicsr / "basicsr" / "models" / "archs"
    package = types.ModuleType("basicsr.models.archs")
    package.__path__ = [str(archs)]  # type: ignore[attr-defined]
    sys.modules["basicsr.models.archs"] = package
    package.arch_util = _module("basicsr.models.archs.arch_util", archs / "arch_util.py")  # type: ignore[attr-defined]
    rrdb = _module("basicsr.models.archs.rrdbnet_arch", archs / "rrdbnet_arch.py")
    srresnet = _module("basicsr.models.archs.srresnet_arch", archs / "srresnet_arch.py")
    original = _module("RRDBNet_arch", esrgan_repo / "RRDBNet_arch.py")

    out: dict[str, np.ndarray] = {}
    lr = torch.rand(2, 3, 6, 5, generator=torch.Generator().manual_seed(1))
    out["lr"] = lr.numpy()
    net = rrdb.RRDBNet(3, 3, num_feat=8, num_block=2, num_grow_ch=4).eval()
    _randomise(net, 0)
    with torch.no_grad():
        out["rrdb_sr"] = net(lr).numpy()
    out.update(_arrays(net.state_dict(), "basicsr_rrdb/"))
    # The ESRGAN repository's network, given the same weights under its own names, must agree.
    theirs = original.RRDBNet(3, 3, 8, 2, gc=4).eval()
    renamed = {
        k.replace("conv_body", "trunk_conv").replace("body.", "RRDB_trunk.").replace(".rdb", ".RDB").replace("conv_up", "upconv").replace("conv_hr", "HRconv"): v
        for k, v in net.state_dict().items()
    }
    theirs.load_state_dict(renamed)
    with torch.no_grad():
        assert torch.equal(theirs(lr), net(lr))
    out.update(_arrays(theirs.state_dict(), "esrgan_rrdb/"))
    # The repository's first layout (RRDB_ESRGAN_x4.pth before transer_RRDB_models.py): the
    # inverse of that script's renaming.
    old = {"conv_first": "model.0", "trunk_conv": "model.1.sub.2", "upconv1": "model.3", "upconv2": "model.6", "HRconv": "model.8", "conv_last": "model.10"}
    for k, v in theirs.state_dict().items():
        layer, kind = k.rsplit(".", 1)
        name = f"{old[layer]}.{kind}" if layer in old else f"{layer.replace('RRDB_trunk.', 'model.1.sub.')}.0.{kind}"
        out[f"esrgan_old_rrdb/{name}"] = v.numpy()

    for scale in (2, 4):
        msr = srresnet.MSRResNet(3, 3, num_feat=8, num_block=2, upscale=scale).eval()
        _randomise(msr, scale)
        with torch.no_grad():
            out[f"msrresnet_x{scale}_sr"] = msr(lr).numpy()
        out.update(_arrays(msr.state_dict(), f"basicsr_msrresnet_x{scale}/"))
    np.savez_compressed(DATA / "esrgan_reference.npz", **out)
    print(f"wrote {DATA / 'esrgan_reference.npz'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="which", required=True)
    e = sub.add_parser("esrgan")
    e.add_argument("--basicsr", type=Path, required=True)
    e.add_argument("--esrgan", type=Path, required=True)
    s = sub.add_parser("stylegan2-ada")
    s.add_argument("--reference", type=Path, required=True)
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    torch.set_grad_enabled(False)
    if args.which == "esrgan":
        esrgan(args.basicsr, args.esrgan)
    else:
        stylegan2_ada(args.reference)


def stylegan2_ada(reference: Path) -> Any:
    raise SystemExit("stylegan2-ada fixtures: not written yet")


if __name__ == "__main__":
    main()
