"""The ``csv`` logger: every logged value as a row of a CSV file, for spreadsheets and pandas."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from ganforge import Logger, RunStart, hookimpl
from ganforge.files import WriteError, atomic_write_text


class CsvLogger(Logger):
    """Every logged value as CSV rows in the run directory.

    One row per log call in ``<run>/<filename>``: ``step`` and a column per value (losses,
    learning rates, metric values, ``epoch``); a value not logged in that call is left empty.
    A value that appears later (a metric's first evaluation) widens the header: the file is
    rewritten once with the new column. A resumed run first drops the rows written after its
    checkpoint.

    Args:
        filename: the file's name inside the run directory.
    """

    def __init__(self, filename: str = "metrics.csv") -> None:
        self.filename = filename
        self.path: Path | None = None
        self.columns: list[str] = ["step"]

    def start(self, run: RunStart) -> None:
        self.path = Path(run.run_dir) / self.filename
        if run.resumed_at is None or not self.path.is_file():
            self._rewrite(["step"], [])
            return
        with self.path.open(newline="") as f:
            reader = csv.DictReader(f)
            columns = list(reader.fieldnames or ["step"])
            kept = [row for row in reader if row.get("step", "").isdigit() and int(row["step"]) <= run.resumed_at]
        self._rewrite(columns, kept)

    def log_scalars(self, step: int, values: dict[str, float]) -> None:
        assert self.path is not None, "log_scalars before start"
        row = {"step": str(step), **{k: repr(v) if isinstance(v, float) else str(v) for k, v in values.items()}}
        new = [k for k in row if k not in self.columns]
        if new:
            with self.path.open(newline="") as f:
                rows = list(csv.DictReader(f))
            self._rewrite(self.columns + new, [*rows, row])
            return
        try:
            with self.path.open("a", newline="") as f:
                csv.DictWriter(f, self.columns).writerow(row)
        except OSError as exc:
            raise WriteError(self.path, exc) from None

    def _rewrite(self, columns: list[str], rows: list[dict[str, str]]) -> None:
        assert self.path is not None
        self.columns = columns
        text = io.StringIO()
        writer = csv.DictWriter(text, columns)
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.path, text.getvalue())


@hookimpl
def register_loggers(register: Any) -> None:
    register("csv", CsvLogger)
