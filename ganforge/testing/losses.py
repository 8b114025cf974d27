"""Conformance of losses: finite scalars, gradients that reach only the network each phase
trains, stability on extreme scores, reproducibility under a seed."""

from __future__ import annotations

import copy
import dataclasses
import math
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch
from torch import Tensor, nn

from ganforge.checkpoint import load_checkpoint, save_checkpoint
from ganforge.errors import GanforgeError
from ganforge.interfaces import Batch, Discriminator, DiscriminatorOutput, Generator, Loss, as_generated, as_output
from ganforge.testing.constructor import Setup, check_constructor, construct
from ganforge.testing.failures import Checker, Problem, expect
from ganforge.testing.fakes import TinyDiscriminator, TinyGenerator

#: Scores a saturated discriminator gives; naive log(sigmoid(x)) is already infinite here.
EXTREME_SCORE = 1000.0
EXTREME_CASES = ((EXTREME_SCORE, -EXTREME_SCORE), (-EXTREME_SCORE, EXTREME_SCORE), (EXTREME_SCORE, EXTREME_SCORE), (-EXTREME_SCORE, -EXTREME_SCORE))
PHASES = ("discriminator", "generator")
#: Training steps the loss takes before its state is checkpointed and restored into a fresh one.
STATE_STEPS = 3


def check_loss(factory: Callable[..., Loss], /, *, setup: Setup | None = None, **params: Any) -> None:
    """Check a loss (or penalty) class built with ``params``; raises
    :class:`~ganforge.testing.ConformanceError` listing every failed check.

    Runs it on the kit's tiny generator and discriminator (or ``setup``'s), in both phases
    the way the trainer does. Example: ``check_loss(HingeLoss, margin=1.0)``.
    """
    setup = setup or Setup()
    checker = Checker("loss", factory)
    check_constructor(checker, factory)
    loss, kwargs = construct(checker, factory, params, setup)
    found = len(checker.problems)
    with checker.check("interface"):
        expect(isinstance(loss, Loss), f"builds a {type(loss).__name__}, not a ganforge.Loss subclass")
        overrides = [m for m in ("discriminator_loss", "generator_loss") if getattr(type(loss), m) is not getattr(Loss, m)]
        expect(bool(overrides), "overrides neither discriminator_loss nor generator_loss: it does nothing")
    if len(checker.problems) > found:  # the other checks would only repeat it
        checker.finish()
    torch.manual_seed(setup.seed)
    generator, discriminator = _networks(setup)
    results: dict[str, Tensor | None] = {}
    for phase in PHASES:
        with checker.check(f"{phase} phase"):
            results[phase] = _run_phase(loss, phase, generator, discriminator, setup)
    if all(phase in results and results[phase] is None for phase in PHASES):
        checker.fail("interface", "returns None in both phases: it contributes nothing")
    with checker.check("after_discriminator_step"):
        loss.after_discriminator_step(discriminator)
    failed_before = len(checker.problems)
    for scores in EXTREME_CASES:
        for phase in PHASES:
            if len(checker.problems) == failed_before:  # the first extreme case that fails is enough
                with checker.check("extreme scores"):
                    _run_phase(loss, phase, generator, discriminator, setup, scores=scores)
    with checker.check("reproducible"):
        values = []
        for _ in range(2):
            torch.manual_seed(setup.seed)
            twin = factory(**kwargs)
            torch.manual_seed(setup.seed)
            values.append([_value(twin, phase, generator, discriminator, setup) for phase in PHASES])
        expect(values[0] == values[1], f"two runs under one seed gave different values: {values[0]} and {values[1]}")
    with checker.check("state survives a checkpoint"):
        _check_state_round_trip(factory, kwargs, generator, discriminator, setup)
    checker.finish()


