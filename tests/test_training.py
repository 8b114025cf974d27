"""Training: outputs, exact resume, interruption, safe checkpoints, metrics, divergence."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from ganforge import EvalContext, Loss, Metric, hookimpl
from ganforge.checkpoint import load_checkpoint, save_checkpoint
from ganforge.errors import GanforgeError
from ganforge.plugins import Plugins
from ganforge.training.ema import EMA

from .conftest import invoke


def tensors(state: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    """Every tensor in a nested checkpoint, by path (RNG and bookkeeping excluded)."""
    out: dict[str, torch.Tensor] = {}
    if isinstance(state, dict):
        for k, v in state.items():
            if k not in ("rng", "spec", "best"):
                out.update(tensors(v, f"{prefix}{k}."))
    elif isinstance(state, (list, tuple)):
        for i, v in enumerate(state):
            out.update(tensors(v, f"{prefix}{i}."))
    elif isinstance(state, torch.Tensor):
        out[prefix.rstrip(".")] = state
    return out


def assert_same_weights(a: Path, b: Path) -> None:
    ta, tb = tensors(load_checkpoint(a)), tensors(load_checkpoint(b))
    assert ta.keys() == tb.keys()
    different = [k for k in ta if not torch.equal(ta[k], tb[k])]
    assert not different, different


def run(spec: Path, out: Path, *extra: str) -> Any:
    return invoke("run", str(spec), "--out", str(out), "--quiet", *extra)


def test_training_changes_weights_and_writes_every_output(tiny_spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = run(tiny_spec, tmp_path / "init", "--set", "train.steps=0")
    assert first.exit_code == 0, first.output
    result = run(tiny_spec, out)
    assert result.exit_code == 0, result.output
    before, after = tensors(load_checkpoint(tmp_path / "init/checkpoints/last.pt")), tensors(load_checkpoint(out / "checkpoints/last.pt"))
    for name in ("generator.net.0.weight", "discriminator.net.0.weight", "ema.net.0.weight"):
        assert not torch.equal(before[name], after[name]), name
    assert (out / "spec.yaml").read_text().startswith("name: tiny")
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4, 6]
    assert all(set(r) == {"step", "epoch", "loss/d", "loss/g"} for r in records)
    # 64 samples / batch 16 = 4 steps per epoch: one epoch picture, then the final mid-epoch one
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["epoch_0001.png", "step_0000006.png"]
    with Image.open(out / "samples/epoch_0001.png") as image:
        assert image.size == (8 * 28 + 9 * 2, 8 * 28 + 9 * 2)
    assert json.loads((out / "status.json").read_text())["status"] == "finished"
    state = load_checkpoint(out / "checkpoints/last.pt")
    assert state["step"] == 6 and set(state["optimizers"]) == {"generator", "discriminator"}


def test_same_seed_same_weights(tiny_spec: Path, tmp_path: Path) -> None:
    assert run(tiny_spec, tmp_path / "a").exit_code == 0
    assert run(tiny_spec, tmp_path / "b").exit_code == 0
    assert_same_weights(tmp_path / "a/checkpoints/last.pt", tmp_path / "b/checkpoints/last.pt")
    assert run(tiny_spec, tmp_path / "c", "--set", "seed=1").exit_code == 0
    with pytest.raises(AssertionError):
        assert_same_weights(tmp_path / "a/checkpoints/last.pt", tmp_path / "c/checkpoints/last.pt")


def test_resume_is_bit_identical(tiny_spec: Path, tmp_path: Path) -> None:
    # 7 steps with 4 per epoch: the resume point (3) sits mid-epoch, and the run crosses an epoch after it.
    assert run(tiny_spec, tmp_path / "full", "--set", "train.steps=7").exit_code == 0
    assert run(tiny_spec, tmp_path / "split", "--set", "train.steps=3").exit_code == 0
    resumed = run(tiny_spec, tmp_path / "split", "--set", "train.steps=7", "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert_same_weights(tmp_path / "full/checkpoints/last.pt", tmp_path / "split/checkpoints/last.pt")
    steps = [json.loads(r)["step"] for r in (tmp_path / "split/metrics.jsonl").read_text().splitlines()]
    assert steps == [2, 3, 4, 6, 7]  # the 3-step run logged its own last step, then the resumed run went on


def test_a_run_stopped_mid_window_logs_the_same_losses_after_resume(tiny_spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The losses of the steps since the last log line travel in the checkpoint: stopped at step 5
    with log_every 4, the resumed run's step-8 line averages steps 5-8, as the straight run's does."""
    from ganforge.training.trainer import Trainer

    after_step = Trainer._after_step

    def stop_at_five(self: Trainer) -> None:
        after_step(self)
        if self.state.step == 5:
            self.state.stop_signal = signal.SIGINT

    with monkeypatch.context() as patched:
        patched.setattr(Trainer, "_after_step", stop_at_five)
        assert run(tiny_spec, tmp_path / "stopped", "--set", "train.steps=8", "--set", "train.log_every=4").exit_code == 130
    assert run(tiny_spec, tmp_path / "stopped", "--set", "train.steps=8", "--set", "train.log_every=4", "--resume").exit_code == 0
    assert run(tiny_spec, tmp_path / "straight", "--set", "train.steps=8", "--set", "train.log_every=4").exit_code == 0
    logs = [(tmp_path / name / "metrics.jsonl").read_text() for name in ("stopped", "straight")]
    assert [json.loads(line)["step"] for line in logs[0].splitlines()] == [4, 8]
    assert logs[0] == logs[1]


