"""A run observer that writes TensorBoard events: every logged loss and metric value as a
scalar, and each sample picture as an image (``logging: {tensorboard: true}``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from ganforge.errors import GanforgeError
from ganforge.training.observers import BaseObserver

MISSING_TENSORBOARD = (
    "logging.tensorboard is on but the tensorboard package is not installed: "
    "pip install 'ganforge[tensorboard]' (or pip install tensorboard), or set logging.tensorboard: false"
)


class TensorBoardObserver(BaseObserver):
    """Writes the run's scalars and sample pictures under ``log_dir``.

    ``purge_step``: a resumed run's first step (the checkpoint's step + 1). Events the previous
    process wrote from that step on (after its last checkpoint, before a hard kill) are then
    discarded by TensorBoard, so the resumed run does not draw a second, overlapping curve.
    """

    def __init__(self, log_dir: Path | str, purge_step: int | None = None) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise GanforgeError(MISSING_TENSORBOARD) from None
        self.log_dir = Path(log_dir)
        self.writer = SummaryWriter(str(self.log_dir), purge_step=purge_step)

    def on_record(self, record: dict[str, Any]) -> None:
        step = record.get("step")
        for key, value in record.items():
            if key in ("step", "epoch") or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            self.writer.add_scalar(key, value, step)
        if "epoch" in record:
            self.writer.add_scalar("epoch", record["epoch"], step)

    def on_samples(self, step: int, samples: Tensor, path: Path) -> None:
        # The written picture, not the tensor: it is what the dataset chose to draw (a grid of
        # images, or e.g. a scatter plot of 2-D points).
        from PIL import Image

        with Image.open(path) as picture:
            pixels = np.asarray(picture.convert("RGB"))
        self.writer.add_image("samples", pixels, step, dataformats="HWC")
        self.writer.flush()

    def on_finish(self, status: str) -> None:
        self.writer.add_text("status", status)
        self.writer.close()
