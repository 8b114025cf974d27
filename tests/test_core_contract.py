"""Core contract v2: named batch inputs, generators that read the batch, optional discriminator,
augmentation of every discriminator input, scheduled terms, optimizer schedules, precision,
accumulation, warm starts, structured truncation, status and attribution on every way out."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge import Augment, Batch, Dataset, DataSplit, Discriminator, Generator, GeneratorOutput, Loss, Metric, hookimpl
from ganforge.checkpoint import load_checkpoint
from ganforge.errors import GanforgeError
from ganforge.plugins import Plugins

from .conftest import TINY_SPEC, cpu_fp16_supported, invoke
from .test_training import assert_same_weights, tensors

SHAPE = (1, 8, 8)


# ---- components the tests register ---------------------------------------------------------------


class PairedSquares(Dataset):
    """Seeded 8x8 images with a named input: their 4x4 average-pooled copy.

    Args:
        size: number of samples.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self.image_shape = SHAPE

    def load(self, split: str = "train") -> DataSplit:
        rng = torch.Generator().manual_seed(3)
        images = torch.randint(0, 256, (self.size, *SHAPE), generator=rng, dtype=torch.uint8)
        low = F.avg_pool2d(images.float(), 2).round().to(torch.uint8)
        return DataSplit(images, None, {"lr": low})


class Upscaler(Generator):
    """Reads the named input ``lr`` and upsamples it; records what it was given.

    Args:
        image_shape: from the dataset.
    """

    inputs = ("lr",)
    seen: list[dict[str, Any]] = []

    def __init__(self, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.image_shape, self.latent_dim = tuple(image_shape), 2
        self.conv = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, z: Tensor, labels: Tensor | None = None, lr: Tensor | None = None) -> Tensor:
        Upscaler.seen.append({"lr": None if lr is None else lr.detach().clone(), "z": z.shape})
        assert lr is not None
        return torch.tanh(self.conv(F.interpolate(lr, scale_factor=2)))


