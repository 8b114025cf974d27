"""The ``logging:`` section, TensorBoard events, loss and metric plots (with and without the extras)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ganforge.plugins import Plugins

from .conftest import TINY_SPEC, invoke
from .use_plugin import CONDITIONAL_SPEC, install


@pytest.fixture(autouse=True)
def use_plugin(plugins: Plugins) -> Plugins:
    return install(plugins)


real_find_spec = importlib.util.find_spec


def write_spec(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def hide(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make ``import module`` fail as if the package were not installed."""
    for module in modules:
        monkeypatch.setitem(sys.modules, module, None)


def test_logging_section_is_validated(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, TINY_SPEC + "logging: {tensorbord: true, plots: maybe}\n")
    result = invoke("validate", str(spec))
    assert result.exit_code == 2
    assert "logging.tensorbord: unknown parameter 'tensorbord' for logging (did you mean 'tensorboard'?)" in result.stderr
    assert "logging.plots:" in result.stderr
    assert "logging.0: expected a logger as {name: <registered name>" in invoke("validate", str(write_spec(tmp_path, TINY_SPEC + "logging: [1]\n", "list.yaml"))).stderr
    assert "logging must be a list of loggers" in invoke("validate", str(write_spec(tmp_path, TINY_SPEC + "logging: 3\n", "three.yaml"))).stderr
    typo = invoke("validate", str(write_spec(tmp_path, TINY_SPEC + "logging: [{name: wandb, projct: gans}]\n", "typo.yaml")))
    assert "logging.0.projct: unknown parameter 'projct' for logger 'wandb' (did you mean 'project'?)" in typo.stderr


def test_missing_tensorboard_stops_the_run_before_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "torch.utils.tensorboard", "tensorboard")
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None if name == "tensorboard" else real_find_spec(name, *a))
    spec = write_spec(tmp_path, TINY_SPEC + "logging: {tensorboard: true}\n")
    result = invoke("run", str(spec), "--out", str(tmp_path / "run"), "--quiet")
    assert result.exit_code == 2
    assert "logger 'tensorboard' (plugin loggers) cannot log: tensorboard not installed (pip install 'ganforge[tensorboard]')" in result.stderr
    assert not (tmp_path / "run").exists()  # refused before the run directory is made


