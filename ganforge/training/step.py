"""One training step: ``d_steps`` discriminator updates, then one generator update, over every
scheduled loss term, with mixed precision, gradient accumulation and augmentation; with
``train.lazy_regularization: separate`` each network's due lazy terms as an update of their own."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor, nn

from ganforge.errors import GanforgeError, attributed
from ganforge.interfaces import Augment, Batch, Generator, GeneratorOutput, as_generated
from ganforge.interfaces.loss import trained_networks
from ganforge.terms import Term
from ganforge.training.batches import RealBatch
from ganforge.training.parallel import ParallelNetworks
from ganforge.training.precision import CompiledForward, Precision


class LossLog:
    """Loss values kept on the device between flushes, so the step never waits for the host.

    With ``skip_overflow`` (fp16) a non-finite value is left out of the mean: the gradient
    scaler skipped that update and lowered its scale (a key with no finite value in the
    window is left out). Divergence under fp16 shows as a collapsing loss scale instead.
    """

    def __init__(self, skip_overflow: bool = False) -> None:
        self.pending: dict[str, list[Tensor]] = {}
        self.skip_overflow = skip_overflow

    def add(self, key: str, value: Tensor) -> None:
        self.pending.setdefault(key, []).append(value.detach())

    def state_dict(self) -> dict[str, Tensor]:
        """The values not yet averaged, so a resumed run logs the window it stopped in whole."""
        return {k: torch.stack(v).cpu() for k, v in self.pending.items() if v}

    def load_state_dict(self, state: dict[str, Tensor], device: torch.device) -> None:
        self.pending = {k: list(v.to(device).unbind()) for k, v in state.items()}

    def take_means(self) -> dict[str, Tensor]:
        means = {k: torch.stack(v).float() for k, v in self.pending.items() if v}
        self.pending = {}
        if not self.skip_overflow:
            return {k: v.mean() for k, v in means.items()}
        finite = {k: torch.isfinite(v) for k, v in means.items()}
        return {k: torch.where(finite[k], v, 0.0).sum() / finite[k].sum() for k, v in means.items() if bool(finite[k].any())}


@dataclass
class Networks:
    """What a step calls. ``*_forward`` are the bare networks in one process, their DDP
    wrappers under several, compiled when ``train.compile`` is on; ``discriminator_frozen``
    scores in the generator phase (bare: its gradients must not be all-reduced).
    ``generator_bare`` and ``discriminator_frozen`` also run the separate regularisation
    updates, whose gradients ``average_gradients`` (None in one process) averages by hand."""

    generator: Generator
    discriminator: nn.Module | None
    generator_forward: Callable[..., Any]
    discriminator_forward: Callable[..., Any] | None
    discriminator_frozen: Callable[..., Any] | None
    sample_latent: Callable[[int, torch.device], Tensor]
    generator_bare: Callable[..., Any]
    average_gradients: Callable[[nn.Module], None] | None = None

    @classmethod
    def assemble(
        cls,
        generator: Generator,
        discriminator: nn.Module | None,
        parallel: ParallelNetworks | None,
        compile: bool,
        report: Callable[[str], None],
        owners: tuple[str, str],
    ) -> Networks:
        """DDP wrappers under several processes, compiled forwards when asked, and every
        forward attributed to its plugin (``owners``: generator's, discriminator's) when it raises."""
        g_forward: Any = parallel.generator if parallel else generator
        d_forward: Any = parallel.discriminator if parallel else discriminator
        frozen: Any = discriminator
        g_bare: Any = generator
        if compile:
            g_forward = CompiledForward(g_forward, "generator", report)
            g_bare = CompiledForward(generator, "generator", report) if parallel else g_forward
            if discriminator is not None:
                d_forward = CompiledForward(d_forward, "discriminator", report)
                frozen = CompiledForward(frozen, "discriminator", report) if parallel else d_forward
        sample_latent = parallel.sample_latent if parallel else generator.sample_latent
        average = parallel.average_gradients if parallel else None
        g_owner, d_owner = owners
        if discriminator is None:
            return cls(generator, None, Blamed(g_forward, g_owner), None, None, sample_latent, Blamed(g_bare, g_owner), average)
        d_parts = (Blamed(d_forward, d_owner), Blamed(frozen, d_owner))
        return cls(generator, discriminator, Blamed(g_forward, g_owner), *d_parts, sample_latent, Blamed(g_bare, g_owner), average)


class TrainingStep:
    """Runs one step; see :meth:`__call__`."""

    def __init__(
        self,
        networks: Networks,
        terms: list[Term],
        optimizers: dict[str, torch.optim.Optimizer],
        precision: Precision,
        batches: Callable[[], RealBatch],
        *,
        d_steps: int,
        accumulate: int,
        conditional: bool,
        augment: Augment | None,
        losses: LossLog,
        device: torch.device,
        lazy: str = "folded",
    ) -> None:
        self.net = networks
        self.terms = terms
        self.several_terms = len(terms) > 1
        separate = lazy == "separate"
        #: the terms of the main updates: all of them folded, the non-lazy ones when lazy terms run separately
        self.main_terms = [t for t in terms if t.every == 1] if separate else terms
        #: network -> the lazy terms that run as its separate regularisation updates
        self.lazy_terms = {
            side: [t for t in terms if t.every > 1 and side in trained_networks(t.loss)] if separate else []
            for side in ("discriminator", "generator")
        }
        self.optimizers = optimizers
        self.precision = precision
        self.batches = batches
        self.d_steps = d_steps if networks.discriminator is not None else 0
        self.accumulate = accumulate
        self.conditional = conditional
        self.augment = augment
        self.losses = losses
        self.device = device

    def __call__(self, step: int) -> None:
        """``d_steps`` discriminator updates (none without a discriminator), then one generator update.

        The fakes of the last discriminator update keep their graph and are reused for the
        generator update, as the reference DCGAN loop does: one generator forward per step.
        """
        fakes: list[tuple[RealBatch, Tensor, GeneratorOutput]] = []
        for i in range(self.d_steps):
            update = step * self.d_steps + i
            fakes = self._discriminator_update(step, update, keep_graph=i == self.d_steps - 1)
            self._regularization_update("discriminator", step, update, fakes)
        if not fakes:
            fakes = [(part, *self._generate(part)) for part in self._parts(self.batches())]
        self._generator_update(step, fakes)
        self._regularization_update("generator", step, step, fakes)

    # ---- the two updates -------------------------------------------------------------------
    def _discriminator_update(self, step: int, update: int, keep_graph: bool) -> list[tuple[RealBatch, Tensor, GeneratorOutput]]:
        """One discriminator update; returns its micro-batches with their fakes (with their graph
        when ``keep_graph``, for the generator update)."""
        optimizer = self.optimizers["discriminator"]
        optimizer.zero_grad(set_to_none=True)
        kept: list[tuple[RealBatch, Tensor, GeneratorOutput]] = []
        loss: Tensor | None = None
        for part in self._parts(self.batches()):
            with self.precision.autocast():
                with torch.no_grad() if not keep_graph else contextlib.nullcontext():
                    latent, generated = self._generate(part)
                kept.append((part, latent, generated))
                batch = self._batch("discriminator", part, latent, generated, detach=True, step=step)
                loss = self._total(batch, "discriminator", update, self.main_terms)
            if loss is None:
                continue
            self.precision.backward(loss / self.accumulate if self.accumulate > 1 else loss, "discriminator")
            if self.augment is not None and batch.scored_real is not None:
                self.augment.observe(batch.scored_real.detach())
        if loss is not None:
            self.precision.step(optimizer, "discriminator")
        self._after_discriminator_step()
        return kept

    def _after_discriminator_step(self) -> None:
        for term in self.terms:
            with attributed(term.owner, "after_discriminator_step"):
                term.loss.after_discriminator_step(self.net.discriminator)  # type: ignore[arg-type]

    def _generator_update(self, step: int, fakes: list[tuple[RealBatch, Tensor, GeneratorOutput]]) -> None:
        optimizer = self.optimizers["generator"]
        discriminator = self.net.discriminator
        if discriminator is not None:
            discriminator.requires_grad_(False)
        try:
            optimizer.zero_grad(set_to_none=True)
            loss: Tensor | None = None
            for part, latent, generated in fakes:
                with self.precision.autocast():
                    batch = self._batch("generator", part, latent, generated, detach=False, step=step)
                    loss = self._total(batch, "generator", step, self.main_terms)
                if loss is None:
                    continue
                self.precision.backward(loss / self.accumulate if self.accumulate > 1 else loss, "generator")
            if loss is not None:
                self.precision.step(optimizer, "generator")
        finally:
            if discriminator is not None:
                discriminator.requires_grad_(True)

    def _regularization_update(self, side: str, step: int, update: int, parts: list[tuple[RealBatch, Tensor, GeneratorOutput]]) -> None:
        """``train.lazy_regularization: separate``: the lazy terms of ``side``'s network that are
        due at this ``update``, each value x its ``every``, as an optimizer step of their own after
        the main update, as the StyleGAN2 reference runs its Dreg/Greg phases: on the main update's
        micro-batches (the discriminator's with their detached fakes, the generator's with fresh
        ones, since the main update's backward freed their graph). Every weight the main update
        trained takes the step, with a zero gradient where the terms do not reach it (what the
        reference's ``real_logits * 0`` and ``gen_img[:, 0, 0, 0] * 0`` in these phases give;
        weights outside the forward, e.g. layers a progressive network has not grown yet, stay out).
        Under several processes the bare network runs and its gradients are averaged by hand
        (as stylegan3's loop does), so DDP never sees a backward that misses some weights."""
        terms = [t for t in self.lazy_terms[side] if t.weight(update, step)]
        if not terms:
            return
        network = self.net.discriminator if side == "discriminator" else self.net.generator
        assert network is not None
        frozen = self.net.discriminator if side == "generator" else None
        if frozen is not None:
            frozen.requires_grad_(False)
        try:
            optimizer = self.optimizers[side]
            trained = [w for w in network.parameters() if w.grad is not None]  # by the main update
            optimizer.zero_grad(set_to_none=True)
            stepped = False
            for part, latent, generated in parts:
                with self.precision.autocast():
                    if side == "generator":
                        latent, generated = self._generate(part, self.net.generator_bare)
                    batch = self._batch(side, part, latent, generated, detach=side == "discriminator", step=step, bare=True)
                    loss = self._total(batch, side, update, terms, main=False)
                if loss is not None:
                    self.precision.backward(loss / self.accumulate if self.accumulate > 1 else loss, side)
                    stepped = True
            if not stepped:
                return
            for weight in trained:
                if weight.grad is None:
                    weight.grad = torch.zeros_like(weight)
            if self.net.average_gradients is not None:
                self.net.average_gradients(network)
            self.precision.step(optimizer, side)
        finally:
            if frozen is not None:
                frozen.requires_grad_(True)
        if side == "discriminator":
            self._after_discriminator_step()

    # ---- pieces ----------------------------------------------------------------------------
    def _parts(self, real: RealBatch) -> list[RealBatch]:
        """The batch itself, or its ``accumulate`` micro-batches."""
        if self.accumulate == 1:
            return [real]
        count = real.samples.shape[0]
        if count % self.accumulate:
            raise GanforgeError(f"train.accumulate={self.accumulate} does not divide the batch of {count} samples; use a divisor of data.batch_size")
        size = count // self.accumulate
        return [
            RealBatch(
                real.samples[i : i + size],
                None if real.labels is None else real.labels[i : i + size],
                {k: v[i : i + size] for k, v in real.inputs.items()},
            )
            for i in range(0, count, size)
        ]

    def _generate(self, part: RealBatch, forward: Callable[..., Any] | None = None) -> tuple[Tensor, GeneratorOutput]:
        latent = self.net.sample_latent(part.samples.shape[0], self.device)
        labels = part.labels if self.conditional else None
        inputs = {name: part.samples if name == "real" else part.inputs[name] for name in self.net.generator.inputs}
        return latent, as_generated((forward or self.net.generator_forward)(latent, labels, **inputs))

    def _batch(self, phase: str, part: RealBatch, latent: Tensor, generated: GeneratorOutput, detach: bool, step: int, bare: bool = False) -> Batch:
        """The batch of an update; ``bare``: the discriminator scores without its DDP wrapper (a separate regularisation update)."""
        role = phase
        fake, extras = generated.samples, generated.extras
        if detach:
            fake, extras = fake.detach(), {k: v.detach() for k, v in extras.items()}
        return Batch(
            phase=phase,  # type: ignore[arg-type]
            real=part.samples,
            fake=fake,
            latent=latent,
            labels=part.labels if self.conditional else None,
            inputs=part.inputs,
            fake_extras=extras,
            discriminator=self.net.discriminator_forward if phase == "discriminator" and not bare else self.net.discriminator_frozen,
            generator=self.net.generator,
            augment=self.augment,
            loss_scale=self.precision.loss_scale(role),
            step=step,
            discriminator_module=self.net.discriminator,
        )

    def _total(self, batch: Batch, side: str, update: int, terms: list[Term], main: bool = True) -> Tensor | None:
        """The sum of ``terms``' active objectives for ``side``; None when every term that
        could give one sits out this update (its schedule), so the update is skipped. Not
        ``main`` (a separate regularisation update): each term's value is logged, not the sum,
        and None when no term gives one."""
        total: Tensor | None = None
        tag = "d" if side == "discriminator" else "g"
        resting = not main
        for term in terms:
            if not term.weight(update, batch.step):
                resting = True
                continue
            batch.logged.clear()
            value = term.value(batch, side, update)
            for name, part in batch.logged.items():
                self.losses.add(f"loss/{tag}/{term.name}/{name}", part)
            if value is None:
                continue
            if self.several_terms or not main:
                self.losses.add(f"loss/{tag}/{term.name}", value)
            total = value if total is None else total + value
        if total is None:
            if resting:
                return None
            names = ", ".join(t.name for t in self.terms)
            raise GanforgeError(f"no loss term gives a {side} objective ({names}); check the spec's loss")
        if main:
            self.losses.add(f"loss/{tag}", total)
        return total


class Blamed:
    """A network's forward that names the network when it raises (see ``errors.attributed``)."""

    def __init__(self, forward: Callable[..., Any], owner: str) -> None:
        self.forward = forward
        self.owner = owner

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with attributed(self.owner, "forward"):
            return self.forward(*args, **kwargs)

    @property
    def eager(self) -> Blamed:
        """The same without compilation (penalties differentiate their scores twice)."""
        eager = getattr(self.forward, "eager", None)
        return self if eager is None else Blamed(eager, self.owner)
