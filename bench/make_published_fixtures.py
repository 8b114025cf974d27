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


#: the two configurations: (file stem, resolution, classes, conv_clamp, discriminator architecture, image channels).
STYLEGAN_CONFIGS = [("sg2ada_32_uncond", 32, 0, None, "orig", 3), ("sg2ada_64_cond", 64, 3, 0.5, "resnet", 1)]


def _pickle_globals(data: bytes) -> list[str]:
    """The module.name of every class or function a pickle refers to."""
    import pickletools

    found, strings, memo = set(), [], {}
    for opcode, arg, _ in pickletools.genops(data):
        if opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif opcode.name == "MEMOIZE" and strings:
            memo[len(memo)] = strings[-1]
        elif opcode.name == "MEMOIZE":
            memo[len(memo)] = None
        elif opcode.name in ("BINGET", "LONG_BINGET") and isinstance(memo.get(arg), str):
            strings.append(memo[arg])
        elif opcode.name == "STACK_GLOBAL":
            found.add(f"{strings[-2]}.{strings[-1]}")
        elif opcode.name == "GLOBAL":
            found.add(arg.replace(" ", "."))
    return sorted(found)


def stylegan2_ada(reference: Path) -> None:
    """The reference's Generator (twice: G and G_ema) and Discriminator at 32x32 unconditional
    and 64x64 conditional, tiny channel counts, seeded weights with non-zero biases, noise
    strengths and w_avg; outputs on the CPU (its reference ops) for fixed z, labels and images."""
    import json
    import pickle

    sys.path.insert(0, str(reference))
    import dnnlib
    from training import networks

    for stem, resolution, c_dim, clamp, architecture, img_channels in STYLEGAN_CONFIGS:
        torch.manual_seed(resolution)
        common = {"c_dim": c_dim, "img_resolution": resolution, "img_channels": img_channels}
        g_kwargs = {
            "z_dim": 8, "w_dim": 8, **common,
            "mapping_kwargs": dnnlib.EasyDict(num_layers=2),
            "synthesis_kwargs": dnnlib.EasyDict(channel_base=128, channel_max=16, num_fp16_res=0, conv_clamp=clamp),
        }  # fmt: skip
        d_kwargs = {
            **common, "architecture": architecture, "channel_base": 128, "channel_max": 16, "num_fp16_res": 0, "conv_clamp": clamp,
            "block_kwargs": dnnlib.EasyDict(), "mapping_kwargs": dnnlib.EasyDict(num_layers=2), "epilogue_kwargs": dnnlib.EasyDict(mbstd_group_size=2),
        }  # fmt: skip
        nets = {"G": networks.Generator(**g_kwargs), "G_ema": networks.Generator(**g_kwargs), "D": networks.Discriminator(**d_kwargs)}
        generator = torch.Generator().manual_seed(resolution + 1)
        for net in nets.values():
            net.eval()
            for name, p in list(net.named_parameters()) + list(net.named_buffers()):
                if name.endswith(("bias", "noise_strength")):
                    p.add_(torch.randn(p.shape, generator=generator) * 0.3)
                elif name.endswith("w_avg"):
                    p.copy_(torch.randn(p.shape, generator=generator))
        out: dict[str, np.ndarray] = {}
        z = torch.randn(3, 8, generator=generator)
        labels = torch.tensor([0, 2, 1])[:3] if c_dim else None
        c = torch.nn.functional.one_hot(labels, c_dim).float() if labels is not None else torch.zeros(3, 0)
        images = torch.rand(4, img_channels, resolution, resolution, generator=generator) * 2 - 1
        d_labels = torch.tensor([1, 0, 2, 2]) if c_dim else None
        d_c = torch.nn.functional.one_hot(d_labels, c_dim).float() if d_labels is not None else torch.zeros(4, 0)
        out["z"], out["images"] = z.numpy(), images.numpy()
        if labels is not None and d_labels is not None:
            out["labels"], out["d_labels"] = labels.numpy(), d_labels.numpy()
        out["G.const"] = nets["G"](z, c, noise_mode="const").numpy()  # tells G from G_ema
        g = nets["G_ema"]
        ws = g.mapping(z, c)
        out["G_ema.ws"] = ws.numpy()
        out["G_ema.const"] = g.synthesis(ws, noise_mode="const").numpy()
        out["G_ema.none"] = g.synthesis(ws, noise_mode="none").numpy()
        out["G_ema.truncated"] = g(z, c, truncation_psi=0.6, noise_mode="const").numpy()
        out["G_ema.truncated_cutoff3"] = g(z, c, truncation_psi=0.6, truncation_cutoff=3, noise_mode="const").numpy()
        out["D.scores"] = nets["D"](images, d_c).numpy()
        for key, net in nets.items():
            out.update(_arrays(net.state_dict(), f"{key}/"))
            out[f"{key}.init_kwargs"] = np.array(json.dumps(net.init_kwargs))
        blob = pickle.dumps({"G": nets["G"], "D": nets["D"], "G_ema": nets["G_ema"], "augment_pipe": None,
                             "training_set_kwargs": dnnlib.EasyDict(resolution=resolution, use_labels=bool(c_dim))})  # fmt: skip
        out["pickle_globals"] = np.array(_pickle_globals(blob))
        np.savez_compressed(DATA / f"{stem}.npz", **out)
        print(f"wrote {DATA / f'{stem}.npz'}; the pickle refers to {', '.join(_pickle_globals(blob))}")


if __name__ == "__main__":
    main()
