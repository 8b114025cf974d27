"""Shared fixtures: fresh plugins per test, tiny specs, a CLI runner."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
import torch
from click.testing import CliRunner, Result

from ganforge.cli import cli
from ganforge.plugins import Plugins, set_plugins

TINY_SPEC = """\
seed: 0
device: cpu
generator: {name: dcgan, latent_dim: 8, width: 8}
discriminator: {name: dcgan, width: 8}
loss: {name: lsgan}
data: {name: synthetic, size: 64, batch_size: 16}
optimizers:
  generator: {name: Adam, lr: 2.0e-4, betas: [0.5, 0.999]}
  discriminator: {name: Adam, lr: 2.0e-4, betas: [0.5, 0.999]}
train: {steps: 6, log_every: 2, ema: 0.9}
"""


@pytest.fixture(autouse=True)
def plugins() -> Iterator[Plugins]:
    """A fresh plugin manager loaded from the real entry points, installed process-wide for one test."""
    fresh = Plugins.create()
    set_plugins(fresh)
    torch.set_num_threads(1)
    yield fresh
    set_plugins(None)


@pytest.fixture
def classifier_file(tmp_path: Path) -> str:
    """A small randomly initialised domain classifier saved as the classifier extractor's weights file."""
    from ganforge_builtins.classifier.net import SmallClassifierNet
    from ganforge_builtins.classifier.training import TrainedClassifier

    torch.manual_seed(0)
    path = tmp_path / "clf.pt"
    torch.save(TrainedClassifier(SmallClassifierNet(1, 10).eval(), 0.5, 0.0).checkpoint("test"), path)
    return str(path)


@pytest.fixture
def tiny_spec(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_SPEC)
    return path


def invoke(*args: str) -> Result:
    """Run the CLI in-process the way the console script does (one-line errors, exit codes)."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def cpu_fp16_supported() -> bool:
    """Whether this torch has fp16 autocast and a gradient scaler on the CPU."""
    try:
        with torch.autocast("cpu", dtype=torch.float16):
            torch.ones(2, 2) @ torch.ones(2, 2)
        torch.amp.GradScaler("cpu")
    except Exception:  # noqa: BLE001
        return False
    return True