def _check_state_round_trip(factory: Callable[..., Loss], kwargs: dict[str, Any], generator: Generator, discriminator: Discriminator, setup: Setup) -> None:
    """A loss trained a few steps, checkpointed the way the trainer does (``state_dict()``
    through :func:`~ganforge.checkpoint.save_checkpoint`) and restored into a fresh instance
    with ``load_state_dict()``, must hold the same state and give the same next values: a
    moving average kept in an attribute but left out of ``state_dict()`` would restart from its
    initial value on ``--resume``."""
    discriminator = copy.deepcopy(discriminator)  # after_discriminator_step may change it (WGAN clipping)
    torch.manual_seed(setup.seed)
    trained = factory(**kwargs)
    for step in range(STATE_STEPS):
        stepped = dataclasses.replace(setup, seed=setup.seed + 1 + step)
        for phase in PHASES:
            _value(trained, phase, generator, discriminator, stepped)
            if phase == "discriminator":
                trained.after_discriminator_step(discriminator)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "last.pt"
        try:
            save_checkpoint({"terms": [trained.state_dict()]}, path)
            saved = load_checkpoint(path)["terms"][0]
        except (GanforgeError, TypeError, AttributeError) as exc:
            raise Problem(f"its state_dict() cannot go through a checkpoint ({exc}); return a dict of tensors") from exc
    torch.manual_seed(setup.seed)
    restored = factory(**kwargs)
    restored.load_state_dict(saved)
    fix = "return it from state_dict() and restore it in load_state_dict() (see CONTRIBUTING, 'A loss with state')"
    differing = _differing_state(trained, restored)
    expect(not differing, f"after {STATE_STEPS} steps and a checkpoint, {differing} differs from the loss that took those steps; {fix}")
    following = dataclasses.replace(setup, seed=setup.seed + 1 + STATE_STEPS)
    for phase in PHASES:
        before, after = (_value(loss, phase, generator, discriminator, following) for loss in (trained, restored))
        same = before == after if before is None or after is None else math.isclose(before, after, rel_tol=1e-5, abs_tol=1e-7)
        expect(same, f"after {STATE_STEPS} steps and a checkpoint, the next {phase}_loss is {after}, where the loss that took those steps gives {before}; {fix}")


def _differing_state(trained: Loss, restored: Loss) -> str:
    """The first attribute (tensor or number, or a module buffer) that differs, quoted, or ''."""
    mine, theirs = _state_values(trained), _state_values(restored)
    for name, value in mine.items():
        other = theirs.get(name)
        if isinstance(value, Tensor):
            same = isinstance(other, Tensor) and value.shape == other.shape and torch.equal(value.detach().cpu(), other.detach().cpu())
        else:
            same = value == other
        if not same:
            return f"attribute {name!r} ({_short(other)} restored, {_short(value)} trained)"
    return ""


def _state_values(loss: Loss) -> dict[str, Any]:
    values = {name: value for name, value in vars(loss).items() if isinstance(value, (Tensor, int, float)) and not name.startswith("__")}
    if isinstance(loss, nn.Module):
        values.update(dict(loss.named_buffers()))
    return values


