"""Lazy regularisation as the StyleGAN2 reference runs it (``train.lazy_regularization: separate``):
the due lazy terms as an optimizer step of their own after their network's main update, with the
optimizer's lr x mb_ratio and betas ** mb_ratio, mb_ratio = k / (k + 1); and the default
(``folded``: value x k added to the main update) unchanged."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
from torch import Tensor, nn

from ganforge import Batch, Loss, hookimpl
from ganforge.checkpoint import load_checkpoint
from ganforge.cli.common import experiment_from
from ganforge.plugins import Plugins
from ganforge.training.progress import NoProgress
from ganforge.training.rundir import RunDir
from ganforge.training.trainer import Trainer

from .conftest import cpu_fp16_supported, invoke
from .distributed_support import MLPDiscriminator, MLPGenerator, run_ranks, train
from .test_training import assert_same_weights

LR, BETAS, GAMMA, WEIGHT = 1.0e-2, (0.5, 0.9), 1.0, 0.5
D_EVERY, G_EVERY = 3, 2


class SpareDiscriminator(MLPDiscriminator):
    """With a layer its forward never uses (as a progressive network's layers not grown yet)."""

    def __init__(self, image_shape: tuple[int, int, int], hidden: int = 8) -> None:
        super().__init__(image_shape, hidden)
        self.spare = nn.Linear(2, 2)


class SquareLoss(Loss):
    """Least squares, written out so the hand-written loop below computes the same."""

    def discriminator_loss(self, batch: Batch) -> Tensor:
        return (batch.real_scores - 1).square().mean() + batch.fake_scores.square().mean()

    def generator_loss(self, batch: Batch) -> Tensor:
        return (batch.fake_scores - 1).square().mean()


class FakeEnergy(Loss):
    """A generator-side penalty without random numbers: weight * mean(fake^2)."""

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = weight

    def generator_loss(self, batch: Batch) -> Tensor:
        return self.weight * batch.fake.square().mean()


class LazyTestPlugin:
    __name__ = "lazy-test"

    @hookimpl
    def register_generators(self, register):  # type: ignore[no-untyped-def]
        register("lazy-mlp", MLPGenerator)

    @hookimpl
    def register_discriminators(self, register):  # type: ignore[no-untyped-def]
        register("lazy-mlp", MLPDiscriminator)
        register("lazy-spare", SpareDiscriminator)

    @hookimpl
    def register_losses(self, register):  # type: ignore[no-untyped-def]
        register("test-square", SquareLoss)
        register("test-fake-energy", FakeEnergy)


SPEC = f"""\
seed: 1
device: cpu
generator: {{name: lazy-mlp, latent_dim: 4, hidden: 8}}
discriminator: {{name: lazy-mlp, hidden: 8}}
loss: {{name: test-square}}
penalties:
  - {{name: r1, gamma: {GAMMA}, every: {D_EVERY}}}
  - {{name: test-fake-energy, weight: {WEIGHT}, every: {G_EVERY}}}
data: {{name: synthetic, image_size: 4, size: 32, batch_size: 8}}
optimizers:
  generator: {{name: Adam, lr: {LR}, betas: {list(BETAS)}}}
  discriminator: {{name: Adam, lr: {LR}, betas: {list(BETAS)}}}
train: {{steps: 7, log_every: 1}}
"""


@pytest.fixture
def lazy_spec(tmp_path: Path, plugins: Plugins) -> Path:
    plugins.register(LazyTestPlugin(), "lazy-test")
    path = tmp_path / "lazy.yaml"
    path.write_text(SPEC)
    return path


def trained(spec: Path, out: Path, steps: int, *overrides: str) -> tuple[Trainer, nn.Module, nn.Module, list[Tensor], list[Tensor]]:
    """ganforge's training of ``spec`` for ``steps`` steps; with the networks as they started and
    the real batches and latents the steps drew, in order, for the hand-written loop."""
    trainer = Trainer(experiment_from(spec, overrides), RunDir(out), NoProgress())
    start = (copy.deepcopy(trainer.generator), copy.deepcopy(trainer.discriminator))
    trainer.prepare()
    reals: list[Tensor] = []
    latents: list[Tensor] = []
    step = trainer.training_step
    step.batches = recorded(step.batches, lambda batch: reals.append(batch.samples.clone()))
    step.net.sample_latent = recorded(step.net.sample_latent, lambda z: latents.append(z.clone()))
    for _ in range(steps):
        trainer.train_step()
        trainer.state.step += 1
    return trainer, *start, reals, latents


def recorded(function: Callable[..., Any], keep: Callable[[Any], None]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        value = function(*args)
        keep(value)
        return value

    return call


def reference_loop(G: nn.Module, D: nn.Module, reals: list[Tensor], latents: list[Tensor], separate: bool, accumulate: int) -> None:
    """The StyleGAN2-ADA reference's training loop (training_loop.py, loss.py), cut down to two
    MLPs: phases Dmain, Dreg, Gmain, Greg; a reg phase only when its interval divides the
    iteration, as a step of its own with gain = interval and the ``logits * 0`` term; Adam built
    with lr * mb_ratio and betas ** mb_ratio. ``separate=False`` is ganforge's folded default:
    the penalty x interval added to the main phase, no adjustment."""
    def adam(module: nn.Module, interval: int) -> torch.optim.Adam:
        ratio = interval / (interval + 1) if separate else 1.0
        return torch.optim.Adam(module.parameters(), lr=LR * ratio, betas=tuple(beta**ratio for beta in BETAS))  # type: ignore[arg-type]

    def r1(real: Tensor) -> tuple[Tensor, Tensor]:
        real = real.detach().requires_grad_(True)
        logits = D(real)
        (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
        return logits, grad.flatten(1).square().sum(dim=1) * (GAMMA / 2)

    opt_d, opt_g = adam(D, D_EVERY), adam(G, G_EVERY)
    draws = iter(latents)
    for step, real in enumerate(reals):
        parts = real.chunk(accumulate)
        d_reg, g_reg = step % D_EVERY == 0, step % G_EVERY == 0
        opt_d.zero_grad(set_to_none=True)  # Dmain
        fakes = []
        for part in parts:
            fake = G(next(draws))
            fakes.append(fake)
            loss = (D(part) - 1).square().mean() + D(fake.detach()).square().mean()
            if d_reg and not separate:
                loss = loss + r1(part)[1].mean() * D_EVERY
            (loss / accumulate).backward()
        opt_d.step()
        if d_reg and separate:  # Dreg
            opt_d.zero_grad(set_to_none=True)
            for part in parts:
                logits, penalty = r1(part)
                ((logits * 0 + penalty).mean().mul(D_EVERY) / accumulate).backward()
            opt_d.step()
        D.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)  # Gmain, on the fakes Dmain made
        for fake in fakes:
            loss = (D(fake) - 1).square().mean()
            if g_reg and not separate:
                loss = loss + WEIGHT * fake.square().mean() * G_EVERY
            (loss / accumulate).backward()
        opt_g.step()
        if g_reg and separate:  # Greg, on fresh fakes
            opt_g.zero_grad(set_to_none=True)
            for _ in parts:
                fake = G(next(draws))
                ((fake[:, 0, 0, 0] * 0).mean() + WEIGHT * fake.square().mean()).mul(G_EVERY).div(accumulate).backward()
            opt_g.step()
        D.requires_grad_(True)
    assert next(draws, None) is None, "ganforge drew more latents than the reference loop"


def assert_close_weights(a: nn.Module, b: nn.Module) -> None:
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.parametrize("accumulate", [1, 2])
@pytest.mark.parametrize("mode", ["separate", "folded"])
def test_training_matches_the_hand_written_reference_loop(lazy_spec: Path, tmp_path: Path, mode: str, accumulate: int) -> None:
    """7 steps cross R1's updates 0, 3, 6 and the generator penalty's 0, 2, 4, 6."""
    trainer, G, D, reals, latents = trained(
        lazy_spec, tmp_path / "run", 7, f"train.lazy_regularization={mode}", f"train.accumulate={accumulate}"
    )  # fmt: skip
    separate = mode == "separate"
    assert len(latents) == 7 * accumulate + (4 * accumulate if separate else 0)  # Greg draws fresh fakes
    reference_loop(G, D, reals, latents, separate, accumulate)
    assert_close_weights(trainer.generator, G)
    assert_close_weights(trainer.discriminator, D)  # type: ignore[arg-type]
    if separate:  # and the modes train differently: the comparison above is not blind to the mode
        folded = trained(lazy_spec, tmp_path / "folded", 7, f"train.accumulate={accumulate}")[0]
        assert not torch.allclose(folded.discriminator.net[1].weight, trainer.discriminator.net[1].weight, atol=1e-4)  # type: ignore[index, union-attr]


def test_the_optimizers_are_adjusted_in_separate_mode_only(lazy_spec: Path, tmp_path: Path) -> None:
    def groups(*overrides: str) -> dict[str, dict[str, Any]]:
        trainer = Trainer(experiment_from(lazy_spec, overrides), RunDir(tmp_path / "run"), NoProgress())
        return {role: opt.param_groups[0] for role, opt in trainer.parts.optimizers.items()}

    folded = groups()
    assert folded["discriminator"]["lr"] == folded["generator"]["lr"] == LR
    assert tuple(folded["discriminator"]["betas"]) == tuple(folded["generator"]["betas"]) == BETAS
    separate = groups("train.lazy_regularization=separate")
    for role, interval in (("discriminator", D_EVERY), ("generator", G_EVERY)):
        ratio = interval / (interval + 1)
        assert separate[role]["lr"] == pytest.approx(LR * ratio)
        assert separate[role]["betas"] == pytest.approx([b**ratio for b in BETAS])
    # a network without lazy terms keeps its settings; a schedule works on the adjusted lr
    adjusted = groups(
        "train.lazy_regularization=separate", f"penalties=[{{name: r1, gamma: 1.0, every: {D_EVERY}}}]",
        "optimizers.discriminator.schedule={name: StepLR, step_size: 1, gamma: 0.5}",
    )  # fmt: skip
    assert adjusted["generator"]["lr"] == LR and tuple(adjusted["generator"]["betas"]) == BETAS
    assert adjusted["discriminator"]["initial_lr"] == pytest.approx(LR * 3 / 4)
    trainer = Trainer(experiment_from(lazy_spec, (
        "train.lazy_regularization=separate", "optimizers.discriminator.schedule={name: StepLR, step_size: 1, gamma: 0.5}",
    )), RunDir(tmp_path / "scheduled"), NoProgress())  # fmt: skip
    trainer.fit()
    assert trainer.state.last_losses["lr/discriminator"] == pytest.approx(LR * 3 / 4 * 0.5**7)


def test_weights_outside_the_forward_take_no_separate_step(lazy_spec: Path, tmp_path: Path) -> None:
    """The separate update gives a zero gradient to the weights the main update trained (the last
    bias, which R1 does not reach, moves by Adam's momentum), none to weights no forward uses."""
    trainer, _, start, *_ = trained(lazy_spec, tmp_path / "run", 4, "train.lazy_regularization=separate", "discriminator={name: lazy-spare}")
    optimizer, network = trainer.parts.optimizers["discriminator"], trainer.discriminator
    assert network.spare.weight not in optimizer.state and torch.equal(network.spare.weight, start.spare.weight)  # type: ignore[union-attr]
    assert int(optimizer.state[network.net[3].bias]["step"]) == 4 + 2  # type: ignore[index, union-attr]


def test_separate_logs_each_lazy_term_and_the_main_loss_alone(lazy_spec: Path, tmp_path: Path) -> None:
    result = invoke("run", str(lazy_spec), "--out", str(tmp_path / "run"), "--quiet", "--set", "train.lazy_regularization=separate")
    assert result.exit_code == 0, result.output
    records = RunDir(tmp_path / "run").read_log()
    assert [("loss/d/r1" in r, "loss/g/test-fake-energy" in r) for r in records] == [
        (True, True), (False, False), (False, True), (True, False), (False, True), (False, False), (True, True)
    ]  # fmt: skip
    assert all({"loss/d", "loss/g", "loss/d/test-square", "loss/g/test-square"} <= set(r) for r in records)


def test_separate_mode_resumes_to_the_same_weights(lazy_spec: Path, tmp_path: Path) -> None:
    separate = ("--set", "train.lazy_regularization=separate")
    assert invoke("run", str(lazy_spec), "--out", str(tmp_path / "full"), "--quiet", *separate).exit_code == 0
    assert invoke("run", str(lazy_spec), "--out", str(tmp_path / "part"), "--quiet", *separate, "--set", "train.steps=4").exit_code == 0
    resumed = invoke("run", str(lazy_spec), "--out", str(tmp_path / "part"), "--quiet", *separate, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert_same_weights(tmp_path / "full/checkpoints/last.pt", tmp_path / "part/checkpoints/last.pt")
    state = load_checkpoint(tmp_path / "part/checkpoints/last.pt")
    assert state["optimizers"]["discriminator"]["param_groups"][0]["lr"] == pytest.approx(LR * 3 / 4)
    # the mode may not change on resume: the optimizers' lr and betas were built for it
    changed = invoke("run", str(lazy_spec), "--out", str(tmp_path / "part"), "--quiet", "--set", "train.steps=9", "--resume")
    assert changed.exit_code == 2 and "lazy_regularization" in changed.stderr


@pytest.mark.skipif(not cpu_fp16_supported(), reason="this torch has no fp16 autocast / GradScaler on the CPU")
def test_separate_updates_step_through_the_fp16_loss_scaler(lazy_spec: Path, tmp_path: Path) -> None:
    """Each optimizer step under fp16 goes through its network's gradient scaler, whose growth
    tracker counts the updates without overflow (a loss scale of 1 keeps these tiny networks from
    overflowing): 7 main + 3 R1 updates for D, 7 + 4 for G."""
    trainer = Trainer(experiment_from(lazy_spec, ("train.lazy_regularization=separate", "train.precision=fp16")), RunDir(tmp_path / "run"), NoProgress())
    scalers = trainer.parts.precision.scalers
    for role in scalers:
        scalers[role] = torch.amp.GradScaler("cpu", init_scale=1.0)
    trainer.fit()
    assert {role: int(scaler._growth_tracker.item()) for role, scaler in scalers.items()} == {"discriminator": 7 + 3, "generator": 7 + 4}  # type: ignore[union-attr]
    assert all(torch.isfinite(w).all() for w in [*trainer.generator.parameters(), *trainer.discriminator.parameters()])  # type: ignore[union-attr]


@pytest.mark.parametrize(("override", "field", "message"), [
    ("penalties=[{name: r1, every: 16}, {name: r2, every: 8}]", "penalties.1.every",
     "every: 8 differs from penalties.0.every: 16, and both regularise the discriminator"),
    ("loss={name: test-square, every: 2}", "loss.every", "only penalties run lazily"),
])  # fmt: skip
def test_validate_refuses_what_separate_cannot_run(lazy_spec: Path, override: str, field: str, message: str) -> None:
    result = invoke("validate", str(lazy_spec), "--set", "train.lazy_regularization=separate", "--set", override)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{field}: " in lines[0] and message in lines[0], lines
    assert invoke("validate", str(lazy_spec), "--set", override).exit_code == 0  # folded runs it


def test_two_processes_match_one_in_separate_mode(lazy_spec: Path, tmp_path: Path) -> None:
    """The separate updates run the bare networks and average their gradients by hand: two
    processes of 4 samples each end where one process of 8 does (the losses are batch means, and
    the only random numbers are the latents, drawn from one stream shared by the ranks)."""
    overrides = ("train.lazy_regularization=separate", "train.steps=4")
    run_ranks(2, train, lazy_spec, tmp_path / "two", overrides)
    one = Trainer(experiment_from(lazy_spec, overrides), RunDir(tmp_path / "one"), NoProgress())
    one.fit()
    two = [torch.load(tmp_path / f"two/rank{rank}.pt") for rank in (0, 1)]
    for role, network in (("generator", one.generator), ("discriminator", one.discriminator)):
        for name, value in network.state_dict().items():  # type: ignore[union-attr]
            torch.testing.assert_close(two[0][role][name], value, rtol=1e-4, atol=1e-6, msg=f"{role}.{name}")
            assert torch.equal(two[0][role][name], two[1][role][name]), name