def test_interrupted_run_resumes_to_the_same_weights(tiny_spec: Path, tmp_path: Path) -> None:
    """A real SIGINT to a real process: it finishes the step, checkpoints, exits 130; resume matches."""
    out = tmp_path / "interrupted"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}  # same threads as in-process runs
    args = [sys.executable, "-m", "ganforge", "run", str(tiny_spec), "--out", str(out), "--quiet",
            "--set", "train.steps=100000", "--set", "train.log_every=1"]  # fmt: skip
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "metrics.jsonl").exists():
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "checkpoint saved" in stderr and "--resume" in stderr
    status = json.loads((out / "status.json").read_text())
    assert status["status"] == "interrupted"
    stopped = status["step"]
    target = f"train.steps={stopped + 3}"
    assert run(tiny_spec, out, "--set", target, "--set", "train.log_every=1", "--resume").exit_code == 0
    assert run(tiny_spec, tmp_path / "straight", "--set", target, "--set", "train.log_every=1").exit_code == 0
    assert_same_weights(out / "checkpoints/last.pt", tmp_path / "straight/checkpoints/last.pt")


def test_resume_refuses_a_different_model(tiny_spec: Path, tmp_path: Path) -> None:
    assert run(tiny_spec, tmp_path / "r", "--set", "train.steps=1").exit_code == 0
    result = run(tiny_spec, tmp_path / "r", "--set", "generator.width=16", "--resume")
    assert result.exit_code == 2
    assert "the spec differs from the run's in generator.width" in result.stderr


def test_resume_without_checkpoint_is_a_clear_error(tiny_spec: Path, tmp_path: Path) -> None:
    result = run(tiny_spec, tmp_path / "nothing", "--resume")
    assert result.exit_code == 2 and "no checkpoint at" in result.stderr


class Payload:
    def __reduce__(self):  # what a malicious checkpoint would do
        return (os.system, ("echo pwned",))


def test_checkpoint_with_pickled_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"generator": {}, "payload": Payload()}, path)
    with pytest.raises(GanforgeError, match="refusing to load .*evil.pt: it holds Python objects"):
        load_checkpoint(path)
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps({"x": Payload()}))
    with pytest.raises(GanforgeError, match="refusing to load|cannot read"):
        load_checkpoint(raw)


