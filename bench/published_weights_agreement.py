"""How closely ganforge's imported networks reproduce the reference outputs in tests/data/.

    python bench/published_weights_agreement.py

For each fixture of bench/make_published_fixtures.py: the largest absolute difference between
the reference network's output and ganforge's on the same weights and inputs (float32, CPU).
The tests assert <= 1e-4; this prints the figures. StyleGAN2-ADA weights are loaded straight
into the ``stylegan2-ada`` networks (the import's own pickle reading is tested in
tests/test_import_stylegan2_ada.py).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from click.testing import CliRunner

from ganforge.artifacts.loading import load_trained
from ganforge.cli import cli
from ganforge_builtins.stylegan.ada import StyleGAN2ADADiscriminator, StyleGAN2ADAGenerator
from ganforge_builtins.stylegan.importing import discriminator_settings, generator_settings

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def esrgan() -> None:
    data = np.load(DATA / "esrgan_reference.npz")
    cases = [("basicsr_rrdb", "rrdb_sr"), ("esrgan_rrdb", "rrdb_sr"), ("esrgan_old_rrdb", "rrdb_sr"), ("basicsr_msrresnet_x2", "msrresnet_x2_sr"), ("basicsr_msrresnet_x4", "msrresnet_x4_sr")]
    for prefix, reference in cases:
        folder = Path(tempfile.mkdtemp())
        torch.save({k.split("/", 1)[1]: torch.from_numpy(data[k]) for k in data.files if k.startswith(prefix + "/")}, folder / "w.pth")
        result = CliRunner().invoke(cli, ["import", "esrgan", str(folder / "w.pth"), "--out", str(folder / "run")])
        assert result.exit_code == 0, result.output
        generator = load_trained(folder / "run", device="cpu").generator.train()  # unclamped
        with torch.no_grad():
            out = (generator(torch.zeros(2, 1), lr=torch.from_numpy(data["lr"]) * 2 - 1) + 1) / 2
        print(f"{prefix:24s} max |ganforge - reference| = {float((out - torch.from_numpy(data[reference])).abs().max()):.1e}")


def stylegan2_ada() -> None:
    for stem in ("sg2ada_32_uncond", "sg2ada_64_cond"):
        data = np.load(DATA / f"{stem}.npz")
        g_kwargs, d_kwargs = json.loads(str(data["G_ema.init_kwargs"])), json.loads(str(data["D.init_kwargs"]))
        shape = (g_kwargs["img_channels"], g_kwargs["img_resolution"], g_kwargs["img_resolution"])
        g = StyleGAN2ADAGenerator(shape, **{k: v for k, v in generator_settings(g_kwargs).items() if k != "name"}).eval()
        g.load_state_dict({k[6:]: torch.from_numpy(data[k]) for k in data.files if k.startswith("G_ema/")})
        d = StyleGAN2ADADiscriminator(shape, **{k: v for k, v in discriminator_settings(d_kwargs).items() if k != "name"}).eval()
        d.load_state_dict({k[2:]: torch.from_numpy(data[k]) for k in data.files if k.startswith("D/")})
        z = torch.from_numpy(data["z"])
        labels = torch.from_numpy(data["labels"]) if "labels" in data.files else None
        with torch.no_grad():
            ws = g.map_latent(z, labels)
            outputs = {"const": g.synthesis(ws, "const"), "none": g.synthesis(ws, "none"), "truncated": g.synthesis(g.truncate(z, 0.6, labels=labels), "const")}
            d_labels = torch.from_numpy(data["d_labels"]) if "d_labels" in data.files else None
            outputs["D.scores"] = d(torch.from_numpy(data["images"]), d_labels)
        for name, out in outputs.items():
            reference = torch.from_numpy(data[name if name.startswith("D") else f"G_ema.{name}"]).reshape(out.shape)
            print(f"{stem}/{name:10s} max |ganforge - reference| = {float((out - reference).abs().max()):.1e} (reference values up to {float(reference.abs().max()):.2f})")


if __name__ == "__main__":
    torch.set_num_threads(1)
    esrgan()
    stylegan2_ada()
