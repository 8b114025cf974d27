"""The training loop: a short loop over small named parts (see ``training/``).

spec -> :class:`~ganforge.experiment.Experiment` -> :class:`Trainer` -> run directory. The
step itself is :class:`~ganforge.training.step.TrainingStep`; samples, metrics and best.pt,
precision, schedules and resume checks each live in their own module.
"""

from __future__ import annotations

import math
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import torch
from torch import nn

from ganforge import distributed
from ganforge.errors import GanforgeError
from ganforge.experiment import Experiment
from ganforge.seeding import rng_state, set_rng_state
from ganforge.training.batches import BatchStream
from ganforge.training.checkpoint import load_checkpoint, save_checkpoint
from ganforge.training.ema import EMA
from ganforge.training.evaluation import MetricSchedule
from ganforge.training.observers import RunObserver
from ganforge.training.optim import build_optimizer, build_schedule
from ganforge.training.parallel import FollowerRunDir, ParallelNetworks
from ganforge.training.precision import CompiledForward, Precision, use_channels_last
from ganforge.training.progress import LineProgress, NoProgress, ProgressReporter
from ganforge.training.resume import changed_keys
from ganforge.training.rundir import RunDir
from ganforge.training.samples import SampleWriter
from ganforge.training.step import Blamed, LossLog, Networks, TrainingStep


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


@dataclass
class TrainState:
    """Where the loop is; everything else in a checkpoint is the components' own state."""

    step: int = 0
    total_steps: int = 0
    epochs_done: int = 0
    started: bool = False  # the run directory is this run's: status.json may be written
    stop_signal: int | None = None
    samples_step: int = -1
    last_losses: dict[str, float] = field(default_factory=dict)