def test_failed_write_leaves_previous_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "last.pt"
    save_checkpoint({"step": 1, "w": torch.ones(3)}, path)

    def torn_save(obj: Any, f: Any) -> None:
        f.write(b"partial garbage")
        raise KeyboardInterrupt  # killed mid-write

    monkeypatch.setattr(torch, "save", torn_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({"step": 2, "w": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert list(tmp_path.iterdir()) == [path]


def test_ema_follows_the_formula_with_warm_up() -> None:
    model = torch.nn.Linear(3, 2)
    ema = EMA(model, decay=0.9)
    for n, expected_decay in enumerate([0.1, 2 / 11, 0.25]):  # (1 + n) / (10 + n) while below 0.9
        assert ema.current_decay() == pytest.approx(expected_decay)
        old = ema.shadow.weight.clone()
        with torch.no_grad():
            model.weight.add_(1.0)
        ema.update()
        torch.testing.assert_close(ema.shadow.weight, expected_decay * old + (1 - expected_decay) * model.weight)
    assert EMA(model, decay=0.9, updates=1000).current_decay() == 0.9


class MeanPixel(Metric):
    """Mean generated pixel value (a test metric)."""

    higher_is_better = True

    def __init__(self, samples: int = 8) -> None:
        self.samples = samples
        self.calls = 0

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        torch.rand(100)  # consumes global RNG: the trainer must shield training from it
        self.calls += 1
        values = torch.cat([x for x, _ in context.generated(self.samples)])
        return {"mean_pixel": values.mean().item()}


class MetricPlugin:
    __name__ = "metric-plugin"

    @hookimpl
    def register_metrics(self, register):
        register("mean-pixel", MeanPixel)


def test_metrics_are_scheduled_logged_and_keep_best(tiny_spec: Path, tmp_path: Path, plugins: Plugins) -> None:
    plugins.register(MetricPlugin(), "metric-plugin")
    text = tiny_spec.read_text() + "metrics:\n  - {name: mean-pixel, every: 2}\n  - {name: mean-pixel, every: 1 epoch, samples: 4}\n"
    spec = tmp_path / "with_metrics.yaml"
    spec.write_text(text)
    assert run(spec, tmp_path / "m").exit_code == 0
    records = [json.loads(line) for line in (tmp_path / "m/metrics.jsonl").read_text().splitlines()]
    metric_steps = [r["step"] for r in records if "mean_pixel" in r]
    assert metric_steps == [2, 4, 4, 6]  # every 2 steps, plus the end of epoch 1 (step 4)
    best = load_checkpoint(tmp_path / "m/checkpoints/best.pt")
    values = [r["mean_pixel"] for r in records if "mean_pixel" in r]
    assert best["best"]["value"] == max(values) and best["best"]["mode"] == "max"
    # metrics run on forked RNG: training is identical to a run without them
    assert run(tiny_spec, tmp_path / "plain").exit_code == 0
    assert_same_weights(tmp_path / "plain/checkpoints/last.pt", tmp_path / "m/checkpoints/last.pt")


class PixelSpread(MeanPixel):
    """Standard deviation of generated pixels (a lower-is-better test metric)."""

    higher_is_better = False

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        values = torch.cat([x for x, _ in context.generated(self.samples)])
        return {"spread": values.std().item()}


def test_best_follows_the_direction_of_the_chosen_metric(tiny_spec: Path, tmp_path: Path, plugins: Plugins) -> None:
    class Plugin:
        __name__ = "two-metrics"

        @hookimpl
        def register_metrics(self, register):
            register("mean-pixel", MeanPixel)
            register("spread", PixelSpread)

    plugins.register(Plugin(), "two-metrics")
    spec = tmp_path / "two.yaml"
    spec.write_text(tiny_spec.read_text().replace("ema: 0.9}", "ema: 0.9, best_metric: spread}")
                    + "metrics:\n  - {name: mean-pixel, every: 1}\n  - {name: spread, every: 1}\n")  # fmt: skip
    assert run(spec, tmp_path / "two").exit_code == 0
    spreads = [json.loads(line)["spread"] for line in (tmp_path / "two/metrics.jsonl").read_text().splitlines() if "spread" in line]
    best = load_checkpoint(tmp_path / "two/checkpoints/best.pt")["best"]
    assert best["mode"] == "min" and best["value"] == min(spreads)


def test_a_best_metric_no_metric_gives_stops_with_the_training_saved(tiny_spec: Path, tmp_path: Path, plugins: Plugins) -> None:
    plugins.register(MetricPlugin(), "metric-plugin")
    spec = tmp_path / "typo.yaml"
    spec.write_text(tiny_spec.read_text().replace("ema: 0.9}", "ema: 0.9, best_metric: mean_pixle}") + "metrics:\n  - {name: mean-pixel, every: 2}\n")
    result = run(spec, tmp_path / "typo")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: train.best_metric 'mean_pixle' is none of the values the metrics give (mean_pixel) (did you mean 'mean_pixel'?), "
        "so best.pt cannot be chosen; training is saved at step 2: fix that and continue with --resume"
    )
    assert load_checkpoint(tmp_path / "typo/checkpoints/last.pt")["step"] == 2
    assert json.loads((tmp_path / "typo/status.json").read_text())["status"] == "failed"
    fixed = run(spec, tmp_path / "typo", "--set", "train.best_metric=mean_pixel", "--resume")
    assert fixed.exit_code == 0, fixed.output
    assert load_checkpoint(tmp_path / "typo/checkpoints/best.pt")["best"]["metric"] == "mean_pixel"


class NeedsWeights(MeanPixel):
    """A metric whose extractor's weights are missing (a test metric)."""

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        raise GanforgeError("weights file net.pth not found; put it in a folder named by $GANFORGE_WEIGHTS")


def test_a_failing_metric_does_not_cost_the_training_done(tiny_spec: Path, tmp_path: Path, plugins: Plugins) -> None:
    class Plugin:
        __name__ = "needs-weights"

        @hookimpl
        def register_metrics(self, register):
            register("needs-weights", NeedsWeights)

    plugins.register(Plugin(), "needs-weights")
    spec = tmp_path / "weights.yaml"
    spec.write_text(tiny_spec.read_text() + "metrics:\n  - {name: needs-weights, every: 1 epoch}\n")
    result = run(spec, tmp_path / "w")
    assert result.exit_code == 2
    assert result.stderr.strip().endswith("$GANFORGE_WEIGHTS; training is saved at step 4: fix that and continue with --resume")
    assert load_checkpoint(tmp_path / "w/checkpoints/last.pt")["step"] == 4  # the first epoch's end, where the metric ran
    assert run(spec, tmp_path / "w", "--set", "metrics=[]", "--resume").exit_code == 0


def test_best_metric_without_metrics_is_a_spec_error(tiny_spec: Path) -> None:
    result = invoke("validate", str(tiny_spec), "--set", "train.best_metric=fid")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: --set train.best_metric=fid: train.best_metric: best_metric names a metric value, but the spec has no metrics: "
        "add one under metrics:, or remove best_metric"
    )


class NaNAfterTwo(Loss):
    """Finite for two discriminator updates, then NaN (a test loss)."""

    def __init__(self) -> None:
        self.calls = 0

    def discriminator_loss(self, batch: Any) -> torch.Tensor:
        self.calls += 1
        value = batch.fake_scores.mean() - batch.real_scores.mean()
        return value if self.calls <= 2 else value * float("nan")

    def generator_loss(self, batch: Any) -> torch.Tensor:
        return -batch.fake_scores.mean()


def test_divergence_stops_with_a_clear_message(tiny_spec: Path, tmp_path: Path, plugins: Plugins) -> None:
    class Plugin:
        __name__ = "nan-plugin"

        @hookimpl
        def register_losses(self, register):
            register("nan-after-two", NaNAfterTwo)

    plugins.register(Plugin(), "nan-plugin")
    result = run(tiny_spec, tmp_path / "nan", "--set", "loss={name: nan-after-two}")
    assert result.exit_code == 1
    assert "Error: loss/d, loss/g became nan by step 4; no checkpoint was written" in result.stderr
    assert json.loads((tmp_path / "nan/status.json").read_text())["status"] == "diverged"


def test_cuda_requested_without_cuda(tiny_spec: Path, tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = run(tiny_spec, tmp_path / "x", "--set", "device=cuda")
    assert result.exit_code == 2
    assert "device 'cuda' requested but CUDA is not available" in result.stderr


def test_python_dash_m_is_the_cli() -> None:
    result = subprocess.run([sys.executable, "-m", "ganforge", "list", "loss"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "lsgan" in result.stdout


def test_long_metric_phases_report_progress_during_a_run(tiny_spec: Path, tmp_path: Path, plugins: Plugins, monkeypatch: pytest.MonkeyPatch) -> None:
    import ganforge.training.progress

    plugins.register(MetricPlugin(), "metric-plugin")
    spec = tmp_path / "with_metric.yaml"
    spec.write_text(tiny_spec.read_text() + "metrics:\n  - {name: mean-pixel, every: 1 epoch, samples: 8}\n")
    quick = invoke("run", str(spec), "--out", str(tmp_path / "quick"))  # plain lines: stderr is no terminal here
    assert quick.exit_code == 0 and "samples" not in quick.stderr  # a quick evaluation adds no lines
    monkeypatch.setattr(ganforge.training.progress, "EVALUATION_REPORT_SECONDS", 0.0)  # every phase counts as long
    result = invoke("run", str(spec), "--out", str(tmp_path / "slow"))
    assert result.exit_code == 0
    assert result.stderr.count("mean-pixel: generated: 8/8 samples") == 1  # the one epoch of 6 steps
    assert "samples" not in run(spec, tmp_path / "quiet").stderr  # --quiet: no progress lines at all


class CountingLoss(Loss):
    """Least squares, counting its calls (CONTRIBUTING's "How often a loss is called")."""

    calls: dict[str, int] = {}

    def _count(self, what: str) -> None:
        CountingLoss.calls[what] = CountingLoss.calls.get(what, 0) + 1

    def discriminator_loss(self, batch: Any) -> torch.Tensor:
        self._count("discriminator_loss")
        assert batch.real.shape[0] == 8  # data.batch_size 16 in accumulate=2 micro-batches
        return (batch.real_scores - 1).square().mean() + batch.fake_scores.square().mean()

    def generator_loss(self, batch: Any) -> torch.Tensor:
        self._count("generator_loss")
        return (batch.fake_scores - 1).square().mean()

    def after_discriminator_step(self, discriminator: torch.nn.Module) -> None:
        self._count("after_discriminator_step")


class CountingPlugin:
    __name__ = "counting"

    @hookimpl
    def register_losses(self, register):  # type: ignore[no-untyped-def]
        register("counting", CountingLoss)


@pytest.mark.parametrize(("every", "expected"), [
    (1, {"discriminator_loss": 12, "generator_loss": 6, "after_discriminator_step": 6}),  # 3 steps x (2 x 2, 2, 2)
    (2, {"discriminator_loss": 6, "generator_loss": 4, "after_discriminator_step": 6}),  # D updates 0, 2, 4; steps 0, 2
])  # fmt: skip
def test_a_loss_is_called_as_contributing_says(tiny_spec: Path, plugins: Plugins, every: int, expected: dict[str, int]) -> None:
    plugins.register(CountingPlugin(), "counting")
    CountingLoss.calls = {}
    result = invoke("validate", str(tiny_spec), "--steps", "3", "--set", "train.d_steps=2", "--set", "train.accumulate=2",
                    "--set", f"penalties=[{{name: counting, every: {every}}}]")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert CountingLoss.calls == expected
    guide = " ".join((Path(__file__).parents[1] / "CONTRIBUTING.md").read_text().split())
    assert "`discriminator_loss` is therefore called `d_steps × accumulate` times" in guide
    assert "`generator_loss` `accumulate` times" in guide and "`after_discriminator_step` `d_steps` times" in guide
