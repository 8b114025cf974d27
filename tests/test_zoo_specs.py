"""Every spec in specs/ validates, and runs two steps on synthetic data of its dataset's shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner
from PIL import Image

from ganforge.cli import cli

SPECS = Path(__file__).resolve().parent.parent / "specs"
ZOO = ["gan", "dcgan", "wgan", "wgan-gp", "lsgan", "ralsgan", "cgan", "infogan", "sngan", "ring", "stylegan", "stylegan2", "gan-mlp", "vae", "vae-gan"]
#: the real datasets' (image size, channels); all of them have 10 classes
SHAPES = {"mnist": (28, 1), "fashion-mnist": (28, 1), "cifar10": (32, 3)}


def spec_files() -> list[Path]:
    return sorted(SPECS.glob("*.yaml"))


def test_the_zoo_is_complete():
    assert {p.stem for p in spec_files()} >= set(ZOO)


def offline(path: Path) -> list[str]:
    """``--set`` overrides for what a spec needs from outside: a second stage's ``init_from`` (the
    first stage's run does not exist here) and pretrained VGG19 weights (random ones instead)."""
    spec = yaml.safe_load(path.read_text())
    args = []
    if (spec.get("generator") or {}).get("init_from"):
        args += ["--set", "generator.init_from=null"]
    for i, term in enumerate(spec.get("penalties") or []):
        if (term.get("extractor") or {}).get("name") == "vgg19":
            args += ["--set", f"penalties.{i}.extractor={{name: vgg19, pretrained: false}}"]
    return args


@pytest.mark.parametrize("path", spec_files(), ids=lambda p: p.stem)
def test_spec_validates(path):
    result = CliRunner().invoke(cli, ["validate", str(path), *offline(path)])
    assert result.exit_code == 0, result.output


def synthetic_data(path: Path) -> str:
    """A ``--set data=...`` that swaps the spec's dataset for a small one of the same shape."""
    name = yaml.safe_load(path.read_text())["data"]["name"]
    if name == "super-resolution":  # pairs cut from small synthetic colour images
        return "data={name: super-resolution, dataset: {name: synthetic, image_size: 32, channels: 3, size: 8}, hr_size: 32, crops: 2, batch_size: 8}"
    if name in ("ring", "grid"):
        return f"data={{name: {name}, size: 64, batch_size: 8}}"
    size, channels = SHAPES[name]
    return f"data={{name: synthetic, image_size: {size}, channels: {channels}, num_classes: 10, size: 64, batch_size: 8}}"


@pytest.mark.parametrize("path", spec_files(), ids=lambda p: p.stem)
def test_spec_runs_two_steps_on_synthetic_data(path, tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "run"
    args = ["run", str(path), "--quiet", "--out", str(out), "--set", synthetic_data(path)]
    args += ["--set", "train.steps=2", "--set", "train.samples=20", "--set", "device=cpu"]
    args += ["--set", "metrics=[]", *offline(path)]
    spec = yaml.safe_load(path.read_text())
    for role in ("generator", "discriminator"):
        if spec[role] and "width" in spec[role]:  # discriminator: null for a VAE  # narrower networks, same layers: the test is about wiring, not capacity
            args += ["--set", f"{role}.width=8"]
        if spec[role] and "blocks" in spec[role]:
            args += ["--set", f"{role}.blocks=1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    sides = ["loss/d", "loss/g"] if spec["discriminator"] else ["loss/g"]
    losses = [r for r in records if sides[0] in r]
    assert losses and losses[-1]["step"] == 2
    assert all(torch.isfinite(torch.tensor([r[side] for side in sides])).all() for r in losses)
    assert (out / "checkpoints" / "last.pt").is_file()
    pictures = sorted((out / "samples").glob("*.png"))
    assert pictures
    if spec["generator"].get("num_classes"):
        # one row of two samples per class: 10 rows of (28 + 2) pixels plus the grid's outer padding
        picture = Image.open(pictures[-1])
        assert picture.size == (2 * 30 + 2, 10 * 30 + 2)
