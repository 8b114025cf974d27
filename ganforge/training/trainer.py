"""The training loop, a short loop over small named parts: the step (``step.py``), what a checkpoint
holds (``trainables.py``), samples, metrics and best.pt, precision, schedules and resume checks."""

from __future__ import annotations

import contextlib
import math
import signal
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ganforge import distributed
from ganforge.checkpoint import load_checkpoint, save_checkpoint
from ganforge.errors import GanforgeError, attributed
from ganforge.experiment import Experiment
from ganforge.files import WriteError
from ganforge.interfaces import Logger, RunStart
from ganforge.interfaces.dataset import DataSplit, Split
from ganforge.interfaces.reading import choose_in_memory, hold_in_memory
from ganforge.seeding import rng_state, set_rng_state
from ganforge.training import speed
from ganforge.training.batches import BatchStream, check_inputs
from ganforge.training.evaluation import MetricSchedule
from ganforge.training.loggers import LoggerSet, run_provenance
from ganforge.training.observers import RunObserver
from ganforge.training.parallel import FollowerRunDir, ParallelNetworks, global_batch_size
from ganforge.training.progress import LineProgress, NoProgress, ProgressReporter
from ganforge.training.resume import check_resumable
from ganforge.training.rundir import RunDir
from ganforge.training.samples import SampleWriter
from ganforge.training.signals import stop_on_signals
from ganforge.training.step import LossLog, Networks, TrainingStep
from ganforge.training.trainables import Trainables


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
    checkpoint_step: int = -1
    last_losses: dict[str, float] = field(default_factory=dict)


