"""The ``wandb`` logger: the run in Weights & Biases (``pip install 'ganforge[wandb]'``)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ganforge import Logger, RunStart, hookimpl
from ganforge.errors import GanforgeError
from ganforge.requirements import Need, extra_missing
from ganforge_builtins.loggers._ledger import Ledger

MISSING_WANDB = "the wandb logger needs the wandb package, which is not installed: pip install 'ganforge[wandb]' (or pip install wandb)"
#: W&B's exit code for each way a run ends: anything but finished marks the W&B run as failed.
EXIT_CODES = {"finished": 0, "interrupted": 130}


class WandbLogger(Logger):
    """The run in Weights & Biases, continued on resume.

    A Weights & Biases run: the resolved spec and the run's provenance as its config, every
    logged value at its step, each sample picture as an image, the end as its exit code.

    The W&B run's id is kept in ``<run>/loggers/wandb.json``: ``--resume`` continues the same W&B
    run and skips the steps it already received (after a hard kill, those between the last
    checkpoint and the kill), so no step is logged twice. W&B's files go to ``<run>/wandb``.
    Without network, ``mode: offline`` (or ``WANDB_MODE=offline``) keeps the run on disk for
    ``wandb sync``.

    Args:
        project: the W&B project (default: W&B's, ``WANDB_PROJECT``).
        entity: the W&B user or team (default: yours).
        run_name: the run's display name (default: the run directory's name).
        group: a group for related runs, e.g. the members of one sweep.
        tags: tags of the run.
        mode: ``online``, ``offline`` or ``disabled`` (default: ``WANDB_MODE``, else online).
    """

    def __init__(
        self,
        project: str | None = None,
        entity: str | None = None,
        run_name: str | None = None,
        group: str | None = None,
        tags: list[str] | None = None,
        mode: Literal["online", "offline", "disabled"] | None = None,
    ) -> None:
        self.project, self.entity, self.run_name, self.group = project, entity, run_name, group
        self.tags, self.mode = list(tags or []), mode
        self.run: Any = None
        self.ledger: Ledger | None = None

    @classmethod
    def requirements(cls) -> list[Need]:
        return [Need("the wandb extra", extra_missing("wandb", "wandb"))]

    def start(self, run: RunStart) -> None:
        try:
            import wandb
        except ImportError:
            raise GanforgeError(MISSING_WANDB) from None
        self.ledger = Ledger(Path(run.run_dir), "wandb")
        self.ledger.open(run.resuming)
        if self.ledger.run_id is None:
            self.ledger.run_id = uuid.uuid4().hex[:16]
            self.ledger.save()
        self.run = wandb.init(
            project=self.project, entity=self.entity, name=self.run_name or Path(run.run_dir).name, group=self.group, tags=self.tags,
            config={**run.spec, "provenance": run.provenance}, id=self.ledger.run_id, resume="allow",
            dir=str(run.run_dir), mode=self.mode,
        )  # fmt: skip
        if run.resuming:
            self.run.summary["resumed_at"] = run.resumed_at

    def log_scalars(self, step: int, values: dict[str, float]) -> None:
        assert self.ledger is not None and self.run is not None, "log_scalars before start"
        if self.ledger.already_sent(step):
            return
        self.run.log(dict(values), step=step)
        self.ledger.sent(step)

    def log_image(self, step: int, name: str, image: np.ndarray, path: Path) -> None:
        import wandb

        assert self.ledger is not None and self.run is not None, "log_image before start"
        if self.ledger.already_sent(step):
            return
        self.run.log({name: wandb.Image(image, caption=f"step {step}")}, step=step)

    def finish(self, status: str) -> None:
        if self.run is not None:
            self.run.summary["status"] = status
            self.run.finish(exit_code=EXIT_CODES.get(status, 1))


@hookimpl
def register_loggers(register: Any) -> None:
    register("wandb", WandbLogger)
