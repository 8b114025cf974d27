"""The CLI surface: list, validate, help texts, progress display."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import pytest
from rich.console import Console
from torch import Tensor

from ganforge import Batch, Loss, hookimpl
from ganforge.cli.progress import RichProgress
from ganforge.plugins import Plugins
from ganforge.training.progress import LineProgress
from ganforge.training.trainer import Trainer

from .conftest import invoke
from .test_core_contract import ScoresOnlyPlugin


def test_list_shows_kind_name_plugin_and_summary() -> None:
    result = invoke("list")
    assert result.exit_code == 0
    rows = [line.rstrip().split(None, 3) for line in result.stdout.splitlines()[1:]]
    assert ["loss", "lsgan", "losses"] in [r[:3] for r in rows]
    assert ["dataset", "fashion-mnist", "data", "Fashion-MNIST clothing images, 28x28 grey, 10 classes."] in rows


def test_list_params_shows_types_and_defaults() -> None:
    result = invoke("list", "loss", "--params")
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert {"a: float = 0.0", "b: float = 1.0", "c: float = 1.0"} <= set(lines)
    generator = invoke("list", "generator", "dcgan", "--params").stdout
    assert "image_shape: tuple[int, int, int] = (from the dataset)" in generator
    assert "width: int >= 1 = 64" in generator


def test_list_json_and_patterns() -> None:
    entries = json.loads(invoke("list", "dcgan", "--json").stdout)
    assert {(e["kind"], e["plugin"]) for e in entries} == {("generator", "networks"), ("discriminator", "networks")}
    assert json.loads(invoke("list", "datasets", "*mnist", "--json").stdout)[0]["name"] == "fashion-mnist"
    nothing = invoke("list", "loss", "lsgn")
    assert nothing.exit_code == 2 and nothing.stderr.strip() == "Error: no loss matches 'lsgn' (did you mean 'lsgan'?); see `ganforge list loss`"
    assert invoke("list", "generatr").stderr.strip() == "Error: no component matches 'generatr' (did you mean 'generator'?); see `ganforge list`"
    assert json.loads(invoke("list", "loss", "zzz", "--json").stdout) == []  # for scripts, an empty answer


def test_validate_names_each_component_and_plugin(tiny_spec: Path) -> None:
    result = invoke("validate", str(tiny_spec))
    assert result.exit_code == 0
    assert "OK — data synthetic (plugin data), generator dcgan (plugin networks)" in result.stdout


def test_validate_steps_trains_in_a_scratch_directory_and_keeps_nothing(
    tiny_spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plugins: Plugins
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    tempfile.tempdir = None  # read TMPDIR again
    try:
        result = invoke("validate", str(tiny_spec), "--steps", "3")
        assert result.exit_code == 0, result.output
        line = result.stdout.strip().splitlines()[-1]
        assert line.startswith("trained 3 steps in a scratch directory (removed): ") and " ms a step on cpu; the spec's 6 steps would take about " in line
        assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.yaml", "tmp"] and list((tmp_path / "tmp").iterdir()) == []  # no run, no scratch left
        plugins.register(ScoresOnlyPlugin(), "scores-only")  # a generator term reading scores: only a step finds D missing
        missing = invoke("validate", str(tiny_spec), "--steps", "1", "--set", "discriminator=null", "--set", "loss=scores-only")
        assert missing.exit_code == 2 and missing.stderr.strip() == (
            "Error: loss 'scores-only' (plugin scores-only) needs a discriminator, and the spec has discriminator: null; add one or drop the term"
        )
        exploding = invoke("validate", str(tiny_spec), "--steps", "3", "--set", "optimizers.generator.lr=1e30", "--set", "optimizers.discriminator.lr=1e30")
        assert exploding.exit_code == 2 and "of the scratch run; lower the learning rates or check the loss" in exploding.stderr
        assert list((tmp_path / "tmp").iterdir()) == []
    finally:
        tempfile.tempdir = None


def test_unreadable_spec_is_one_line(tmp_path: Path) -> None:
    result = invoke("run", str(tmp_path / "missing.yaml"))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: {tmp_path / 'missing.yaml'}: cannot read spec: No such file or directory"


def test_every_command_has_help_with_an_example() -> None:
    for command in ("run", "list", "validate"):
        result = invoke(command, "--help")
        assert result.exit_code == 0 and "Example" in result.stdout, command


def test_rich_progress_shows_losses() -> None:
    buffer = io.StringIO()
    progress = RichProgress(Console(file=buffer, force_terminal=True, width=150))
    progress.start(total=10, done=0)
    progress.tick(3)
    progress.update(5, {"loss/d": 0.25, "loss/g": 1.5})
    progress.stop()
    text = buffer.getvalue()
    assert "5/10" in text and "loss/d=0.25" in text and "loss/g=1.5" in text


def test_line_progress_prints_step_losses_and_rate() -> None:
    buffer = io.StringIO()
    progress = LineProgress(buffer)
    progress.start(total=10, done=0)
    progress.update(5, {"loss/d": 0.25})
    assert buffer.getvalue().startswith("step 5/10  loss/d=0.25  (")


def test_line_progress_reports_only_long_metric_phases(monkeypatch) -> None:
    import ganforge.training.progress

    buffer = io.StringIO()
    progress = LineProgress(buffer)
    for done in (250, 500):
        progress.evaluating("fid: generated", done, 500)
    assert buffer.getvalue() == ""  # done well within EVALUATION_REPORT_SECONDS
    monkeypatch.setattr(ganforge.training.progress, "EVALUATION_REPORT_SECONDS", 0.0)
    for _ in range(2):  # the same label twice: two evaluations, each reported
        for done in (250, 500):
            progress.evaluating("fid: generated", done, 500)
    assert buffer.getvalue().splitlines() == ["fid: generated: 250/500 samples", "fid: generated: 500/500 samples"] * 2


def test_rich_progress_shows_a_metric_phase_without_a_training_bar() -> None:
    buffer = io.StringIO()
    progress = RichProgress(Console(file=buffer, force_terminal=True, width=150))
    progress.evaluating("fid: real train", 300, 1000)
    assert progress.progress.tasks[0].description == "fid: real train"
    progress.evaluating("fid: real train", 1000, 1000)
    assert not progress.progress.tasks  # a finished phase leaves no bar behind
    progress.stop()
    assert "fid: real train" in buffer.getvalue()


def test_rich_progress_shows_labels_as_they_are() -> None:
    buffer = io.StringIO()
    progress = RichProgress(Console(file=buffer, force_terminal=True, width=150))
    progress.start(total=10, done=0)
    progress.evaluating("fid[/x] {name: synthetic}: generated", 1, 4)  # neither markup nor a format string
    progress.update(5, {"loss/d": 0.25})
    progress.stop()
    assert "fid[/x] {name: synthetic}: generated" in buffer.getvalue()


class MisshapenLoss(Loss):
    """A loss whose discriminator side fails on the first step."""

    def discriminator_loss(self, batch: Batch) -> Tensor:
        return (batch.real_scores.view(-1, 3) * batch.fake_scores).mean()  # 16 scores do not split into rows of 3


class MisshapenPlugin:
    __name__ = "misshapen"

    @hookimpl
    def register_losses(self, register):  # type: ignore[no-untyped-def]
        register("misshapen", MisshapenLoss)


def test_validate_steps_that_fail_print_one_line_and_no_ok(tiny_spec: Path, plugins: Plugins, monkeypatch: pytest.MonkeyPatch) -> None:
    plugins.register(MisshapenPlugin(), "misshapen")
    failed = invoke("validate", str(tiny_spec), "--steps", "2", "--set", "loss=misshapen")
    assert "OK" not in failed.stdout and failed.exit_code == 1  # a component's failure, as `ganforge run` reports it
    assert failed.stderr.strip().splitlines() == [
        "Error: loss 'misshapen' (plugin misshapen) failed in discriminator_loss: RuntimeError: shape '[-1, 3]' is invalid for input of size 16"
    ]
    def out_of_memory(self: Trainer) -> None:
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore torch detail")

    monkeypatch.setattr(Trainer, "train_step", out_of_memory)
    torch_failure = invoke("validate", str(tiny_spec), "--steps", "2")
    assert "OK" not in torch_failure.stdout and torch_failure.exit_code == 2
    assert torch_failure.stderr.strip().splitlines() == [
        "Error: step 1 of the scratch run failed: RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB (--debug shows where)"
    ]


def test_quiet_run_prints_no_step_lines(tiny_spec: Path, tmp_path: Path) -> None:
    quiet = invoke("run", str(tiny_spec), "--out", str(tmp_path / "quiet"), "--quiet", "--set", "train.steps=4")
    assert quiet.exit_code == 0, quiet.output
    lines = quiet.stderr.strip().splitlines()
    assert not [line for line in lines if line.startswith("step ")], quiet.stderr
    assert lines[0].startswith("tiny: data synthetic") and lines[-1].startswith("finished 4 steps in ")
    plain = invoke("run", str(tiny_spec), "--out", str(tmp_path / "plain"), "--set", "train.steps=4")  # not a terminal: lines
    assert [line.split()[1] for line in plain.stderr.splitlines() if line.startswith("step ")] == ["2/4", "4/4"]
