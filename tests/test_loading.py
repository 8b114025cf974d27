"""Rebuilding a trained generator from a run directory, a checkpoint, or a bare state dict."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganforge.artifacts.loading import load_trained
from ganforge.checkpoint import load_checkpoint
from ganforge.errors import GanforgeError
from ganforge.training.observers import BaseObserver

from .conftest import invoke


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ganforge.plugins import Plugins, set_plugins

    from .conftest import TINY_SPEC

    set_plugins(Plugins.create())
    root = tmp_path_factory.mktemp("trained")
    (root / "tiny.yaml").write_text(TINY_SPEC)
    result = invoke("run", str(root / "tiny.yaml"), "--out", str(root / "run"), "--quiet", "--set", "train.steps=2")
    assert result.exit_code == 0, result.output
    return root


def test_from_run_directory_uses_ema(trained: Path) -> None:
    loaded = load_trained(trained / "run", device="cpu")
    state = load_checkpoint(trained / "run/checkpoints/last.pt")
    assert loaded.uses_ema and loaded.step == 2 and not loaded.generator.training
    assert torch.equal(loaded.generator.state_dict()["net.0.weight"], state["ema"]["net.0.weight"])
    raw = load_trained(trained / "run", device="cpu", prefer_ema=False)
    assert torch.equal(raw.generator.state_dict()["net.0.weight"], state["generator"]["net.0.weight"])


def test_bare_state_dict_needs_the_spec(trained: Path) -> None:
    bare = trained / "bare.pt"
    torch.save(load_checkpoint(trained / "run/checkpoints/last.pt")["generator"], bare)
    with pytest.raises(GanforgeError, match="holds no spec .*--spec"):
        load_trained(bare)
    loaded = load_trained(bare, spec=trained / "tiny.yaml", device="cpu")
    assert loaded.generator(torch.zeros(2, 8)).shape == (2, 1, 28, 28)
    wrong = trained / "wide.yaml"
    wrong.write_text((trained / "tiny.yaml").read_text().replace("latent_dim: 8, width: 8", "latent_dim: 8, width: 16"))
    with pytest.raises(GanforgeError, match="do not fit the spec's generator"):
        load_trained(bare, spec=wrong)


def test_missing_best_is_explained(trained: Path) -> None:
    with pytest.raises(GanforgeError, match="no checkpoints/best.pt .*only for runs with metrics"):
        load_trained(trained / "run", checkpoint="best")


def test_observers_see_records_samples_and_the_end(trained: Path) -> None:
    from ganforge.cli.common import experiment_from
    from ganforge.training.rundir import RunDir
    from ganforge.training.trainer import Trainer

    class Recorder(BaseObserver):
        def __init__(self) -> None:
            self.records, self.samples, self.status = [], [], None

        def on_record(self, record):
            self.records.append(record)

        def on_samples(self, step, samples, path):
            self.samples.append((step, tuple(samples.shape), path.name))

        def on_finish(self, status):
            self.status = status

    recorder = Recorder()
    experiment = experiment_from(trained / "tiny.yaml", ("train.steps=2",))
    Trainer(experiment, RunDir(trained / "observed"), observers=[recorder]).fit()
    assert [r["step"] for r in recorder.records] == [2]
    assert recorder.samples == [(2, (64, 1, 28, 28), "step_0000002.png")]
    assert recorder.status == "finished"