class Trainer:
    """Trains an :class:`Experiment`, writing everything into a :class:`RunDir`.

    Under torchrun every process runs a Trainer: it joins the process group, wraps the
    networks in DistributedDataParallel, trains on its share of each global batch, and only
    rank 0 writes files, shows progress and tells observers and loggers.

    ``loggers`` (description -> logger) default to the experiment's (``logging:`` in the spec).
    """

    def __init__(
        self,
        experiment: Experiment,
        run_dir: RunDir,
        progress: ProgressReporter | None = None,
        observers: Sequence[RunObserver] = (),
        loggers: Mapping[str, Logger] | None = None,
    ) -> None:
        self.exp, self.cfg = experiment, experiment.train
        self.ranks, self.device = distributed.init_from_env(experiment.device)
        self.is_main = self.ranks.is_main
        self.observers = list(observers) if self.is_main else []
        self.run_dir = run_dir if self.is_main else FollowerRunDir(run_dir.root)
        self.progress = (progress or LineProgress()) if self.is_main else NoProgress()
        if loggers is None:
            loggers = {experiment.owner(role): logger for role, logger in experiment.loggers.items()}
        self.loggers = LoggerSet(loggers if self.is_main else {}, self.progress.message)
        self.loggers.check_available()  # a missing package stops the run before its directory is made
        self.state = TrainState()
        self.parts = Trainables.build(experiment, self.device)
        self.generator, self.discriminator = self.parts.generator, self.parts.discriminator
        self.parallel: ParallelNetworks | None = None
        if self.ranks.distributed:
            self.parallel = ParallelNetworks(self.ranks, experiment.distributed, self.generator, self.discriminator, self.device)
        d_owner = experiment.owner("discriminator") if self.discriminator is not None else ""
        self.networks = Networks.assemble(
            self.generator, self.discriminator, self.parallel, self.cfg.compile, self.progress.message, (experiment.owner("generator"), d_owner)
        )
        self.losses = LossLog(skip_overflow=self.cfg.precision == "fp16")
        self.metrics = MetricSchedule(experiment, self.ranks, self.device, self.cfg.best_metric, self.cfg.best_mode, self.progress.evaluating)

    # ---- public -------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> TrainResult:
        """Train to the configured length; with ``resume`` continue from ``checkpoints/last.pt``.
        ``status.json`` says how it ended, whatever the way out."""
        try:
            self.prepare(resume)
            return self._loop()
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, TrainingInterrupted) else "diverged" if isinstance(exc, TrainingDiverged) else "failed"
            message = str(exc) if isinstance(exc, GanforgeError) else f"{type(exc).__name__}: {exc}"
            self._set_status(status, None if status == "interrupted" else message)
            raise

    def prepare(self, resume: bool = False) -> None:
        """Load the data, create the run directory, and restore the checkpoint when resuming."""
        split = self._training_split()
        check_inputs(self.generator, split, self.exp.owner("generator"), self.exp.owner("data"))
        speed.say_when_bf16_is_slow(self.cfg.precision if self.is_main else "fp32", self.generator, self.discriminator, self.device, self.progress.message)  # rank 0 only
        saved = self._load_for_resume() if resume else None
        if saved and saved.get("data_fingerprint") and self.data_fingerprint and (change := split.changed_since(saved["data_fingerprint"])):
            self.progress.message(f"--resume: the training data of {self.exp.owner('data')} changed since the run started: "
                                  f"{change}; continuing on the data as it is now")  # fmt: skip
        skipped = dict.fromkeys(saved.get("data_skipped") or []) if saved else {}  # unreadable files, counted over the whole run
        if choose_in_memory(split, self.exp.dataset.image_shape, self.exp.in_memory, self.exp.owner("data")):
            found: list[str] = []
            with attributed(self.exp.owner("data"), "load"):
                split = hold_in_memory(split, self.exp.workers, skipped=found.append)
            for message in (m for m in found if m not in skipped):
                skipped[message] = None
                self.progress.message(f"Warning: skipped {message} (the next sample is used in its place)")
        epoch, batch = (saved["epoch"], saved["batch"]) if saved else (0, 0)
        self.stream = BatchStream(
            split, self.global_batch_size(saved), self.device, self.exp.seed, epoch, batch, self.ranks.rank, self.ranks.world_size,
            workers=self.exp.workers, mirror=self.exp.mirror, warn=self.progress.message, skipped=skipped,
        )  # fmt: skip
        self.training_step = TrainingStep(
            self.networks, self.exp.terms, self.parts.optimizers, self.parts.precision, lambda: next(self.stream),
            d_steps=self.cfg.d_steps, accumulate=self.cfg.accumulate, conditional=bool(self.generator.num_classes),
            augment=self.parts.augment, losses=self.losses, device=self.device, lazy=self.cfg.lazy_regularization,
        )  # fmt: skip
        steps_per_epoch = max(1, self.stream.batches_per_epoch // max(1, self.training_step.d_steps))
        self.state.total_steps = self.cfg.steps if self.cfg.steps is not None else self.cfg.epochs * steps_per_epoch
        self.run_dir.create()
        self.state.started = True
        if saved:
            self._restore(saved)
        else:
            self.run_dir.write_spec(self.exp.resolved)
        self.loggers.start(RunStart(
            self.run_dir.root, self.exp.name, self.exp.resolved, run_provenance(self.device, self.exp.seed),
            self.state.total_steps, self.state.step if saved else None,
        ))  # fmt: skip
        if self.parallel is not None:
            self.parallel.start(self.exp.seed, self.state.step, saved)
        self.samples = SampleWriter(self.generator, self.exp.dataset, split, self.cfg.samples, self.exp.seed, self.device, self.exp.owner("data"))
        self.state.epochs_done = self._epochs_done()
        self.run_dir.write_status("running", self.state.step, self.state.total_steps)

    def _training_split(self) -> Split:
        """The train split as the dataset gives it, and its fingerprint when it has a cheap one
        (a split that overrides :meth:`Split.fingerprint`), kept in checkpoints to tell a resumed
        run that its files changed."""
        with attributed(self.exp.owner("data"), "load"):
            split = self.exp.dataset.load("train")
            cheap = type(split).fingerprint is not Split.fingerprint and not isinstance(split, DataSplit)
            self.data_fingerprint = split.fingerprint() if cheap else None
        return split

    # ---- the loop -----------------------------------------------------------------------
    def _loop(self) -> TrainResult:
        state, start, start_step = self.state, time.perf_counter(), self.state.step
        self.progress.start(state.total_steps, state.step)
        try:
            with stop_on_signals(self._on_signal):
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
        self.parts.set_step(self.state.step)
        self.training_step(self.state.step)
        if self.parts.ema is not None:
            self.parts.ema.update()
        for schedule in self.parts.schedules.values():
            schedule.step()

    def _after_step(self) -> None:
        state, step = self.state, self.state.step
        self.parts.set_step(step)  # pictures, metrics and checkpoints see the networks as a loaded run will
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
        collapsed = self.parts.precision.collapsed()
        if bad or collapsed:
            checkpoint = self.run_dir.last_checkpoint
            where = f"the last checkpoint ({checkpoint}) is from before" if checkpoint.exists() else "no checkpoint was written"
            what = collapsed or f"{', '.join(bad)} became {values[bad[0]]}"
            raise TrainingDiverged(f"{what} by step {self.state.step}; {where}. Lower the learning rates or check the loss")
        values.update(self.parts.log_values())
        values.update(self.stream.log_values())
        self.state.last_losses = values
        self._record(values)
        self.progress.update(self.state.step, values)

    def _record(self, values: dict[str, Any]) -> None:
        record = {"step": self.state.step, "epoch": self.stream.epoch, **values}
        self.loggers.log_scalars(self.state.step, {k: v for k, v in record.items() if k != "step"})
        for observer in self.observers:
            observer.on_record(record)

    def _set_status(self, status: str, message: str | None = None) -> None:
        if not self.state.started:
            return
        with contextlib.suppress(WriteError):  # best effort when the disk that failed holds it too
            self.run_dir.write_status(status, self.state.step, self.state.total_steps, message)
        self.loggers.finish(status)
        for observer in self.observers:
            observer.on_finish(status)

    def _epochs_done(self) -> int:
        return self.stream.epoch + (1 if self.stream.batch >= self.stream.batches_per_epoch else 0)

    def _write_samples(self, path: Any) -> None:
        self._sync_buffers()
        self.state.samples_step = self.state.step
        if self.is_main:
            self.samples.write(self.parts.sampling_generator(), path, self.state.step, self.observers)
            self.loggers.log_image(self.state.step, "samples", path)

    def _run_metrics(self, due: list[Any]) -> None:
        if not due:
            return
        self._sync_buffers()
        try:
            record, higher_is_better = self.metrics.run(due, self.parts.sampling_generator(), self.state.step, self.run_dir.root)
            self.metrics.track_best(record, higher_is_better, self.state.step, lambda: self._save(self.run_dir.best_checkpoint))
        except GanforgeError as exc:
            if self.parallel is not None or isinstance(exc, WriteError):  # a collective; or the disk that failed takes it
                raise
            self._checkpoint()  # a metric's failure (missing weights, a typo) must not cost the training done
            saved = GanforgeError(f"{exc}; training is saved at step {self.state.step}: fix that and continue with --resume")
            saved.exit_code = exc.exit_code
            raise saved from exc
        self._record(record)
        self.progress.update(self.state.step, record)

    def _state(self) -> dict[str, Any]:
        state = {
            "step": self.state.step,
            "epoch": self.stream.epoch,
            "batch": self.stream.batch,
            **self.parts.state_dict(),
            "rng": rng_state(),
            "losses": distributed.all_gather_objects(self.losses.state_dict()),  # each process's, like its RNG
            "best": dict(self.metrics.best),
            "data_fingerprint": self.data_fingerprint,
            "data_skipped": list(self.stream.skipped),
            "spec": self.exp.resolved,
            "spec_written": self.exp.written,
        }
        if self.parallel is not None:
            state["distributed"] = self.parallel.state()
        return state

    def _checkpoint(self) -> None:
        if self.state.checkpoint_step == self.state.step:  # e.g. the last step ends an epoch: one write
            return
        self._sync_buffers()
        self._save(self.run_dir.last_checkpoint)
        self.state.checkpoint_step = self.state.step
        # a heartbeat: a run killed without warning still says how far it got and when
        self.run_dir.write_status("running", self.state.step, self.state.total_steps)

    def _save(self, path: Any) -> None:
        state = self._state()  # on every process: it gathers each one's random state
        if self.is_main:
            save_checkpoint(state, path)

    # ---- several processes --------------------------------------------------------------------
    def global_batch_size(self, saved: dict[str, Any] | None = None) -> int:
        """Samples per discriminator update over all processes (``data.batch_size`` in one process)."""
        return global_batch_size(self.exp.batch_size, self.ranks, self.exp.distributed, saved)

    def _sync_buffers(self) -> None:
        if self.parallel is not None:
            self.parallel.sync_buffers(*self.parts.modules())

    # ---- resume -------------------------------------------------------------------------------
    def _load_for_resume(self) -> dict[str, Any]:
        path = self.run_dir.last_checkpoint
        if not path.exists():
            raise GanforgeError(f"--resume: no checkpoint at {path}; start the run without --resume")
        saved = load_checkpoint(path, map_location=self.device)
        check_resumable(saved, self.exp.written, self.exp.resolved, self.run_dir, self.exp.registry)
        return saved

    def _restore(self, saved: dict[str, Any]) -> None:
        self.parts.load_state_dict(saved)
        self.state.step = saved["step"]
        self.metrics.best = saved.get("best") or {}
        set_rng_state(saved["rng"])
        losses = saved.get("losses") or []
        if len(losses) == self.ranks.world_size:
            self.losses.load_state_dict(losses[self.ranks.rank], self.device)

    def _on_signal(self, signum: int) -> bool:
        """The first SIGINT/SIGTERM finishes the step and stops with a checkpoint; a second stops at once."""
        if self.state.stop_signal is not None:
            return True
        self.state.stop_signal = signum
        self.progress.message(f"{signal.Signals(signum).name}: finishing the current step, then saving a checkpoint (a second one stops at once)")
        return False