class Autoencoder(Generator):
    """Encodes the real batch (``inputs = ("real",)``) and returns its mean as an extra output.

    Args:
        image_shape: from the dataset.
    """

    inputs = ("real",)

    def __init__(self, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.image_shape, self.latent_dim = tuple(image_shape), 4
        self.encode = nn.Linear(64, 4)
        self.decode = nn.Linear(4, 64)

    def forward(self, z: Tensor, labels: Tensor | None = None, real: Tensor | None = None) -> GeneratorOutput:
        mean = self.encode(real.flatten(1)) if real is not None else z
        return GeneratorOutput(torch.tanh(self.decode(mean)).view(-1, *self.image_shape), {"mean": mean})


class PixelLoss(Loss):
    """Generator-side MSE to the real batch; checks it sees the named inputs and extras.

    Args:
        needs_extra: the generator's extra output this loss reads (empty for none).
    """

    def __init__(self, needs_extra: str = "") -> None:
        self.needs_extra = needs_extra

    def generator_loss(self, batch: Batch) -> Tensor:
        if self.needs_extra:
            assert self.needs_extra in batch.fake_extras
        batch.log("abs", (batch.fake - batch.real).abs().mean())
        return (batch.fake - batch.real).pow(2).mean()


class SpyDiscriminator(Discriminator):
    """A linear critic that records the smallest pixel value of everything it scores, and in which phase.

    Args:
        image_shape: from the dataset.
    """

    calls: list[tuple[str, float, bool]] = []

    def __init__(self, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.linear = nn.Linear(64, 1)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        phase = "discriminator" if self.linear.weight.requires_grad else "generator"
        SpyDiscriminator.calls.append((phase, float(images.detach().min()), images.requires_grad))
        return self.linear(images.flatten(1)).flatten()


class ShiftAugment(Augment):
    """Adds 100 to every pixel (differentiably), so a spy can tell augmented inputs apart.

    Args:
        shift: the constant added.
    """

    def __init__(self, shift: float = 100.0) -> None:
        super().__init__()
        self.shift = shift
        self.register_buffer("observed", torch.zeros((), dtype=torch.float64))

    def forward(self, images: Tensor) -> Tensor:
        return images + self.shift

    def observe(self, real_scores: Tensor) -> None:
        self.observed += 1

    def log_values(self) -> dict[str, float]:
        return {"augment/observed": float(self.observed)}


class CountingPenalty(Loss):
    """A discriminator-side term of value 1 that records the steps it ran at.

    Args:
        side: which network's objective it joins.
    """

    name = "counting"
    steps: list[int] = []

    def __init__(self, side: str = "discriminator") -> None:
        self.side = side

    def _value(self, batch: Batch) -> Tensor:
        CountingPenalty.steps.append(batch.step)
        return batch.real.sum() * 0 + 1.0

    def discriminator_loss(self, batch: Batch) -> Tensor | None:
        return self._value(batch) if self.side == "discriminator" else None

    def generator_loss(self, batch: Batch) -> Tensor | None:
        return self._value(batch) if self.side == "generator" else None


class VectorLoss(Loss):
    """Returns a vector instead of a scalar: a plugin bug the trainer must attribute."""

    def discriminator_loss(self, batch: Batch) -> Tensor:
        return batch.real_scores

    def generator_loss(self, batch: Batch) -> Tensor:
        return -batch.fake_scores.mean()


class BrokenGenerator(Upscaler):
    """Raises inside forward, as a buggy plugin would.

    Args:
        image_shape: from the dataset.
    """

    def forward(self, z: Tensor, labels: Tensor | None = None, lr: Tensor | None = None) -> Tensor:
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")


class LinearGenerator(Generator):
    """A linear generator with no batch norm, so accumulation can be compared exactly.

    Args:
        image_shape: from the dataset.
    """

    def __init__(self, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.image_shape, self.latent_dim = tuple(image_shape), 4
        self.linear = nn.Linear(4, 64)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return torch.tanh(self.linear(z)).view(-1, *self.image_shape)


class TestComponents:
    @hookimpl
    def register_datasets(self, register: Any) -> None:
        register("paired-squares", PairedSquares)

    @hookimpl
    def register_generators(self, register: Any) -> None:
        register("upscaler", Upscaler)
        register("autoencoder", Autoencoder)
        register("broken", BrokenGenerator)
        register("linear", LinearGenerator)

    @hookimpl
    def register_discriminators(self, register: Any) -> None:
        register("spy", SpyDiscriminator)

    @hookimpl
    def register_losses(self, register: Any) -> None:
        register("pixel-check", PixelLoss)
        register("counting", CountingPenalty)
        register("vector", VectorLoss)

    @hookimpl
    def register_augments(self, register: Any) -> None:
        register("shift", ShiftAugment)


@pytest.fixture
def components(plugins: Plugins) -> Plugins:
    plugins.register(TestComponents(), "core-test-components")
    Upscaler.seen.clear()
    SpyDiscriminator.calls.clear()
    CountingPenalty.steps.clear()
    return plugins


def write_spec(tmp_path: Path, body: str, name: str = "spec") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text("seed: 0\ndevice: cpu\n" + body)
    return path


def run(spec: Path, out: Path, *extra: str) -> Any:
    return invoke("run", str(spec), "--out", str(out), "--quiet", *extra)


def records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


# ---- named inputs, generators that read the batch, no discriminator --------------------------------


def test_generator_reads_named_inputs_and_trains_without_a_discriminator(components: Plugins, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, """\
generator: {name: upscaler}
discriminator: null
loss: {name: pixel-check}
data: {name: paired-squares, batch_size: 16}
train: {steps: 4, log_every: 1, samples: 4}
""")
    result = run(spec, tmp_path / "run")
    assert result.exit_code == 0, result.output
    split = PairedSquares().load()
    # each training call got a batch's worth of low-resolution inputs in [-1, 1], as the dataset paired them
    training = [call for call in Upscaler.seen if call["lr"] is not None and call["lr"].shape[0] == 16]
    assert len(training) == 4
    lows = (split.inputs["lr"].float() / 127.5 - 1).flatten(1)
    for call in training:
        for row in call["lr"].flatten(1):
            assert (lows - row).abs().amax(1).min() < 1e-6  # a real pair, not made up
    # the sample picture draws from the first training samples' inputs
    assert any(torch.equal(call["lr"], lows[:4].view(4, 1, 4, 4)) for call in Upscaler.seen)
    state = load_checkpoint(tmp_path / "run/checkpoints/last.pt")
    assert state["discriminator"] is None and set(state["optimizers"]) == {"generator"}
    assert [set(r) for r in records(tmp_path / "run")][0] == {"step", "epoch", "loss/g", "loss/g/pixel-check/abs"}


def test_generator_that_encodes_the_real_batch_passes_extras_to_losses(components: Plugins, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, """\
generator: {name: autoencoder}
discriminator: null
loss: {name: pixel-check, needs_extra: mean}
data: {name: paired-squares, batch_size: 16}
train: {steps: 30, log_every: 10}
optimizers:
  generator: {name: Adam, lr: 0.01}
""")
    result = run(spec, tmp_path / "run")
    assert result.exit_code == 0, result.output
    logged = records(tmp_path / "run")
    losses = [r["loss/g"] for r in logged]
    assert losses[-1] < losses[0]  # reconstruction error falls
    assert all(0 < r["loss/g/pixel-check/abs"] < 2 for r in logged)  # a part the term logged beside its value


def test_missing_named_input_is_one_line(components: Plugins, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, """\
generator: {name: upscaler}
discriminator: null
loss: {name: pixel-check}
data: {name: synthetic, size: 32, batch_size: 16, image_size: 8}
train: {steps: 2}
""")
    result = run(spec, tmp_path / "run")
    assert result.exit_code == 2
    assert "reads input 'lr'" in result.output and "synthetic" in result.output and "Traceback" not in result.output


def test_a_term_that_needs_the_missing_discriminator_says_so(components: Plugins, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, """\
generator: {name: upscaler}
discriminator: null
loss: {name: lsgan}
data: {name: paired-squares, batch_size: 16}
train: {steps: 2}
""")
    result = run(spec, tmp_path / "run")
    assert result.exit_code == 2 and "trains the discriminator, and the spec has discriminator: null" in result.stderr
    assert not (tmp_path / "run").exists()  # refused with the spec, before a run directory


# ---- augmentation -------------------------------------------------------------------------------------


def test_every_discriminator_input_is_augmented_in_both_phases(components: Plugins, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, """\
generator: {name: upscaler}
discriminator: {name: spy}
augment: {name: shift}
loss: {name: bce}
penalties: [{name: r1, gamma: 1.0}]
data: {name: paired-squares, batch_size: 16}
train: {steps: 3, log_every: 1, d_steps: 2}
""")
    result = run(spec, tmp_path / "run")
    assert result.exit_code == 0, result.output
    calls = SpyDiscriminator.calls
    assert {phase for phase, _, _ in calls} == {"discriminator", "generator"}
    assert any(phase == "discriminator" and grad for phase, _, grad in calls)  # R1's inputs reached it too
    assert all(low >= 98.0 for _, low, _ in calls), [c for c in calls if c[1] < 98]  # images in [-1, 1], shifted by 100
    state = load_checkpoint(tmp_path / "run/checkpoints/last.pt")
    assert float(state["augment"]["observed"]) == 6  # observe() after each of 3 x 2 discriminator updates
    assert records(tmp_path / "run")[-1]["augment/observed"] == 6


# ---- scheduled terms ------------------------------------------------------------------------------------


def test_lazy_term_runs_every_nth_update_with_its_weight_multiplied(components: Plugins, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, """\
generator: {name: upscaler}
discriminator: {name: spy}
loss: {name: bce}
penalties: [{name: counting, every: 16}]
data: {name: paired-squares, batch_size: 16}
train: {steps: 33, log_every: 1}
""")
    result = run(spec, tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert CountingPenalty.steps == [0, 16, 32]
    logged = {r["step"]: r.get("loss/d/counting") for r in records(tmp_path / "run")}
    assert {step - 1 for step, value in logged.items() if value is not None} == {0, 16, 32}
    assert all(value == 16.0 for value in logged.values() if value is not None)


def test_lazy_term_counts_discriminator_updates_not_steps(components: Plugins, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, """\
generator: {name: upscaler}
discriminator: {name: spy}
loss: {name: bce}
penalties: [{name: counting, every: 4}]
data: {name: paired-squares, batch_size: 16}
train: {steps: 4, d_steps: 2}
""")
    assert run(spec, tmp_path / "run").exit_code == 0
    assert CountingPenalty.steps == [0, 2]  # updates 0 and 4 of 8, in steps 0 and 2


def test_generator_side_term_with_start_and_stop(components: Plugins, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, """\
generator: {name: upscaler}
discriminator: {name: spy}
loss: {name: bce}
penalties: [{name: counting, side: generator, start: 2, stop: 5}]
data: {name: paired-squares, batch_size: 16}
train: {steps: 7}
""")
    assert run(spec, tmp_path / "run").exit_code == 0
    assert CountingPenalty.steps == [2, 3, 4]


@pytest.mark.parametrize(
    "penalty, message",
    [
        ("{name: r1, every: 0}", "penalties.0.every: expected int >= 1, got 0"),
        ("{name: r1, start: -1}", "penalties.0.start: expected int >= 0, got -1"),
        ("{name: r1, start: 5, stop: 5}", "penalties.0.stop: stop must be null or a step after start"),
        ("{name: r1, every: often}", "penalties.0.every: expected int >= 1, got 'often'"),
        ("{name: r1, stop: -2}", "penalties.0.stop: expected int >= 0 | null, got -2"),
    ],
)
def test_bad_schedules_are_spec_errors(tiny_spec: Path, tmp_path: Path, penalty: str, message: str) -> None:
    result = run(tiny_spec, tmp_path / "run", "--set", f"penalties=[{penalty}]")
    assert result.exit_code == 2 and message in result.output and "penalties.0" in result.output


# ---- optimizer schedules ---------------------------------------------------------------------------------


def test_learning_rate_schedule_with_warmup_is_logged_and_follows_the_formula(tiny_spec: Path, tmp_path: Path) -> None:
    result = run(
        tiny_spec, tmp_path / "run", "--set", "train.log_every=1", "--set", "train.steps=8",
        "--set", "optimizers.generator={name: SGD, lr: 0.1, warmup: 4, schedule: {name: CosineAnnealingLR, T_max: 4}}",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    logged = [r["lr/generator"] for r in records(tmp_path / "run")]
    import math

    warm = [0.1 * (0.25 + 0.75 * k / 4) for k in range(1, 4)] + [0.1]
    cosine = [0.1 * (1 + math.cos(math.pi * k / 4)) / 2 for k in range(1, 5)]
    assert logged == pytest.approx(warm + cosine, rel=1e-6)
    assert "lr/discriminator" not in records(tmp_path / "run")[0]  # no schedule there


def test_unknown_schedule_and_bad_parameters_are_spec_errors(tiny_spec: Path, tmp_path: Path) -> None:
    result = run(tiny_spec, tmp_path / "a", "--set", "optimizers.generator={name: Adam, schedule: {name: CosineAnealingLR}}")
    assert result.exit_code == 2 and "did you mean 'CosineAnnealingLR'" in result.output
    result = run(tiny_spec, tmp_path / "b", "--set", "optimizers.generator={name: Adam, schedule: {name: StepLR, step: 3}}")
    assert result.exit_code == 2 and "unknown parameter 'step'" in result.output and "step_size" in result.output


# ---- precision and accumulation ---------------------------------------------------------------------------


def test_bf16_step_runs_on_cpu(tiny_spec: Path, tmp_path: Path) -> None:
    result = run(tiny_spec, tmp_path / "run", "--set", "train.precision=bf16", "--set", "train.steps=3")
    assert result.exit_code == 0, result.output
    assert all(map(lambda r: all(v == v for v in r.values()), records(tmp_path / "run")))


@pytest.mark.skipif(not cpu_fp16_supported(), reason="this torch has no fp16 autocast / GradScaler on the CPU")
def test_fp16_keeps_a_scaler_per_network_and_resumes_it(tiny_spec: Path, tmp_path: Path) -> None:
    extra = ("--set", "train.precision=fp16", "--set", "penalties=[{name: r1, gamma: 1.0}]")
    assert run(tiny_spec, tmp_path / "full", *extra).exit_code == 0
    state = load_checkpoint(tmp_path / "full/checkpoints/last.pt")
    assert set(state["scalers"]) == {"generator", "discriminator"} and state["scalers"]["generator"]["scale"] > 0
    assert run(tiny_spec, tmp_path / "part", *extra, "--set", "train.steps=3").exit_code == 0
    assert run(tiny_spec, tmp_path / "part", *extra, "--resume").exit_code == 0
    assert_same_weights(tmp_path / "full/checkpoints/last.pt", tmp_path / "part/checkpoints/last.pt")


def test_penalty_gradients_are_unscaled_under_a_loss_scale() -> None:
    images = torch.randn(4, 3, requires_grad=True)
    plain = Batch(phase="discriminator", real=images, fake=images, latent=images, discriminator=None, generator=nn.Identity())
    scaled = Batch(
        phase="discriminator", real=images, fake=images, latent=images, discriminator=None, generator=nn.Identity(),
        loss_scale=torch.tensor(65536.0),
    )  # fmt: skip
    outputs = images.pow(3).sum(1)
    assert torch.allclose(plain.gradients(outputs, images), 3 * images.detach().pow(2))
    assert torch.allclose(scaled.gradients(images.pow(3).sum(1), images), 3 * images.detach().pow(2))


def test_accumulation_gives_the_same_update_as_the_whole_batch(components: Plugins, tmp_path: Path) -> None:
    body = """\
generator: {name: linear}
discriminator: {name: spy}
loss: {name: lsgan}
data: {name: paired-squares, batch_size: 16}
optimizers:
  generator: {name: SGD, lr: 0.05}
  discriminator: {name: SGD, lr: 0.05}
train: {steps: 3}
"""
    spec = write_spec(tmp_path, body)
    assert run(spec, tmp_path / "whole").exit_code == 0
    assert run(spec, tmp_path / "parts", "--set", "train.accumulate=4").exit_code == 0
    whole = tensors(load_checkpoint(tmp_path / "whole/checkpoints/last.pt"))
    parts = tensors(load_checkpoint(tmp_path / "parts/checkpoints/last.pt"))
    init = write_spec(tmp_path, body.replace("steps: 3", "steps: 0"), "init")
    assert run(init, tmp_path / "init").exit_code == 0
    start = tensors(load_checkpoint(tmp_path / "init/checkpoints/last.pt"))
    for name in ("generator.linear.weight", "discriminator.linear.weight"):
        assert not torch.equal(whole[name], start[name])
        assert torch.allclose(whole[name], parts[name], atol=1e-6), name


def test_accumulation_must_divide_the_batch(tiny_spec: Path, tmp_path: Path) -> None:
    """Found when the spec is validated, before a run directory exists."""
    result = invoke("validate", str(tiny_spec), "--set", "train.accumulate=3")
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: --set train.accumulate=3: train.accumulate: 3 micro-batches do not divide data.batch_size=16; use a divisor of it"
    assert run(tiny_spec, tmp_path / "run", "--set", "train.accumulate=3").exit_code == 2
    assert not (tmp_path / "run").exists()


def test_resume_is_bit_identical_with_schedule_augment_and_accumulation(components: Plugins, tiny_spec: Path, tmp_path: Path) -> None:
    extra = (
        "--set", "optimizers.discriminator={name: Adam, lr: 0.001, warmup: 2, schedule: {name: StepLR, step_size: 2, gamma: 0.5}}",
        "--set", "augment={name: shift, shift: 0.5}", "--set", "train.accumulate=2",
    )  # fmt: skip
    assert run(tiny_spec, tmp_path / "full", *extra).exit_code == 0
    assert run(tiny_spec, tmp_path / "part", *extra, "--set", "train.steps=3").exit_code == 0
    resumed = run(tiny_spec, tmp_path / "part", *extra, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert_same_weights(tmp_path / "full/checkpoints/last.pt", tmp_path / "part/checkpoints/last.pt")
    full, part = (load_checkpoint(tmp_path / f"{n}/checkpoints/last.pt") for n in ("full", "part"))
    assert full["schedules"]["discriminator"]["last_epoch"] == part["schedules"]["discriminator"]["last_epoch"] == 6


# ---- warm starts ---------------------------------------------------------------------------------------------


def test_init_from_loads_the_generator_of_another_run(tiny_spec: Path, tmp_path: Path) -> None:
    assert run(tiny_spec, tmp_path / "a").exit_code == 0
    result = run(tiny_spec, tmp_path / "b", "--set", f"generator.init_from={tmp_path / 'a'}", "--set", "train.steps=0", "--set", "seed=5")
    assert result.exit_code == 0, result.output
    a, b = load_checkpoint(tmp_path / "a/checkpoints/last.pt"), load_checkpoint(tmp_path / "b/checkpoints/last.pt")
    assert all(torch.equal(a["generator"][k], b["generator"][k]) for k in a["generator"])
    assert not all(torch.equal(a["discriminator"][k], b["discriminator"][k]) for k in a["discriminator"])


def test_init_from_a_different_architecture_is_one_line(tiny_spec: Path, tmp_path: Path) -> None:
    assert run(tiny_spec, tmp_path / "a").exit_code == 0
    result = run(tiny_spec, tmp_path / "b", "--set", f"generator.init_from={tmp_path / 'a/checkpoints/last.pt'}", "--set", "generator.width=16")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "generator.init_from" in lines[0] and "same architecture" in lines[0]
    missing = run(tiny_spec, tmp_path / "c", "--set", f"generator.init_from={tmp_path / 'nowhere'}")
    assert missing.exit_code == 2 and "does not exist" in missing.output


# ---- structured truncation ---------------------------------------------------------------------------------


def test_infogan_truncates_its_noise_and_keeps_its_codes() -> None:
    from ganforge.artifacts.sampling import truncated_latent
    from ganforge_builtins.networks.infogan import InfoGANGenerator

    generator = InfoGANGenerator((1, 28, 28), noise_dim=16, categorical=(10,), continuous=2, width=8)
    latent = truncated_latent(generator, 256, 0.5, torch.Generator().manual_seed(0))
    assert latent[:, :16].abs().max() <= 0.5
    codes = latent[:, 16:26]
    assert torch.equal(codes.sum(1), torch.ones(256)) and set(codes.unique().tolist()) == {0.0, 1.0}
    assert latent[:, 26:].abs().max() <= 1.0 and latent[:, 26:].abs().max() > 0.5  # continuous codes as drawn


def test_sample_with_truncation_works_for_infogan(tmp_path: Path) -> None:
    spec = Path("specs/infogan.yaml")
    result = run(spec, tmp_path / "run", "--set", "data={name: synthetic, size: 64, batch_size: 32}", "--set", "train={steps: 1}", "--set", "metrics=[]")
    assert result.exit_code == 0, result.output
    sampled = invoke("sample", str(tmp_path / "run"), "--truncation", "0.5", "--out", str(tmp_path / "grid.png"), "--n", "4")
    assert sampled.exit_code == 0, sampled.output
    assert (tmp_path / "grid.png").exists()


# ---- every way out writes status; errors name the plugin -------------------------------------------------


def test_a_non_scalar_loss_is_attributed_to_its_plugin(components: Plugins, tiny_spec: Path, tmp_path: Path) -> None:
    result = run(tiny_spec, tmp_path / "run", "--set", "loss={name: vector}")
    assert result.exit_code == 1
    line = result.output.strip().splitlines()[-1]
    assert "loss 'vector' (plugin core-test-components)" in line and "expected a scalar" in line
    status = json.loads((tmp_path / "run/status.json").read_text())
    assert status["status"] == "failed" and "loss 'vector'" in status["message"]


def test_an_exception_in_forward_names_the_generator(components: Plugins, tmp_path: Path) -> None:
    spec = write_spec(tmp_path, """\
generator: {name: broken}
discriminator: null
loss: {name: pixel-check}
data: {name: paired-squares, batch_size: 16}
train: {steps: 2}
""")
    result = run(spec, tmp_path / "run")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "generator 'broken' (plugin core-test-components) failed in forward: RuntimeError: mat1 and mat2" in result.output
    assert json.loads((tmp_path / "run/status.json").read_text())["status"] == "failed"


class NoReference(Metric):
    """A metric that finds out only when it runs that it cannot (a reference it cannot read)."""

    def evaluate(self, context: Any) -> dict[str, float]:
        raise GanforgeError("no-reference: the reference statistics cannot be read")


class NoReferencePlugin:
    @hookimpl
    def register_metrics(self, register: Any) -> None:
        register("no-reference", NoReference)


def test_a_ganforge_error_mid_run_writes_failed_status(tiny_spec: Path, tmp_path: Path, plugins: Plugins) -> None:
    plugins.register(NoReferencePlugin(), "no-reference")
    result = run(tiny_spec, tmp_path / "run", "--set", "metrics=[{name: no-reference, every: 2}]")
    assert result.exit_code != 0
    status = json.loads((tmp_path / "run/status.json").read_text())
    assert status["status"] == "failed" and "the reference statistics cannot be read" in status["message"]


@pytest.mark.parametrize(
    ("metric", "unfit"),
    [
        ("accuracy", "metric 'accuracy' (plugin metrics) needs a conditional generator (one with num_classes); this one is unconditional"),
        ("intra-fid", "metric 'intra-fid' (plugin metrics) needs a conditional generator (one with num_classes); use 'fid' for an unconditional one"),
        ("elbo", "metric 'elbo' (plugin vae) needs a generator with an encoder (one that reads 'real', e.g. vae); DCGANGenerator has none"),
    ],
)
def test_a_metric_that_cannot_measure_the_generator_is_a_spec_error(tiny_spec: Path, tmp_path: Path, metric: str, unfit: str) -> None:
    """Caught by validate and before a run starts, not at the first evaluation hours in."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(tiny_spec.read_text() + f"metrics:\n  - {{name: {metric}, every: 2}}\n")
    line = len(spec.read_text().splitlines())
    validated = invoke("validate", str(spec))
    assert validated.exit_code == 2 and validated.stderr.strip() == f"Error: {spec}:{line}: metrics.0: {unfit}"
    started = run(spec, tmp_path / "run")
    assert started.exit_code == 2 and not (tmp_path / "run").exists()


def test_status_follows_the_checkpoints_then_says_how_the_run_ended(tiny_spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ganforge.training.rundir import RunDir

    written: list[tuple[str, int]] = []
    original = RunDir.write_status

    def spy(self: RunDir, status: str, step: int, total_steps: int, message: str | None = None) -> None:
        written.append((status, step))
        original(self, status, step, total_steps, message)

    saved: list[int] = []
    monkeypatch.setattr(RunDir, "write_status", spy)
    monkeypatch.setattr("ganforge.training.trainer.save_checkpoint", lambda state, path: saved.append(state["step"]))
    assert run(tiny_spec, tmp_path / "run", "--set", "train.checkpoint_every=2").exit_code == 0
    assert written == [("running", 0), ("running", 2), ("running", 4), ("running", 6), ("finished", 6)]
    assert saved == [2, 4, 6]  # the last step's checkpoint is written once


def test_a_refused_resume_leaves_the_run_status_alone(tiny_spec: Path, tmp_path: Path) -> None:
    assert run(tiny_spec, tmp_path / "run").exit_code == 0
    assert run(tiny_spec, tmp_path / "run", "--resume", "--set", "generator.width=16").exit_code == 2
    assert json.loads((tmp_path / "run/status.json").read_text())["status"] == "finished"


# ---- resume compares what the user wrote ----------------------------------------------------------------------


class Widened(LinearGenerator):
    """The same generator after a plugin release added a defaulted parameter.

    Args:
        image_shape: from the dataset.
        new_option: a parameter the old release did not have.
    """

    def __init__(self, image_shape: tuple[int, int, int], new_option: int = 3) -> None:
        super().__init__(image_shape)


def test_resume_ignores_defaults_a_plugin_release_added(components: Plugins, tmp_path: Path) -> None:
    body = """\
generator: {name: linear}
discriminator: {name: spy}
loss: {name: lsgan}
data: {name: paired-squares, batch_size: 16}
train: {steps: 4}
"""
    spec = write_spec(tmp_path, body)
    assert run(spec, tmp_path / "run", "--set", "train.steps=2").exit_code == 0
    # the plugin's new release: same name, one more defaulted parameter
    components.unregister("core-test-components")
    components.register(_with_new_linear(), "core-test-components")
    resumed = run(spec, tmp_path / "run", "--resume")
    assert resumed.exit_code == 0, resumed.output
    changed = run(spec, tmp_path / "run", "--resume", "--set", "train.d_steps=2", "--set", "train.steps=6")
    assert changed.exit_code == 2 and "differs from the run's in train.d_steps;" in changed.output  # train.steps may change


def test_resume_compares_values_not_how_they_were_written(tiny_spec: Path, tmp_path: Path) -> None:
    """The fix a refused resume suggests (the run's own resolved spec.yaml) works, and writing out
    a default, or leaving out what the run wrote as its default, is no change."""
    out = tmp_path / "run"
    assert run(tiny_spec, out, "--set", "train.steps=2").exit_code == 0
    refused = run(tiny_spec, out, "--resume", "--set", "generator.width=16", "--set", "train.steps=4")
    assert refused.exit_code == 2 and "differs from the run's in generator.width;" in refused.output
    suggested = shlex.split(refused.stderr.split("resume with the run's own spec: ")[1])
    assert suggested == ["ganforge", "run", str(out / "spec.yaml"), "--out", str(out), "--resume", "--set", "train.steps=4"]  # the change that may stay, kept
    own = invoke(*suggested[1:], "--quiet")
    assert own.exit_code == 0, own.output
    assert load_checkpoint(out / "checkpoints/last.pt")["step"] == 4
    named = run(tiny_spec, out, "--resume", "--set", "generator.width=16", "--set", "train.steps=6", "--set", "metrics=[{name: fid, every: 1}]")
    assert named.stderr.strip().endswith("--resume --set train.steps=6 (and your change to metrics, as --set or in that file)")
    defaults = run(tiny_spec, out, "--resume", "--set", "train.steps=5", "--set", "train.precision=fp32", "--set", "generator.embed_dim=50")
    assert defaults.exit_code == 0, defaults.output
    written_out = write_spec(tmp_path, TINY_SPEC.replace("{name: lsgan}", "lsgan").replace("seed: 0\ndevice: cpu\n", ""), "short")
    assert run(written_out, out, "--resume", "--set", "train.steps=6").exit_code == 0
    assert load_checkpoint(out / "checkpoints/last.pt")["step"] == 6


def _with_new_linear() -> Any:
    class Components(TestComponents):
        @hookimpl
        def register_generators(self, register: Any) -> None:
            register("upscaler", Upscaler)
            register("linear", Widened)

    return Components()


# ---- compilation ---------------------------------------------------------------------------------------------


def test_a_network_that_does_not_compile_falls_back_to_eager_with_one_message(monkeypatch: pytest.MonkeyPatch) -> None:
    from ganforge.training.precision import CompiledForward

    def failing_compile(module: nn.Module) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("backend 'inductor' failed: no C++ compiler")

        return call

    monkeypatch.setattr(torch, "compile", failing_compile)
    messages: list[str] = []
    layer = nn.Linear(3, 2)
    forward = CompiledForward(layer, "generator", messages.append)
    x = torch.randn(4, 3)
    assert torch.equal(forward(x), layer(x)) and torch.equal(forward(x), layer(x))
    assert len(messages) == 1 and "the generator did not compile" in messages[0] and "running it eagerly" in messages[0]


@pytest.mark.slow
@pytest.mark.parametrize("lazy", ["folded", "separate"])
def test_compiled_training_matches_eager_on_cpu(tiny_spec: Path, tmp_path: Path, lazy: str) -> None:
    """Also with R1 as its own lazy update (``separate``), which runs the compiled forwards again."""
    extra = ("--set", "train.steps=3", "--set", "penalties=[{name: r1, gamma: 1.0, every: 2}]", "--set", "train.ema=null",
             "--set", f"train.lazy_regularization={lazy}")  # fmt: skip
    assert run(tiny_spec, tmp_path / "eager", *extra).exit_code == 0
    compiled = run(tiny_spec, tmp_path / "compiled", *extra, "--set", "train.compile=true")
    assert compiled.exit_code == 0, compiled.output
    assert "did not compile" not in compiled.output
    eager, fast = (tensors(load_checkpoint(tmp_path / f"{n}/checkpoints/last.pt")) for n in ("eager", "compiled"))
    assert all(torch.allclose(eager[k], fast[k], atol=1e-4) for k in eager if k.startswith(("generator.", "discriminator.")))


# ---- ADA in training ---------------------------------------------------------------------------------------------


class ZeroCritic(Discriminator):
    """A critic that scores everything 0 through a trainable bias kept at 0: no overfitting signal.

    Args:
        image_shape: from the dataset.
    """

    def __init__(self, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.linear = nn.Linear(int(torch.tensor(image_shape).prod()), 1)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.linear(images.flatten(1)).flatten()


class CriticPlugin:
    @hookimpl
    def register_discriminators(self, register: Any) -> None:
        register("zero-critic", ZeroCritic)


ADA_FAST = "augment={name: ada, interval: 1, speed_kimg: 0.5}"  # p moves by 16/500 per update


def test_ada_p_rises_when_the_discriminator_memorises_a_small_set(tiny_spec: Path, tmp_path: Path) -> None:
    result = run(
        tiny_spec, tmp_path / "run", "--set", ADA_FAST, "--set", "train.steps=40", "--set", "train.log_every=10",
        "--set", "optimizers.discriminator={name: Adam, lr: 0.005, betas: [0.5, 0.999]}",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    p = [r["augment/p"] for r in records(tmp_path / "run")]
    assert p[-1] > 0.3 and p == sorted(p), p  # 64 images, a strong D: E[sign D(real)] > 0.6 and p climbs


def test_ada_p_stays_at_zero_without_an_overfitting_signal(plugins: Plugins, tiny_spec: Path, tmp_path: Path) -> None:
    plugins.register(CriticPlugin(), "critic")
    result = run(
        tiny_spec, tmp_path / "run", "--set", ADA_FAST, "--set", "train.steps=20", "--set", "train.log_every=5",
        "--set", "discriminator={name: zero-critic}", "--set", "optimizers.discriminator={name: SGD, lr: 0.0}",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert all(r["augment/p"] == 0.0 for r in records(tmp_path / "run"))


def test_ada_state_is_restored_exactly_on_resume(tiny_spec: Path, tmp_path: Path) -> None:
    extra = ("--set", ADA_FAST, "--set", "optimizers.discriminator={name: Adam, lr: 0.005, betas: [0.5, 0.999]}")
    assert run(tiny_spec, tmp_path / "full", *extra).exit_code == 0
    assert run(tiny_spec, tmp_path / "part", *extra, "--set", "train.steps=3").exit_code == 0
    assert run(tiny_spec, tmp_path / "part", *extra, "--resume").exit_code == 0
    full, part = (load_checkpoint(tmp_path / f"{n}/checkpoints/last.pt")["augment"] for n in ("full", "part"))
    assert full.keys() == part.keys() and all(torch.equal(full[k], part[k]) for k in full)
    assert float(full["p"]) > 0
    assert_same_weights(tmp_path / "full/checkpoints/last.pt", tmp_path / "part/checkpoints/last.pt")


def test_channels_last_formats_convolutional_weights_when_asked() -> None:
    from ganforge.training.precision import use_channels_last

    conv = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    use_channels_last(conv, True, torch.device("cpu"))
    assert conv[0].weight.is_contiguous(memory_format=torch.channels_last)
    auto = nn.Sequential(nn.Conv2d(3, 4, 3))
    use_channels_last(auto, None, torch.device("cpu"))  # null: CUDA only
    assert not auto[0].weight.is_contiguous(memory_format=torch.channels_last)
    linear = nn.Linear(3, 2)
    use_channels_last(linear, True, torch.device("cpu"))  # no convolution: left alone
    assert linear.weight.is_contiguous()


def test_channels_last_run_trains(tiny_spec: Path, tmp_path: Path) -> None:
    assert run(tiny_spec, tmp_path / "run", "--set", "train.channels_last=true", "--set", "train.steps=2").exit_code == 0


# ---- networks told the step; losses with state ----------------------------------------------------------------


class StepAware(LinearGenerator):
    """Records every step it is told (for progressive growing).

    Args:
        image_shape: from the dataset.
    """

    told: list[int] = []

    def set_step(self, step: int) -> None:
        StepAware.told.append(step)


class RunningMean(Loss):
    """A generator-side term with a running mean that must survive a resume (like path length).

    Args:
        decay: the running mean's decay.
    """

    name = "running"

    def __init__(self, decay: float = 0.5) -> None:
        self.decay = decay
        self.mean = torch.zeros(())

    def generator_loss(self, batch: Batch) -> Tensor:
        value = batch.fake.pow(2).mean()
        self.mean = self.mean.lerp(value.detach(), self.decay)
        batch.log("mean", self.mean)
        return value * 0.0 + (value - self.mean).pow(2)

    def state_dict(self) -> dict[str, Tensor]:
        return {"mean": self.mean.clone()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.mean = state["mean"].clone()


class StatefulPlugin:
    @hookimpl
    def register_generators(self, register: Any) -> None:
        register("step-aware", StepAware)

    @hookimpl
    def register_losses(self, register: Any) -> None:
        register("running", RunningMean)


def test_networks_are_told_the_step_and_loading_tells_the_checkpoints(components: Plugins, tmp_path: Path) -> None:
    from ganforge.artifacts.loading import load_trained

    components.register(StatefulPlugin(), "stateful")
    StepAware.told.clear()
    spec = write_spec(tmp_path, """\
generator: {name: step-aware}
discriminator: {name: spy}
loss: {name: lsgan}
data: {name: paired-squares, batch_size: 16}
train: {steps: 3}
""")
    result = run(spec, tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert sorted(set(StepAware.told)) == [0, 1, 2, 3]  # before each step, and after the last one
    StepAware.told.clear()
    assert load_trained(tmp_path / "run", device="cpu").step == 3 and StepAware.told == [3]


def test_loss_state_is_checkpointed_and_resumed(plugins: Plugins, tiny_spec: Path, tmp_path: Path) -> None:
    plugins.register(StatefulPlugin(), "stateful")
    extra = ("--set", "penalties=[{name: running}]", "--set", "train.log_every=1")
    assert run(tiny_spec, tmp_path / "full", *extra).exit_code == 0
    assert run(tiny_spec, tmp_path / "part", *extra, "--set", "train.steps=3").exit_code == 0
    assert run(tiny_spec, tmp_path / "part", *extra, "--resume").exit_code == 0
    full, part = (load_checkpoint(tmp_path / f"{n}/checkpoints/last.pt")["terms"] for n in ("full", "part"))
    assert torch.equal(full[1]["mean"], part[1]["mean"]) and float(full[1]["mean"]) > 0
    assert records(tmp_path / "full")[-1]["loss/g/running/mean"] == records(tmp_path / "part")[-1]["loss/g/running/mean"]


def test_a_constructor_that_fails_deep_in_torch_is_one_spec_line(tiny_spec: Path, tmp_path: Path) -> None:
    result = run(tiny_spec, tmp_path / "run", "--set", "generator.width=1000000000000000000000000000000")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "generator: generator 'dcgan' (plugin networks) rejected its parameters" in lines[0]
    assert not (tmp_path / "run").exists()


class BrokenData(PairedSquares):
    """Fails to read its files, as a buggy dataset plugin would.

    Args:
        size: number of samples.
    """

    def __init__(self, size: int = 64) -> None:
        super().__init__(size)
        self.image_shape = (1, 28, 28)

    def load(self, split: str = "train") -> DataSplit:
        raise KeyError("images")


class BrokenDataPlugin:
    @hookimpl
    def register_datasets(self, register: Any) -> None:
        register("broken-data", BrokenData)


def test_an_exception_in_a_dataset_names_the_dataset(components: Plugins, tiny_spec: Path, tmp_path: Path) -> None:
    components.register(BrokenDataPlugin(), "broken-data-plugin")
    result = run(tiny_spec, tmp_path / "run", "--set", "data={name: broken-data, batch_size: 16}")
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "dataset 'broken-data' (plugin broken-data-plugin) failed in load: KeyError: 'images'" in result.output


def test_a_resumed_run_removes_what_a_killed_writer_left_half_written(tiny_spec: Path, tmp_path: Path) -> None:
    assert run(tiny_spec, tmp_path / "run", "--set", "train.steps=3").exit_code == 0
    torn = tmp_path / "run/checkpoints/.last.pt.abc123.tmp"
    torn.write_bytes(b"half a checkpoint")
    keep = tmp_path / "run/notes.txt"
    keep.write_text("mine")
    assert run(tiny_spec, tmp_path / "run", "--resume").exit_code == 0
    assert not torn.exists() and keep.read_text() == "mine"


class ScoresOnly(Loss):
    """A generator-side term that reads the discriminator's scores (and trains no discriminator)."""

    def generator_loss(self, batch: Batch) -> Tensor:
        return -batch.fake_scores().mean()


class ScoresOnlyPlugin:
    @hookimpl
    def register_losses(self, register: Any) -> None:
        register("scores-only", ScoresOnly)


def test_a_term_that_trains_the_missing_discriminator_is_a_spec_error(tiny_spec: Path, tmp_path: Path) -> None:
    """Its phase never runs without a discriminator: the term would be dropped without a word."""
    line = next(i for i, text in enumerate(tiny_spec.read_text().splitlines(), 1) if text.startswith("loss:"))
    result = run(tiny_spec, tmp_path / "run", "--set", "discriminator=null")
    assert result.exit_code == 2 and result.stderr.strip() == (
        f"Error: {tiny_spec}:{line}: loss: loss 'lsgan' (plugin losses) trains the discriminator, and the spec has discriminator: null; add a discriminator or drop the term"
    ), result.stderr
    assert not (tmp_path / "run").exists()
    penalty = run(tiny_spec, tmp_path / "run", "--set", "discriminator=null", "--set", "loss=pixel", "--set", "penalties=[{name: r1}]")
    assert penalty.exit_code == 2 and "penalties.0: loss 'r1' (plugin losses) trains the discriminator" in penalty.stderr


def test_a_generator_term_that_reads_the_missing_discriminator_is_named(tiny_spec: Path, tmp_path: Path, plugins: Plugins) -> None:
    plugins.register(ScoresOnlyPlugin(), "scores-only")
    result = run(tiny_spec, tmp_path / "run", "--set", "discriminator=null", "--set", "loss=scores-only")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: loss 'scores-only' (plugin scores-only) needs a discriminator, and the spec has discriminator: null; add one or drop the term"
    )
    assert json.loads((tmp_path / "run/status.json").read_text())["status"] == "failed"
