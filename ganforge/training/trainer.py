"""The training loop: alternating discriminator and generator updates over every loss term."""

from __future__ import annotations

import math
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import torch
from torch import Tensor, nn

from ganforge import distributed
from ganforge.errors import GanforgeError
from ganforge.experiment import Experiment
from ganforge.interfaces import Batch, EvalContext, Loss
from ganforge.provenance import record_provenance  # evalmetrics: provenance
from ganforge.seeding import rng_state, set_rng_state
from ganforge.training.batches import BatchStream
from ganforge.training.checkpoint import load_checkpoint, save_checkpoint
from ganforge.training.ema import EMA
from ganforge.training.observers import RunObserver
from ganforge.training.parallel import FollowerRunDir, ParallelNetworks
from ganforge.training.progress import LineProgress, NoProgress, ProgressReporter
from ganforge.training.rundir import RunDir

#: resolved-spec keys that may change when a run is resumed.
RESUMABLE_CHANGES = {
    "name", "device", "metrics", "train.steps", "train.epochs", "train.log_every", "train.checkpoint_every", "train.samples",
    "logging", "logging.tensorboard", "logging.plots", "distributed.sync_bn", "distributed.find_unused_parameters",
}  # fmt: skip


class TrainingInterrupted(GanforgeError):
    exit_code = 130


class TrainingDiverged(GanforgeError):
    exit_code = 1


@dataclass
class TrainResult:
    """What a call to :meth:`Trainer.fit` did: steps run in this call, epochs completed in all."""

    steps: int
    epochs_done: int
    seconds: float
    last_losses: dict[str, float]


