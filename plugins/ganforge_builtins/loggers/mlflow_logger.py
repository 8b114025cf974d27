"""The ``mlflow`` logger: the run in MLflow (``pip install 'ganforge[mlflow]'``)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ganforge import Logger, RunStart, hookimpl
from ganforge.errors import GanforgeError
from ganforge.requirements import Need, extra_missing
from ganforge_builtins.loggers._ledger import Ledger

MISSING_MLFLOW = "the mlflow logger needs the mlflow package, which is not installed: pip install 'ganforge[mlflow]' (or pip install mlflow)"
#: MLflow's run status for each way a run ends.
STATUSES = {"finished": "FINISHED", "interrupted": "KILLED"}
#: MLflow's limits on a parameter's key and value.
PARAM_KEY, PARAM_VALUE = 250, 6000


class MlflowLogger(Logger):
    """The run in MLflow, continued on resume.

    An MLflow run: the resolved spec as parameters (dotted keys) and as the artifact
    ``spec.yaml``, the run's provenance as ``provenance.json``, every logged value as a metric at
    its step, each sample picture as an image, the end as the run's status.

    The MLflow run's id is kept in ``<run>/loggers/mlflow.json``: ``--resume`` continues the same
    MLflow run and skips the steps it already received (after a hard kill, those between the last
    checkpoint and the kill), so no step is logged twice.

    Args:
        tracking_uri: where runs go: a server (``http://host:5000``), a database
            (``sqlite:////abs/path/mlflow.db``) or a file store (``file:/abs/path/mlruns``, which
            MLflow 3 accepts with ``MLFLOW_ALLOW_FILE_STORE=true``); default ``MLFLOW_TRACKING_URI``,
            else a database in the run directory, ``<run>/mlflow.db``, with the artifacts in
            ``<run>/mlartifacts`` (look with ``mlflow ui --backend-store-uri sqlite:///<run>/mlflow.db``).
        experiment: the MLflow experiment (default: the spec's name).
        run_name: the run's name (default: the run directory's name).
    """

    def __init__(self, tracking_uri: str | None = None, experiment: str | None = None, run_name: str | None = None) -> None:
        self.tracking_uri, self.experiment, self.run_name = tracking_uri, experiment, run_name
        self.client: Any = None
        self.ledger: Ledger | None = None

    @classmethod
    def requirements(cls) -> list[Need]:
        return [Need("the mlflow extra", extra_missing("mlflow", "mlflow"))]

    @property
    def run_id(self) -> str:
        assert self.ledger is not None and self.ledger.run_id is not None, "used before start"
        return self.ledger.run_id

    def start(self, run: RunStart) -> None:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise GanforgeError(MISSING_MLFLOW) from None
        uri = self.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        root = Path(run.run_dir).resolve()
        artifacts = None if uri else (root / "mlartifacts").as_uri()  # MLflow's default is ./mlruns in the working directory
        self.client = MlflowClient(tracking_uri=uri or f"sqlite:///{root / 'mlflow.db'}")
        self.ledger = Ledger(Path(run.run_dir), "mlflow")
        self.ledger.open(run.resuming)
        if self.ledger.run_id is not None:
            self.client.update_run(self.ledger.run_id, status="RUNNING")
            self.client.set_tag(self.ledger.run_id, "ganforge.resumed_at", str(run.resumed_at))
            return
        name = self.experiment or run.name
        found = self.client.get_experiment_by_name(name)
        experiment_id = found.experiment_id if found is not None else self.client.create_experiment(name, artifact_location=artifacts)
        created = self.client.create_run(experiment_id, run_name=self.run_name or Path(run.run_dir).name, tags={"ganforge.run_dir": str(run.run_dir)})
        self.ledger.run_id = created.info.run_id
        self.ledger.save()
        from mlflow.entities import Param

        params = [Param(k[:PARAM_KEY], v[:PARAM_VALUE]) for k, v in _flatten(run.spec).items()]
        for first in range(0, len(params), 100):  # MLflow takes at most 100 parameters a call
            self.client.log_batch(self.run_id, params=params[first : first + 100])
        self.client.log_dict(self.run_id, run.spec, "spec.yaml")
        self.client.log_dict(self.run_id, run.provenance, "provenance.json")

    def log_scalars(self, step: int, values: dict[str, float]) -> None:
        from mlflow.entities import Metric

        assert self.ledger is not None, "log_scalars before start"
        if self.ledger.already_sent(step):
            return
        now = int(time.time() * 1000)
        metrics = [Metric(key, float(value), now, step) for key, value in values.items() if isinstance(value, (int, float)) and not isinstance(value, bool)]
        self.client.log_batch(self.run_id, metrics=metrics)
        self.ledger.sent(step)

    def log_image(self, step: int, name: str, image: np.ndarray, path: Path) -> None:
        assert self.ledger is not None, "log_image before start"
        if self.ledger.already_sent(step):
            return
        self.client.log_image(self.run_id, image, key=name, step=step)

    def finish(self, status: str) -> None:
        if self.ledger is not None and self.ledger.run_id is not None:
            self.client.set_terminated(self.run_id, status=STATUSES.get(status, "FAILED"))


def _flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """``{"train.steps": "200", "penalties.0.gamma": "10", ...}``: the spec's leaves as strings."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flatten(item, f"{prefix}{key}.").items()}
    if isinstance(value, list) and value and any(isinstance(v, (dict, list)) for v in value):
        return {k: v for i, item in enumerate(value) for k, v in _flatten(item, f"{prefix}{i}.").items()}
    return {prefix.rstrip("."): str(value)}


@hookimpl
def register_loggers(register: Any) -> None:
    register("mlflow", MlflowLogger)