def _short(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"{value.detach().flatten()[:3].tolist()}" if value.numel() else "empty"
    return repr(value)


def _networks(setup: Setup) -> tuple[Generator, Discriminator]:
    shape = tuple(setup.image_shape or (1, 8, 8))
    generator = setup.generator or TinyGenerator(shape, num_classes=setup.num_classes)
    discriminator = setup.discriminator or TinyDiscriminator(shape, num_classes=setup.num_classes)
    device = torch.device(setup.device)
    return generator.to(device).train(), discriminator.to(device).train()


def batch_from_scores(
    real_scores: Sequence[float] | Tensor,
    fake_scores: Sequence[float] | Tensor,
    phase: str = "discriminator",
    labels: Tensor | None = None,
    **batch_fields: Any,
) -> Batch:
    """A :class:`Batch` whose discriminator gives exactly these scores, for a loss's formula
    tests: real sample ``i`` scores ``real_scores[i]``, fake sample ``j`` ``fake_scores[j]``.

    The samples are the scores themselves, one value per sample, and the discriminator is the
    identity on them, so gradients flow: in the generator phase the fakes require grad and
    ``fake.grad`` after a backward pass is d loss / d score. ``batch_fields`` (``inputs``,
    ``fake_extras``, ``step``...) pass on to the Batch.
    """
    real = torch.as_tensor(real_scores, dtype=torch.float32).reshape(-1, 1)
    fake = torch.as_tensor(fake_scores, dtype=torch.float32).reshape(-1, 1).clone()
    if phase == "generator":
        fake.requires_grad_(True)
    return Batch(
        phase=phase,  # type: ignore[arg-type]
        real=real,
        fake=fake,
        latent=torch.zeros(fake.shape[0], 1),
        labels=labels,
        discriminator=lambda images, labels=None: images.flatten(1).mean(1),
        generator=nn.Identity(),
        **batch_fields,
    )


def make_batch(phase: str, generator: Generator, discriminator: Callable[..., Any], setup: Setup) -> Batch:
    """A batch as the trainer builds it: seeded real samples in [-1, 1], latents, and fakes
    (detached in the discriminator phase)."""
    n = max(setup.batch_size, 2)
    device = torch.device(setup.device)
    rng = torch.Generator().manual_seed(setup.seed)
    real = torch.rand(n, *generator.image_shape, generator=rng).mul(2).sub(1).to(device)
    latent = generator.sample_latent(n, "cpu", rng).to(device)
    labels = (torch.arange(n) % generator.num_classes).to(device) if generator.num_classes else None
    inputs = {"real": real} if "real" in generator.inputs else {}  # a VAE's encoder reads the real batch
    with torch.no_grad() if phase == "discriminator" else _nothing():
        out = as_generated(generator(latent, labels, **inputs))
    return Batch(
        phase=phase,  # type: ignore[arg-type]
        real=real,
        fake=out.samples,
        latent=latent,
        labels=labels,
        discriminator=discriminator,
        generator=generator,
        fake_extras=out.extras,
        discriminator_module=_bare(discriminator),
    )


def _bare(discriminator: Callable[..., Any]) -> nn.Module | None:
    """The module under the kit's score-fixing wrapper, for losses that hook its layers."""
    while isinstance(discriminator, _FixedScores):
        discriminator = discriminator.inner
    return discriminator if isinstance(discriminator, nn.Module) else None


class _FixedScores(nn.Module):
    """Wraps a discriminator so real samples score ``real_score`` and everything else
    ``fake_score``, plus a small trainable part so gradients still flow."""

    def __init__(self, inner: nn.Module, real: Tensor, real_score: float, fake_score: float) -> None:
        super().__init__()
        self.inner = inner
        self.real = real
        self.real_score, self.fake_score = real_score, fake_score

    def forward(self, images: Tensor, labels: Tensor | None = None) -> DiscriminatorOutput:
        output = as_output(self.inner(images, labels))
        offset = self.real_score if images is self.real else self.fake_score
        return DiscriminatorOutput(output.scores * 1e-3 + offset, output.extras)


@contextmanager
def _frozen(module: nn.Module) -> Iterator[None]:
    """The trainer's generator phase: the discriminator's parameters need no gradient."""
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


def _run_phase(
    loss: Loss, phase: str, generator: Generator, discriminator: Discriminator, setup: Setup, scores: tuple[float, float] | None = None
) -> Tensor | None:
    """One phase, checked: a finite scalar (or None) whose gradient reaches the phase's
    network and not the other, leaving the batch's samples unchanged."""
    trained, other = (discriminator, generator) if phase == "discriminator" else (generator, discriminator)
    generator.zero_grad(set_to_none=True)
    discriminator.zero_grad(set_to_none=True)
    torch.manual_seed(setup.seed)
    with _frozen(discriminator) if phase == "generator" else _nothing():
        batch = make_batch(phase, generator, discriminator, setup)
        if scores is not None:
            batch.discriminator = _FixedScores(discriminator, batch.real, *scores)
        real_before = batch.real.clone()
        method = loss.discriminator_loss if phase == "discriminator" else loss.generator_loss
        value = method(batch)
        where = f"{phase}_loss" + (f" with real scores {scores[0]:+g} and fake scores {scores[1]:+g}" if scores else "")
        if value is None:
            return None
        expect(isinstance(value, Tensor), f"{where} returned {type(value).__name__}, expected a scalar tensor or None")
        expect(value.ndim == 0, f"{where} has shape {tuple(value.shape)}, expected a scalar (reduce with .mean())")
        expect(value.is_floating_point(), f"{where} has dtype {value.dtype}, expected floating point")
        expect(bool(torch.isfinite(value)), f"{where} is {float(value.detach())}")
        expect(value.requires_grad, f"{where} does not depend on the {phase}'s parameters (no gradient)")
        value.backward()
        expect(torch.equal(batch.real, real_before), f"{where} modified batch.real in place")
    reached = [name for name, p in trained.named_parameters() if p.grad is not None and bool(p.grad.abs().sum() > 0)]
    # A saturated loss may rightly have a zero gradient at extreme scores; it must not be NaN.
    expect(bool(reached) or scores is not None, f"{where}: no gradient reaches the {phase}'s parameters")
    bad = [name for name, p in trained.named_parameters() if p.grad is not None and not bool(torch.isfinite(p.grad).all())]
    expect(not bad, f"{where}: non-finite gradient in the {phase}'s {', '.join(bad[:3])}")
    leaked = [name for name, p in other.named_parameters() if p.grad is not None and bool(p.grad.abs().sum() > 0)]
    other_role = "generator" if phase == "discriminator" else "discriminator"
    expect(not leaked, f"{where}: gradient reaches the {other_role}'s parameters ({', '.join(leaked[:3])}); it must train only the {phase}")
    return value.detach()


def _value(loss: Loss, phase: str, generator: Generator, discriminator: Discriminator, setup: Setup) -> float | None:
    with _frozen(discriminator) if phase == "generator" else _nothing():
        torch.manual_seed(setup.seed)
        batch = make_batch(phase, generator, discriminator, setup)
        value = (loss.discriminator_loss if phase == "discriminator" else loss.generator_loss)(batch)
    return None if value is None else float(value.detach())


@contextmanager
def _nothing() -> Iterator[None]:
    yield
