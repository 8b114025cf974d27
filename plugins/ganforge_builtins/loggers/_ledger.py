"""A logger's own record in the run directory: the external run it writes to, and the last
step it sent there, so that a resumed run continues that run and sends no step twice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ganforge.files import atomic_write_text


class Ledger:
    """``<run>/loggers/<name>.json``: ``{"run_id": ..., "last_step": ...}``.

    After a hard kill the previous process may have sent steps past its last checkpoint; the
    resumed run repeats them, and :meth:`already_sent` tells the logger to skip those.
    """

    def __init__(self, run_dir: Path, name: str) -> None:
        self.path = run_dir / "loggers" / f"{name}.json"
        self.run_id: str | None = None
        self.last_step = -1
        self.skip_through = -1  # steps the previous process already sent

    def open(self, resuming: bool) -> None:
        """Read the record a previous process of this run left (only when resuming)."""
        if not resuming or not self.path.is_file():
            return
        try:
            saved: dict[str, Any] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return
        self.run_id = saved.get("run_id")
        self.last_step = self.skip_through = int(saved.get("last_step", -1))

    def already_sent(self, step: int) -> bool:
        return step <= self.skip_through

    def sent(self, step: int) -> None:
        """Record that ``step`` went out (and with it the run's id)."""
        self.last_step = max(self.last_step, step)
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, json.dumps({"run_id": self.run_id, "last_step": self.last_step}) + "\n")