class Trainer:
    """Trains an :class:`Experiment`, writing everything into a :class:`RunDir`.

    Under torchrun every process runs a Trainer: it joins the process group, wraps the
    networks in DistributedDataParallel, trains on its share of each global batch, and only
    rank 0 writes files, shows progress and tells observers.
    """

    def __init__(
        self,
        experiment: Experiment,
        run_dir: RunDir,
        progress: ProgressReporter | None = None,
        observers: Sequence[RunObserver] = (),
    ) -> None:
        self.exp = experiment
        self.ranks, self.device = distributed.init_from_env(experiment.device)
        self.is_main = self.ranks.is_main
        self.observers = list(observers) if self.is_main else []
        self.run_dir = run_dir if self.is_main else FollowerRunDir(run_dir.root)
        self.progress = (progress or LineProgress()) if self.is_main else NoProgress()
        self.generator = experiment.generator.to(self.device)
        self.discriminator = experiment.discriminator.to(self.device)
        self.parallel: ParallelNetworks | None = None
        # what the step calls: the bare networks in one process, their DDP wrappers in several
        self._generator_forward: nn.Module = self.generator
        self._discriminator_forward: nn.Module = self.discriminator
        self._sample_latent = self.generator.sample_latent
        if self.ranks.distributed:
            self.parallel = ParallelNetworks(self.ranks, experiment.distributed, self.generator, self.discriminator, self.device)
            self._generator_forward, self._discriminator_forward = self.parallel.generator, self.parallel.discriminator
            self._sample_latent = self.parallel.sample_latent
        self.opt_g = experiment.make_optimizer("generator", self.generator)
        self.opt_d = experiment.make_optimizer("discriminator", self.discriminator)
        cfg = experiment.train
        self.cfg = cfg
        self.ema = EMA(self.generator, cfg.ema) if cfg.ema is not None else None
        self.terms: list[Loss] = experiment.terms
        self.term_names = _term_names(experiment)
        self.conditional = bool(self.generator.num_classes)
        self.step = 0
        self.best: dict[str, Any] = {}
        self._stop_signal: int | None = None
        self._pending: dict[str, list[Tensor]] = {}
        self._samples_step = -1
        self._default_best: str | None = None

    # ---- public -------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> TrainResult:
        """Train to the configured length; with ``resume`` continue from ``checkpoints/last.pt``."""
        self.prepare(resume)
        return self._loop()

    def prepare(self, resume: bool = False) -> None:
        """Load the data, create the run directory, and restore the checkpoint when resuming."""
        split = self.exp.dataset.load("train")
        state = self._load_for_resume() if resume else None
        epoch, batch = (state["epoch"], state["batch"]) if state else (0, 0)
        self.stream = BatchStream(split, self.global_batch_size(state), self.device, self.exp.seed, epoch, batch, self.ranks.rank, self.ranks.world_size)
        steps_per_epoch = max(1, self.stream.batches_per_epoch // self.cfg.d_steps)
        self.total_steps = self.cfg.steps if self.cfg.steps is not None else self.cfg.epochs * steps_per_epoch
        self.run_dir.create()
        if state:
            self._restore(state)
            self.run_dir.truncate_log(self.step)
        else:
            self.run_dir.write_spec(self.exp.resolved)
        if self.parallel is not None:
            self.parallel.start(self.exp.seed, self.step, state)
        self.fixed_latent, self.fixed_labels, self.grid_row = self._fixed_inputs()
        self.run_dir.write_status("running", self.step, self.total_steps)

    # ---- the loop -----------------------------------------------------------------------
    def _loop(self) -> TrainResult:
        start, start_step = time.perf_counter(), self.step
        epochs_done = self._epochs_done()
        last: dict[str, float] = {}
        self.progress.start(self.total_steps, self.step)
        try:
            with self._signals():
                while self.step < self.total_steps:
                    self.train_step()
                    self.step += 1
                    self.progress.tick(self.step)
                    if self.step % self.cfg.log_every == 0 or self.step == self.total_steps:
                        last = self._flush_losses()
                    finished_epochs = self._epochs_done()
                    if finished_epochs > epochs_done:
                        epochs_done = finished_epochs
                        self._end_of_epoch(epochs_done)
                    self._run_metrics(epoch_end=False)
                    if self.cfg.checkpoint_every and self.step % self.cfg.checkpoint_every == 0:
                        self._checkpoint()
                    if self._stop_requested():
                        self._checkpoint()
                        self._set_status("interrupted")
                        name = signal.Signals(self._stop_signal).name if self._stop_signal else "a signal to another process"
                        if self.parallel is not None:
                            self.parallel.close()
                        raise TrainingInterrupted(
                            f"stopped by {name} at step {self.step}/{self.total_steps}; checkpoint saved, "
                            f"continue with: ganforge run ... --out {self.run_dir.root} --resume"
                        )
            if self._samples_step != self.step:
                self._write_samples(self.run_dir.sample_path(step=self.step))
            self._checkpoint()
            self._set_status("finished")
            if self.parallel is not None:
                self.parallel.close()
        except TrainingDiverged as exc:
            self._set_status("diverged", str(exc))
            raise
        except (TrainingInterrupted, GanforgeError):
            raise
        except BaseException as exc:
            self._set_status("failed", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            self.progress.stop()
        return TrainResult(self.step - start_step, epochs_done, time.perf_counter() - start, last)

    def train_step(self) -> None:
        """One generator update after ``d_steps`` discriminator updates.

        The fake batch of the last discriminator update keeps its graph and is reused for
        the generator update, as the reference DCGAN loop does: one generator forward per step.
        """
        generator, discriminator = self.generator, self.discriminator
        d_steps = self.cfg.d_steps
        for i in range(d_steps):
            real, labels = next(self.stream)
            if not self.conditional:
                labels = None
            latent = self._sample_latent(real.shape[0], self.device)
            if i == d_steps - 1:
                fake = self._generator_forward(latent, labels)
                fake_for_d = fake.detach()
            else:
                with torch.no_grad():
                    fake_for_d = generator(latent, labels)
            batch = Batch("discriminator", real, fake_for_d, latent, labels, self._discriminator_forward, generator)
            loss_d = self._total(batch, "discriminator")
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            for term in self.terms:
                term.after_discriminator_step(discriminator)
        discriminator.requires_grad_(False)
        try:
            batch = Batch("generator", real, fake, latent, labels, discriminator, generator)
            loss_g = self._total(batch, "generator")
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g.step()
        finally:
            discriminator.requires_grad_(True)
        if self.ema is not None:
            self.ema.update()

    def _total(self, batch: Batch, side: str) -> Tensor:
        total: Tensor | None = None
        tag = "d" if side == "discriminator" else "g"
        several = len(self.terms) > 1
        for term, name in zip(self.terms, self.term_names):
            value = term.discriminator_loss(batch) if side == "discriminator" else term.generator_loss(batch)
            if value is None:
                continue
            if several:
                self._pending.setdefault(f"loss/{tag}/{name}", []).append(value.detach())
            total = value if total is None else total + value
        if total is None:
            raise GanforgeError(f"no loss term gives a {side} objective ({', '.join(self.term_names)}); check the spec's loss")
        self._pending.setdefault(f"loss/{tag}", []).append(total.detach())
        return total

    # ---- logging, samples, metrics, checkpoints ----------------------------------------------
    def _flush_losses(self) -> dict[str, float]:
        """Average the losses since the last flush: the only host-device sync of the loop."""
        means = {k: torch.stack(v).float().mean() for k, v in self._pending.items() if v}
        if self.parallel is not None:
            means = self.parallel.average(means)  # every process logs, and judges divergence by, the same numbers
        values = {k: v.item() for k, v in means.items()}
        self._pending = {}
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if bad:
            checkpoint = self.run_dir.last_checkpoint
            where = f"the last checkpoint ({checkpoint}) is from before" if checkpoint.exists() else "no checkpoint was written"
            raise TrainingDiverged(f"{', '.join(bad)} became {values[bad[0]]} by step {self.step}; {where}. Lower the learning rates or check the loss")
        self._record({"step": self.step, "epoch": self.stream.epoch, **values})
        self.progress.update(self.step, values)
        return values

    def _record(self, record: dict[str, Any]) -> None:
        self.run_dir.log(record)
        for observer in self.observers:
            observer.on_record(record)

    def _set_status(self, status: str, message: str | None = None) -> None:
        self.run_dir.write_status(status, self.step, self.total_steps, message)
        for observer in self.observers:
            observer.on_finish(status)

    def _epochs_done(self) -> int:
        return self.stream.epoch + (1 if self.stream.batch >= self.stream.batches_per_epoch else 0)

    def _end_of_epoch(self, epoch: int) -> None:
        self._write_samples(self.run_dir.sample_path(epoch=epoch))
        self._run_metrics(epoch_end=True, epoch=epoch)
        if not self.cfg.checkpoint_every:
            self._checkpoint()

    def _fixed_inputs(self) -> tuple[Tensor, Tensor | None, int]:
        generator = torch.Generator().manual_seed(self.exp.seed + 1)
        count = self.cfg.samples
        labels = None
        row = max(1, int(math.sqrt(count)))
        if self.conditional:
            classes = self.generator.num_classes
            row = max(1, count // classes)  # one row per class
            labels = torch.arange(classes).repeat_interleave(row).to(self.device)
            count = classes * row
        latent = self.generator.sample_latent(count, "cpu", generator).to(self.device)
        return latent, labels, row

    def _sampling_generator(self) -> nn.Module:
        return self.ema.shadow if self.ema is not None else self.generator

    def _write_samples(self, path: Any) -> None:
        self._sync_buffers()
        self._samples_step = self.step
        if not self.is_main:
            return
        generator = self._sampling_generator()
        was_training = generator.training
        generator.eval()
        with torch.inference_mode():
            samples = generator(self.fixed_latent, self.fixed_labels)
        generator.train(was_training)
        samples = samples.cpu()
        self.exp.dataset.save_samples(samples, path, nrow=self.grid_row)
        for observer in self.observers:
            observer.on_samples(self.step, samples, path)

    def _run_metrics(self, epoch_end: bool, epoch: int | None = None) -> None:
        due = [
            m for m in self.exp.metrics
            if (epoch_end and m.epochs and epoch is not None and epoch % m.epochs == 0)
            or (not epoch_end and m.steps and self.step % m.steps == 0)
        ]  # fmt: skip
        if not due:
            return
        self._sync_buffers()
        generator = self._sampling_generator()
        was_training = generator.training
        generator.eval()
        record: dict[str, float] = {}
        higher_is_better: dict[str, bool] = {}  # each value's direction, from the metric that produced it
        devices = [self.device] if self.device.type == "cuda" else []
        # Metrics must not move the training RNG, or a run with metrics would differ from one without.
        with torch.random.fork_rng(devices=devices):
            for scheduled in due:
                context = EvalContext(generator, self.exp.dataset, self.device, seed=self.exp.seed, ranks=self.ranks)
                values = scheduled.metric.evaluate(context)
                record_provenance(self.run_dir.root, scheduled.name, scheduled.metric, context, values, self.step, self.ema is not None)  # evalmetrics: provenance
                higher_is_better.update(dict.fromkeys(values, scheduled.metric.higher_is_better))
                if scheduled is self.exp.metrics[0] and values:
                    self._default_best = self._default_best or next(iter(values))
                record.update(values)
        generator.train(was_training)
        record = distributed.broadcast_object(record)  # rank 0's values decide best.pt on every process
        self._record({"step": self.step, "epoch": self.stream.epoch, **record})
        self.progress.update(self.step, record)
        self._track_best(record, higher_is_better)

    def _track_best(self, record: dict[str, float], higher_is_better: dict[str, bool]) -> None:
        """Keep best.pt by ``train.best_metric``, by default the first value of the spec's first metric."""
        name = self.cfg.best_metric or self.best.get("metric") or self._default_best
        if name not in record:
            return
        mode = self.cfg.best_mode or ("max" if higher_is_better[name] else "min")
        value = record[name]
        previous = self.best.get("value")
        better = previous is None or (value > previous if mode == "max" else value < previous)
        if better and math.isfinite(value):
            self.best = {"metric": name, "mode": mode, "value": value, "step": self.step}
            self._save(self.run_dir.best_checkpoint)

    def _state(self) -> dict[str, Any]:
        state = {
            "step": self.step,
            "epoch": self.stream.epoch,
            "batch": self.stream.batch,
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "ema": self.ema.shadow.state_dict() if self.ema is not None else None,
            "optimizers": {"generator": self.opt_g.state_dict(), "discriminator": self.opt_d.state_dict()},
            "rng": rng_state(),
            "best": dict(self.best),
            "spec": self.exp.resolved,
        }
        if self.parallel is not None:
            state["distributed"] = self.parallel.state()
        return state

    def _checkpoint(self) -> None:
        self._sync_buffers()
        self._save(self.run_dir.last_checkpoint)

    def _save(self, path: Any) -> None:
        state = self._state()  # on every process: it gathers each one's random state
        if self.is_main:
            save_checkpoint(state, path)

    # ---- several processes --------------------------------------------------------------------
    def global_batch_size(self, state: dict[str, Any] | None = None) -> int:
        """Samples per discriminator update over all processes (``data.batch_size`` in one process)."""
        batch, world = self.exp.batch_size, self.ranks.world_size
        if self.exp.distributed.batch == "global":
            if batch % world:
                raise GanforgeError(
                    f"data.batch_size={batch} is the global batch (distributed.batch: global) and does not split "
                    f"among {world} processes; use a multiple of {world}, or distributed.batch: per_rank"
                )
            return batch
        saved = ((state or {}).get("distributed") or {}).get("world_size", 1)
        if state is not None and saved != world:
            raise GanforgeError(
                f"--resume: the run trained {saved} process(es) x data.batch_size={batch} (distributed.batch: per_rank); "
                f"resume it with {saved} process(es), or train with distributed.batch: global to change the count"
            )
        return batch * world

    def _sync_buffers(self) -> None:
        if self.parallel is not None:
            modules = [self.generator, self.discriminator] + ([self.ema.shadow] if self.ema is not None else [])
            self.parallel.sync_buffers(*modules)

    def _stop_requested(self) -> bool:
        stop = self._stop_signal is not None
        return self.parallel.vote(stop) if self.parallel is not None else stop

    # ---- resume -------------------------------------------------------------------------------
    def _load_for_resume(self) -> dict[str, Any]:
        path = self.run_dir.last_checkpoint
        if not path.exists():
            raise GanforgeError(f"--resume: no checkpoint at {path}; start the run without --resume")
        state = load_checkpoint(path, map_location=self.device)
        changed = sorted(_differences(state.get("spec", {}), self.exp.resolved) - RESUMABLE_CHANGES)
        if changed:
            raise GanforgeError(
                f"--resume: the spec differs from the run's in {', '.join(changed)}; "
                f"resume with the run's own spec: ganforge run {self.run_dir.spec_path} --out {self.run_dir.root} --resume"
            )
        return state

    def _restore(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        if self.ema is not None and state.get("ema") is not None:
            self.ema.shadow.load_state_dict(state["ema"])
            self.ema.updates = state["step"]  # one EMA update per step
        self.opt_g.load_state_dict(state["optimizers"]["generator"])
        self.opt_d.load_state_dict(state["optimizers"]["discriminator"])
        self.step = state["step"]
        self.best = state.get("best") or {}
        set_rng_state(state["rng"])

    @contextmanager
    def _signals(self) -> Iterator[None]:
        """SIGINT/SIGTERM finish the current step, write a checkpoint and stop; a second one stops at once."""

        def handler(signum: int, frame: Any) -> None:
            if self._stop_signal is not None:
                raise KeyboardInterrupt
            self._stop_signal = signum
            self.progress.message(f"{signal.Signals(signum).name}: finishing step {self.step + 1}, then saving a checkpoint")

        try:
            previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not the main thread: leave signals alone
            yield
            return
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h)


def _term_names(exp: Experiment) -> list[str]:
    names = [exp.resolved["loss"]["name"], *(p["name"] for p in exp.resolved["penalties"])]
    for term in [*exp.generator.loss_terms(), *exp.discriminator.loss_terms()]:
        names.append(getattr(term, "name", type(term).__name__))
    return names


def _differences(old: Any, new: Any, prefix: str = "") -> set[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: set[str] = set()
        for key in set(old) | set(new):
            out |= _differences(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    if old != new and not (isinstance(old, (list, tuple)) and isinstance(new, (list, tuple)) and list(old) == list(new)):
        return {prefix.rstrip(".")}
    return set()
