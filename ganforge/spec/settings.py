"""The sections of plain settings: ``train:``, ``logging:`` and ``distributed:``. The spec
resolver checks every value against its field's type hint, ranges included."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

from ganforge.types import NonNegativeInt, OpenUnitInterval, PositiveInt

#: set on a settings field's metadata when the field may change when a run is resumed.
RESUMABLE = {"resumable": True}


def resumable(default: Any) -> Any:
    """A settings field that may change on ``--resume`` (length, logging, ...)."""
    return field(default=default, metadata=RESUMABLE)


def resumable_fields(config: type) -> set[str]:
    """Names of ``config``'s fields that may change when a run is resumed."""
    return {f.name for f in fields(config) if f.metadata.get("resumable")}


@dataclass
class TrainConfig:
    """How long and how to train.

    epochs: passes over the training data (ignored when ``steps`` is set).
    steps: generator updates to run in total; wins over ``epochs`` when set.
    d_steps: discriminator updates per generator update (n_critic), each on a fresh real batch.
    ema: decay of an exponential moving average of the generator's weights (e.g. 0.999); null for none.
    log_every: steps between loss lines in metrics.jsonl and the progress display.
    checkpoint_every: steps between checkpoints; null writes one at each epoch end only.
    samples: images in the fixed-noise sample picture written each epoch.
    best_metric: metric value that selects best.pt (default: the first value of the first metric).
    best_mode: "min" or "max" for best_metric (default: the metric's own direction).
    precision: "fp32", or mixed precision with autocast: "bf16", or "fp16" with one gradient
        scaler per network (kept in the checkpoint). Metrics always run in fp32.
    compile: torch.compile both networks' forward passes; falls back to eager, with a message,
        where compilation fails.
    accumulate: split each batch into this many micro-batches and accumulate their gradients
        before each optimiser step (same update, less memory).
    channels_last: channels-last memory format for convolutional networks; null turns it on
        on CUDA devices only, where it speeds convolutions up.
    lazy_regularization: how terms with ``every: k`` (k > 1) train: ``folded`` adds their value
        x k to their network's update on every k-th update; ``separate`` runs them as an update
        of their own after it (the StyleGAN2 reference's lazy regularisation), the network's
        optimizer taking lr x k/(k+1) and betas ** (k/(k+1)) for the extra updates.
    """

    epochs: PositiveInt = resumable(1)
    steps: NonNegativeInt | None = resumable(None)
    d_steps: PositiveInt = 1
    ema: OpenUnitInterval | None = None
    log_every: PositiveInt = resumable(50)
    checkpoint_every: PositiveInt | None = resumable(None)
    samples: PositiveInt = resumable(64)
    best_metric: str | None = resumable(None)
    best_mode: Literal["min", "max"] | None = resumable(None)
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    compile: bool = resumable(False)
    accumulate: PositiveInt = 1
    channels_last: bool | None = resumable(None)
    lazy_regularization: Literal["folded", "separate"] = "folded"


@dataclass
class LoggingConfig:
    """The settings of the ``logging:`` section; its ``loggers`` (``ganforge list logger``) are
    resolved as components, ``jsonl`` (metrics.jsonl) always among them.

    tensorboard: shorthand for a ``{name: tensorboard}`` logger: losses, metric values and the
        sample pictures as TensorBoard events in <run>/tensorboard (needs the tensorboard extra:
        pip install 'ganforge[tensorboard]').
    plots: draw loss and metric figures into <run>/plots at the end of the run when matplotlib
        is installed (pip install 'ganforge[plot]'); skipped with a note otherwise.
    """

    tensorboard: bool = resumable(False)
    plots: bool = resumable(True)


@dataclass
class DistributedConfig:
    """The ``distributed:`` section: how a run launched over several processes (torchrun) trains.

    batch: what ``data.batch_size`` means: ``global``, the batch of one update summed over all
        processes (each takes ``batch_size / N``; the spec trains the same experiment on any
        number of processes), or ``per_rank``, each process's batch (the update sees ``N * batch_size``).
    sync_bn: batch norm computes its statistics over the whole global batch (SyncBatchNorm, GPUs
        only) instead of over each process's share.
    find_unused_parameters: let DistributedDataParallel skip parameters that get no gradient in an
        update (networks with heads used only sometimes); costs a graph walk every step.
    """

    batch: Literal["global", "per_rank"] = "global"
    sync_bn: bool = resumable(False)
    find_unused_parameters: bool = resumable(False)
