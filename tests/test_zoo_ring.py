"""The mode-collapse benchmark at CI speed: a tiny MLP GAN on the 8-Gaussian ring covers the modes."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from click.testing import CliRunner

from ganforge.cli import cli

RING = Path(__file__).resolve().parent.parent / "specs" / "ring.yaml"
STEPS = 2000


def test_tiny_gan_covers_at_least_seven_of_eight_ring_modes(tmp_path):
    torch.set_num_threads(1)  # tiny networks: threads cost more than they bring
    out = tmp_path / "ring"
    overrides = [
        "device=cpu",
        "generator.hidden=[64, 64]",
        "discriminator.hidden=[64, 64]",
        "optimizers.generator.lr=5.0e-4",
        "optimizers.discriminator.lr=5.0e-4",
        "train.ema=null",
        f"train.steps={STEPS}",
        "train.samples=500",
        f"metrics=[{{name: mode-coverage, every: {STEPS}, num_samples: 2500}}]",
    ]
    args = ["run", str(RING), "--quiet", "--out", str(out)] + [arg for o in overrides for arg in ("--set", o)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    (final,) = [r for r in records if "modes" in r]
    assert final["step"] == STEPS
    assert final["modes"] >= 7, final
    assert final["high_quality"] > 0.0 and final["mode_kl"] < 0.5, final
