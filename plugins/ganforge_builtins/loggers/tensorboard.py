"""The ``tensorboard`` logger: scalars and sample pictures as TensorBoard events
(``logging: [{name: tensorboard}]``, or ``logging: {tensorboard: true}``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ganforge import Logger, RunStart, hookimpl
from ganforge.errors import GanforgeError
from ganforge.requirements import Need, extra_missing

MISSING_TENSORBOARD = "the tensorboard logger needs the tensorboard package, which is not installed: pip install 'ganforge[tensorboard]' (or pip install tensorboard)"


class TensorBoardLogger(Logger):
    """TensorBoard events: scalars, sample pictures and the final status.

    Every logged loss, learning rate and metric value as a scalar, each sample picture as an
    image, the final status as text, in ``<run>/<log_dir>``. A resumed run passes TensorBoard its
    first step as ``purge_step``: events the previous process wrote after its checkpoint (before
    a hard kill) are then discarded, so no step is drawn twice.

    Args:
        log_dir: the folder for the event files, inside the run directory.
    """

    def __init__(self, log_dir: str = "tensorboard") -> None:
        self.log_dir = log_dir
        self.writer: Any = None

    @classmethod
    def requirements(cls) -> list[Need]:
        return [Need("the tensorboard extra", extra_missing("tensorboard", "tensorboard"))]

    def start(self, run: RunStart) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise GanforgeError(MISSING_TENSORBOARD) from None
        purge = run.resumed_at + 1 if run.resumed_at is not None else None
        self.writer = SummaryWriter(str(Path(run.run_dir) / self.log_dir), purge_step=purge)

    def log_scalars(self, step: int, values: dict[str, float]) -> None:
        for key, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(key, value, step)

    def log_image(self, step: int, name: str, image: np.ndarray, path: Path) -> None:
        self.writer.add_image(name, image, step, dataformats="HWC")
        self.writer.flush()

    def finish(self, status: str) -> None:
        self.writer.add_text("status", status)
        self.writer.close()


@hookimpl
def register_loggers(register: Any) -> None:
    register("tensorboard", TensorBoardLogger)