def test_tensorboard_gets_scalars_and_sample_pictures(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    spec = write_spec(tmp_path, CONDITIONAL_SPEC.replace("logging: {plots: false}", "logging: {tensorboard: true, plots: false}"))
    result = invoke("run", str(spec), "--out", str(tmp_path / "run"), "--quiet")
    assert result.exit_code == 0, result.output
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert {"loss/d", "loss/g", "use-brightness", "epoch"} <= set(scalars)
    assert [e.step for e in events.Scalars("loss/d")] == [2, 4]
    assert [e.step for e in events.Scalars("use-brightness")] == [2, 4]
    pictures = events.Images("samples")
    assert [p.step for p in pictures] == [4]  # epoch 1 ends at step 4 (48 images, 12 per batch), as does the run
    with Image.open(tmp_path / "run" / "samples" / "epoch_0001.png") as written:
        assert (pictures[0].width, pictures[0].height) == written.size


def test_plot_command_draws_losses_and_each_metric(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    spec = write_spec(tmp_path, CONDITIONAL_SPEC)
    assert invoke("run", str(spec), "--out", str(tmp_path / "run"), "--quiet").exit_code == 0
    assert not (tmp_path / "run" / "plots").exists()  # logging.plots: false
    result = invoke("plot", str(tmp_path / "run"))
    assert result.exit_code == 0, result.output
    plots = tmp_path / "run" / "plots"
    assert result.stdout.split() == [str(plots / "losses.png"), str(plots / "metric_use-brightness.png")]
    for name, size in (("losses.png", (1000, 400)), ("metric_use-brightness.png", (600, 400))):
        with Image.open(plots / name) as image:
            assert (image.size, image.mode) == (size, "RGBA")
            assert len(np.unique(np.asarray(image.convert("L")))) > 10  # something is drawn, not a blank canvas
    other = invoke("plot", str(tmp_path / "run"), "--out", str(tmp_path / "figures"))
    assert other.exit_code == 0 and (tmp_path / "figures" / "losses.png").exists()
    assert invoke("plot", str(tmp_path / "run")).exit_code == 0  # the run's own plots/ are redrawn
    (tmp_path / "figures" / "metric_use-brightness.png").write_bytes(b"mine")
    kept = invoke("plot", str(tmp_path / "run"), "--out", str(tmp_path / "figures"))
    figure = tmp_path / "figures" / "losses.png"
    assert kept.exit_code == 2 and kept.stderr.strip() == f"Error: {figure} exists; pass --overwrite to replace it, or choose another --out"
    assert (tmp_path / "figures" / "metric_use-brightness.png").read_bytes() == b"mine"
    replaced = invoke("plot", str(tmp_path / "run"), "--out", str(tmp_path / "figures"), "--overwrite")
    assert replaced.exit_code == 0 and (tmp_path / "figures" / "metric_use-brightness.png").read_bytes() != b"mine"


def test_runs_draw_plots_at_the_end_when_matplotlib_is_there(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    spec = write_spec(tmp_path, TINY_SPEC)
    result = invoke("run", str(spec), "--out", str(tmp_path / "run"), "--quiet", "--set", "train.steps=2")
    assert result.exit_code == 0, result.output
    assert f"plots: {tmp_path / 'run' / 'plots' / 'losses.png'}" in result.stderr
    with Image.open(tmp_path / "run" / "plots" / "losses.png") as image:
        assert image.size == (1000, 400)


def test_a_short_log_is_drawn_with_dots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that logged once has one point per loss: a line through it would draw nothing."""
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    drawn: list[Any] = []
    monkeypatch.setattr(Figure, "savefig", lambda figure, path, **kwargs: drawn.append(figure))
    (tmp_path / "metrics.jsonl").write_text('{"step": 2, "epoch": 0, "loss/d": 0.5, "loss/g": 0.7, "loss/g/bce": 0.7}\n')
    assert invoke("plot", str(tmp_path)).exit_code == 0
    lines = [line for axes in drawn[0].axes for line in axes.lines]
    assert len(lines) == 3 and all(len(line.get_xdata()) == 1 and line.get_marker() == "o" for line in lines)


def test_a_run_that_logged_nothing_draws_no_plots_and_says_nothing_of_them(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    spec = write_spec(tmp_path, TINY_SPEC)
    result = invoke("run", str(spec), "--out", str(tmp_path / "run"), "--quiet", "--set", "train.steps=0")
    assert result.exit_code == 0, result.output
    assert "plots" not in result.stderr and not (tmp_path / "run" / "plots").exists()


def test_without_matplotlib_plot_says_how_to_get_it_and_runs_still_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hide(monkeypatch, "matplotlib", "matplotlib.figure")
    spec = write_spec(tmp_path, TINY_SPEC)
    run = invoke("run", str(spec), "--out", str(tmp_path / "run"), "--quiet", "--set", "train.steps=2")
    assert run.exit_code == 0, run.output
    assert "no loss plots at the end: plots need matplotlib, which is not installed: pip install 'ganforge[plot]'" in run.stderr
    assert not (tmp_path / "run" / "plots").exists()
    result = invoke("plot", str(tmp_path / "run"))
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: plots need matplotlib, which is not installed: pip install 'ganforge[plot]' (or pip install matplotlib)"


def test_plot_of_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    result = invoke("plot", str(tmp_path))
    assert result.exit_code == 2 and "has no metrics.jsonl: is it a run directory" in result.stderr
    (tmp_path / "metrics.jsonl").write_text("")
    assert "holds no values yet" in invoke("plot", str(tmp_path)).stderr
    assert "Examples:" in invoke("plot", "--help").stdout