class Trainer:
    """Trains an :class:`Experiment`, writing everything into a :class:`RunDir`.

    Under torchrun every process runs a Trainer: it joins the process group, wraps the
    networks in DistributedDataParallel, trains on its share of each global batch, and only
    rank 0 writes files, shows progress and tells observers.
    """

    def __init__(
        self, experiment: Experiment, run_dir: RunDir, progress: ProgressReporter | None = None, observers: Sequence[RunObserver] = ()
    ) -> None:
        self.exp, self.cfg = experiment, experiment.train
        self.ranks, self.device = distributed.init_from_env(experiment.device)
        self.is_main = self.ranks.is_main
        self.observers = list(observers) if self.is_main else []
        self.run_dir = run_dir if self.is_main else FollowerRunDir(run_dir.root)
        self.progress = (progress or LineProgress()) if self.is_main else NoProgress()
        self.state = TrainState()
        self.generator = experiment.generator.to(self.device)
        self.discriminator = experiment.discriminator.to(self.device) if experiment.discriminator is not None else None
        self.augment = experiment.augment.to(self.device) if experiment.augment is not None else None
        for network in (self.generator, self.discriminator):
            if network is not None:
                use_channels_last(network, self.cfg.channels_last, self.device)
        self.networks = self._networks()
        self.optimizers = {"generator": build_optimizer(experiment.resolved["optimizers"]["generator"], self.generator)}
        if self.discriminator is not None:
            self.optimizers["discriminator"] = build_optimizer(experiment.resolved["optimizers"]["discriminator"], self.discriminator)
        self.schedules = {
            role: schedule for role, opt in self.optimizers.items()
            if (schedule := build_schedule(experiment.resolved["optimizers"][role], opt)) is not None
        }  # fmt: skip
        self.precision = Precision(self.cfg.precision, self.device)
        self.ema = EMA(self.generator, self.cfg.ema) if self.cfg.ema is not None else None
        self.losses = LossLog(skip_overflow=self.cfg.precision == "fp16")
        self.metrics = MetricSchedule(experiment, self.ranks, self.device, self.cfg.best_metric, self.cfg.best_mode)

    def _networks(self) -> Networks:
        generator_forward: Any = self.generator
        discriminator_forward: Any = self.discriminator
        sample_latent = self.generator.sample_latent
        self.parallel: ParallelNetworks | None = None
        if self.ranks.distributed:
            self.parallel = ParallelNetworks(self.ranks, self.exp.distributed, self.generator, self.discriminator, self.device)
            generator_forward, discriminator_forward = self.parallel.generator, self.parallel.discriminator
            sample_latent = self.parallel.sample_latent
        frozen: Any = self.discriminator
        if self.cfg.compile:
            generator_forward = CompiledForward(generator_forward, "generator", self.progress.message)
            if self.discriminator is not None:
                discriminator_forward = CompiledForward(discriminator_forward, "discriminator", self.progress.message)
                frozen = discriminator_forward if not self.ranks.distributed else CompiledForward(frozen, "discriminator", self.progress.message)
        d_owner = self.exp.owner("discriminator") if self.discriminator is not None else ""
        return Networks(
            generator=self.generator,
            discriminator=self.discriminator,
            generator_forward=Blamed(generator_forward, self.exp.owner("generator")),
            discriminator_forward=Blamed(discriminator_forward, d_owner) if self.discriminator is not None else None,
            discriminator_frozen=Blamed(frozen, d_owner) if self.discriminator is not None else None,
            sample_latent=sample_latent,
        )

    # ---- public -------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> TrainResult:
        """Train to the configured length; with ``resume`` continue from ``checkpoints/last.pt``.
        ``status.json`` says how it ended, whatever the way out."""
        try:
            self.prepare(resume)
            return self._loop()
        except TrainingInterrupted:
            self._set_status("interrupted")
            raise
        except TrainingDiverged as exc:
            self._set_status("diverged", str(exc))
            raise
        except GanforgeError as exc:
            self._set_status("failed", str(exc))
            raise
        except BaseException as exc:
            self._set_status("failed", f"{type(exc).__name__}: {exc}")
            raise

    def prepare(self, resume: bool = False) -> None:
        """Load the data, create the run directory, and restore the checkpoint when resuming."""
        split = self.exp.dataset.load("train")
        missing = [n for n in self.generator.inputs if n != "real" and n not in split.inputs]
        if missing:
            raise GanforgeError(
                f"{self.exp.owner('generator')} reads input '{missing[0]}', which {self.exp.owner('data')} does not provide "
                f"(it provides: {', '.join(split.inputs) or 'no named inputs'})"
            )
        saved = self._load_for_resume() if resume else None
        epoch, batch = (saved["epoch"], saved["batch"]) if saved else (0, 0)
        self.stream = BatchStream(split, self.global_batch_size(saved), self.device, self.exp.seed, epoch, batch, self.ranks.rank, self.ranks.world_size)
        self.training_step = TrainingStep(
            self.networks, self.exp.terms, self.optimizers, self.precision, lambda: next(self.stream),
            d_steps=self.cfg.d_steps, accumulate=self.cfg.accumulate, conditional=bool(self.generator.num_classes),
            augment=self.augment, losses=self.losses, device=self.device,
        )  # fmt: skip
        steps_per_epoch = max(1, self.stream.batches_per_epoch // max(1, self.training_step.d_steps))
        self.state.total_steps = self.cfg.steps if self.cfg.steps is not None else self.cfg.epochs * steps_per_epoch
        self.run_dir.create()
        self.state.started = True
        if saved:
            self._restore(saved)
            self.run_dir.truncate_log(self.state.step)
        else:
            self.run_dir.write_spec(self.exp.resolved)
        if self.parallel is not None:
            self.parallel.start(self.exp.seed, self.state.step, saved)
        self.samples = SampleWriter(self.generator, self.exp.dataset, split, self.cfg.samples, self.exp.seed, self.device)
        self.state.epochs_done = self._epochs_done()
        self.run_dir.write_status("running", self.state.step, self.state.total_steps)

    # ---- the loop -----------------------------------------------------------------------
    def _loop(self) -> TrainResult:
        state, start, start_step = self.state, time.perf_counter(), self.state.step
        self.progress.start(state.total_steps, state.step)
        try:
            with self._signals():
                while not self._done():
                    self.train_step()
                    state.step += 1
                    self.progress.tick(state.step)
                    self._after_step()
            if state.samples_step != state.step:
                self._write_samples(self.run_dir.sample_path(step=state.step))
            self._checkpoint()
            self._set_status("finished")
        finally:
            self.progress.stop()
            if self.parallel is not None:
                self.parallel.close()
        return TrainResult(state.step - start_step, state.epochs_done, time.perf_counter() - start, state.last_losses)

    def _done(self) -> bool:
        """The one stop predicate: the run's length reached, or a stop requested (on any process)."""
        stop = self.state.stop_signal is not None
        if self.parallel is not None:
            stop = self.parallel.vote(stop)
        if stop:
            self._checkpoint()
            name = signal.Signals(self.state.stop_signal).name if self.state.stop_signal else "a signal to another process"
            raise TrainingInterrupted(
                f"stopped by {name} at step {self.state.step}/{self.state.total_steps}; checkpoint saved, "
                f"continue with: ganforge run ... --out {self.run_dir.root} --resume"
            )
        return self.state.step >= self.state.total_steps

    def train_step(self) -> None:
        """One step: discriminator updates, the generator update, EMA and learning-rate schedules."""
        self.training_step(self.state.step)
        if self.ema is not None:
            self.ema.update()
        for schedule in self.schedules.values():
            schedule.step()

    def _after_step(self) -> None:
        state, step = self.state, self.state.step
        if step % self.cfg.log_every == 0 or step == state.total_steps:
            self._flush_losses()
        finished = self._epochs_done()
        if finished > state.epochs_done:
            state.epochs_done = finished
            self._write_samples(self.run_dir.sample_path(epoch=finished))
            self._run_metrics(self.metrics.due(step, finished))
            if not self.cfg.checkpoint_every:
                self._checkpoint()
        self._run_metrics(self.metrics.due(step, None))
        if self.cfg.checkpoint_every and step % self.cfg.checkpoint_every == 0:
            self._checkpoint()

    # ---- logging, samples, metrics, checkpoints ----------------------------------------------
    def _flush_losses(self) -> None:
        """Average the losses since the last flush: the only host-device sync of the loop."""
        means = self.losses.take_means()
        if self.parallel is not None:
            means = self.parallel.average(means)  # every process logs, and judges divergence by, the same numbers
        values = {k: v.item() for k, v in means.items()}
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        collapsed = self.precision.collapsed()
        if bad or collapsed:
            checkpoint = self.run_dir.last_checkpoint
            where = f"the last checkpoint ({checkpoint}) is from before" if checkpoint.exists() else "no checkpoint was written"
            what = collapsed or f"{', '.join(bad)} became {values[bad[0]]}"
            raise TrainingDiverged(f"{what} by step {self.state.step}; {where}. Lower the learning rates or check the loss")
        values.update({f"lr/{role}": opt.param_groups[0]["lr"] for role, opt in self.optimizers.items() if role in self.schedules})
        if self.augment is not None:
            values.update(self.augment.log_values())
        self.state.last_losses = values
        self._record(values)
        self.progress.update(self.state.step, values)

    def _record(self, values: dict[str, Any]) -> None:
        record = {"step": self.state.step, "epoch": self.stream.epoch, **values}
        self.run_dir.log(record)
        for observer in self.observers:
            observer.on_record(record)

    def _set_status(self, status: str, message: str | None = None) -> None:
        if not self.state.started:
            return
        self.run_dir.write_status(status, self.state.step, self.state.total_steps, message)
        for observer in self.observers:
            observer.on_finish(status)

    def _epochs_done(self) -> int:
        return self.stream.epoch + (1 if self.stream.batch >= self.stream.batches_per_epoch else 0)

    def _sampling_generator(self) -> nn.Module:
        return self.ema.shadow if self.ema is not None else self.generator

    def _write_samples(self, path: Any) -> None:
        self._sync_buffers()
        self.state.samples_step = self.state.step
        if self.is_main:
            self.samples.write(self._sampling_generator(), path, self.state.step, self.observers)

    def _run_metrics(self, due: list[Any]) -> None:
        if not due:
            return
        self._sync_buffers()
        record, higher_is_better = self.metrics.run(due, self._sampling_generator())
        self._record(record)
        self.progress.update(self.state.step, record)
        self.metrics.track_best(record, higher_is_better, self.state.step, lambda: self._save(self.run_dir.best_checkpoint))

    def _state(self) -> dict[str, Any]:
        networks = {"generator": self.generator, "discriminator": self.discriminator}
        state = {
            "step": self.state.step,
            "epoch": self.stream.epoch,
            "batch": self.stream.batch,
            **{role: net.state_dict() if net is not None else None for role, net in networks.items()},
            "ema": self.ema.shadow.state_dict() if self.ema is not None else None,
            "augment": self.augment.state_dict() if self.augment is not None else None,
            "optimizers": {role: opt.state_dict() for role, opt in self.optimizers.items()},
            "schedules": {role: schedule.state_dict() for role, schedule in self.schedules.items()},
            "scalers": self.precision.state_dict(),
            "rng": rng_state(),
            "best": dict(self.metrics.best),
            "spec": self.exp.resolved,
            "spec_written": self.exp.written,
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
            modules = [m for m in (self.generator, self.discriminator, self.ema.shadow if self.ema else None) if m is not None]
            self.parallel.sync_buffers(*modules)

    # ---- resume -------------------------------------------------------------------------------
    def _load_for_resume(self) -> dict[str, Any]:
        path = self.run_dir.last_checkpoint
        if not path.exists():
            raise GanforgeError(f"--resume: no checkpoint at {path}; start the run without --resume")
        saved = load_checkpoint(path, map_location=self.device)
        written = saved.get("spec_written")
        changed = changed_keys(written, self.exp.written) if written is not None else changed_keys(saved.get("spec", {}), self.exp.resolved)
        if changed:
            raise GanforgeError(
                f"--resume: the spec differs from the run's in {', '.join(changed)}; "
                f"resume with the run's own spec: ganforge run {self.run_dir.spec_path} --out {self.run_dir.root} --resume"
            )
        return saved

    def _restore(self, saved: dict[str, Any]) -> None:
        self.generator.load_state_dict(saved["generator"])
        if self.discriminator is not None:
            self.discriminator.load_state_dict(saved["discriminator"])
        if self.ema is not None and saved.get("ema") is not None:
            self.ema.shadow.load_state_dict(saved["ema"])
            self.ema.updates = saved["step"]  # one EMA update per step
        if self.augment is not None and saved.get("augment") is not None:
            self.augment.load_state_dict(saved["augment"])
        for role, optimizer in self.optimizers.items():
            optimizer.load_state_dict(saved["optimizers"][role])
        for role, schedule in self.schedules.items():
            schedule.load_state_dict(saved["schedules"][role])
        self.precision.load_state_dict(saved.get("scalers") or {})
        self.state.step = saved["step"]
        self.metrics.best = saved.get("best") or {}
        set_rng_state(saved["rng"])

    @contextmanager
    def _signals(self) -> Iterator[None]:
        """SIGINT/SIGTERM finish the current step, write a checkpoint and stop; a second one stops at once."""

        def handler(signum: int, frame: Any) -> None:
            if self.state.stop_signal is not None:
                raise KeyboardInterrupt
            self.state.stop_signal = signum
            self.progress.message(f"{signal.Signals(signum).name}: finishing step {self.state.step + 1}, then saving a checkpoint")

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
