"""Loggers: a third-party logger written from CONTRIBUTING.md alone receives every scalar and
picture of a run and its resumption; W&B (offline) and MLflow (a local store) continue the same
run after a hard kill without a step twice; a logger that raises is reported once."""

from __future__ import annotations

import importlib
import json
import shutil
import struct
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from ganforge import Logger, hookimpl
from ganforge.plugins import Plugins

from .conftest import TINY_SPEC, invoke
from .test_plugkit_contributing import write_files
from .use_plugin import CONDITIONAL_SPEC, install

#: a run that logs every step, with a sample picture at the end of each epoch (4 batches of 16).
SPEC = TINY_SPEC.replace("train: {steps: 6, log_every: 2, ema: 0.9}", "train: {steps: 6, log_every: 1, ema: 0.9}\n")


def run(spec: Path, out: Path, steps: int, *extra: str) -> Any:
    result = invoke("run", str(spec), "--out", str(out), "--quiet", "--set", f"train.steps={steps}", *extra)
    assert result.exit_code == 0, result.output
    return result


def killed_and_resumed(spec: Path, out: Path) -> None:
    """A run of 5 steps whose process died after step 5 with its last checkpoint at step 3,
    then resumed to step 6 (as tests/test_tensorboard_resume.py plays it)."""
    run(spec, out, 3)
    saved = out.parent / "at-step-3.pt"
    shutil.copy(out / "checkpoints" / "last.pt", saved)
    run(spec, out, 5, "--resume")  # sent steps 4 and 5 ...
    shutil.copy(saved, out / "checkpoints" / "last.pt")  # ... then "died" before checkpointing them
    (out / "status.json").write_text(json.dumps({"status": "running", "step": 5, "total_steps": 5}))
    run(spec, out, 6, "--resume")


def logged(out: Path) -> dict[int, dict[str, float]]:
    """metrics.jsonl's values by step (several records of one step merged)."""
    steps: dict[int, dict[str, float]] = {}
    for line in (out / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        steps.setdefault(record.pop("step"), {}).update(record)
    return steps


@pytest.fixture
def events(plugins: Plugins, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Plugins]:
    """The logger plugin of CONTRIBUTING.md, written out from the guide and registered."""
    (package,) = [p for p in write_files(tmp_path / "guide") if p.name == "ganforge-events"]
    monkeypatch.syspath_prepend(str(package / "src"))
    plugins.register(importlib.import_module("ganforge_events.plugin"), "events")
    yield plugins
    for module in [m for m in sys.modules if m.startswith("ganforge_events")]:
        del sys.modules[module]


def test_a_logger_from_the_guide_receives_every_scalar_picture_and_the_resume(events: Plugins, tmp_path: Path) -> None:
    spec = tmp_path / "events.yaml"
    spec.write_text(SPEC + "logging: [{name: events}]\n")
    out = tmp_path / "run"
    killed_and_resumed(spec, out)
    lines = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    starts = [e for e in lines if e["event"] == "start"]
    assert [s["resumed_at"] for s in starts] == [None, 3, 3]  # the third start dropped the second's steps 4 and 5
    scalars: dict[int, dict[str, float]] = {}
    for event in (e for e in lines if e["event"] == "scalars"):
        scalars.setdefault(event["step"], {}).update(event["values"])
    assert [e["step"] for e in lines if e["event"] == "scalars"] == [1, 2, 3, 4, 5, 6]  # each step once, in order
    assert scalars == logged(out)  # every value metrics.jsonl holds, the same
    assert {"loss/d", "loss/g", "epoch"} <= set(scalars[6])
    pictures = [(e["step"], e["file"], e["shape"][2]) for e in lines if e["event"] == "image"]
    written = sorted(p.name for p in (out / "samples").glob("*.png"))
    assert pictures == [(3, "step_0000003.png", 3), (4, "epoch_0001.png", 3), (6, "step_0000006.png", 3)]
    assert written == ["epoch_0001.png", "step_0000003.png", "step_0000005.png", "step_0000006.png"]  # step 5's picture came from the dead process
    assert [e["status"] for e in lines if e["event"] == "finish"] == ["finished", "finished", "finished"]


class Broken(Logger):
    """Raises in everything: a service that is down."""

    calls = 0

    def start(self, run: Any) -> None:
        self.fail()

    def log_scalars(self, step: int, values: dict[str, float]) -> None:
        self.fail()

    def log_image(self, step: int, name: str, image: Any, path: Path) -> None:
        self.fail()

    def finish(self, status: str) -> None:
        self.fail()

    def fail(self) -> None:
        Broken.calls += 1
        raise ConnectionError("wandb.ai is unreachable")


class BrokenPlugin:
    @hookimpl
    def register_loggers(self, register: Any) -> None:
        register("broken", Broken)


def test_a_logger_that_raises_is_reported_once_and_the_run_finishes(plugins: Plugins, tmp_path: Path) -> None:
    plugins.register(BrokenPlugin(), "broken")
    spec = tmp_path / "broken.yaml"
    spec.write_text(SPEC + "logging: [{name: broken}, {name: csv}]\n")
    Broken.calls = 0
    result = run(spec, tmp_path / "run", 6)
    said = "logger 'broken' (plugin broken) failed in start (ConnectionError: wandb.ai is unreachable); the run goes on, this is said once"
    assert result.stderr.count("logger 'broken'") == 2, result.stderr
    assert said in result.stderr
    assert f"logger 'broken' (plugin broken) failed {Broken.calls} times in all" in result.stderr
    assert Broken.calls == 1 + 6 + 2 + 1  # start, six log steps, two pictures, finish: it was told everything
    assert json.loads((tmp_path / "run" / "status.json").read_text())["status"] == "finished"
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + 6 and rows[0].startswith("step,epoch,loss/d")  # the loggers after it got everything


def test_a_logger_that_needs_a_missing_package_stops_the_run_before_it_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    spec = tmp_path / "wandb.yaml"
    spec.write_text(SPEC + "logging: [{name: wandb, project: gans}]\n")
    result = invoke("run", str(spec), "--out", str(tmp_path / "run"), "--quiet")
    assert result.exit_code == 2
    assert result.stderr.strip().endswith("logger 'wandb' (plugin loggers) cannot log: wandb not installed (pip install 'ganforge[wandb]'); or remove it from logging:")
    assert not (tmp_path / "run").exists()


def test_csv_rows_follow_the_resume_and_widen_for_a_metric(plugins: Plugins, tmp_path: Path) -> None:
    install(plugins)
    spec = tmp_path / "csv.yaml"
    spec.write_text(CONDITIONAL_SPEC.replace("logging: {plots: false}", "logging: {plots: false, loggers: [csv]}").replace("log_every: 2", "log_every: 1"))
    out = tmp_path / "run"
    killed_and_resumed(spec, out)
    import csv

    with (out / "metrics.csv").open(newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames is not None and reader.fieldnames[-1] == "use-brightness"  # first measured at step 2
    values: dict[int, dict[str, float]] = {}
    for row in rows:
        values.setdefault(int(row.pop("step")), {}).update({k: float(v) for k, v in row.items() if v})
    assert values == logged(out) and sorted(values) == [1, 2, 3, 4, 5, 6]
    assert len(rows) == 6 + 3  # a loss row each step, a metric row at steps 2, 4 and 6


def test_old_tensorboard_switch_and_the_list_form_resolve_alike(tmp_path: Path) -> None:
    from ganforge.plugins import get_plugins
    from ganforge.spec import load_spec
    from ganforge.spec.resolve import resolve

    def loggers(text: str) -> list[Any]:
        path = tmp_path / "s.yaml"
        path.write_text(TINY_SPEC + text)
        return list(resolve(load_spec(path), get_plugins().registry)["logging"]["loggers"])

    assert loggers("logging: {tensorboard: true}\n") == loggers("logging: [{name: tensorboard}]\n") == [{"name": "jsonl"}, {"name": "tensorboard", "log_dir": "tensorboard"}]
    assert loggers("") == [{"name": "jsonl"}]
    assert loggers("logging: {plots: false, loggers: [csv, {name: jsonl}]}\n") == [{"name": "csv", "filename": "metrics.csv"}, {"name": "jsonl"}]


def wandb_records(path: Path) -> Iterator[bytes]:
    """The records of a W&B transaction log (``run-ID.wandb``): LevelDB's log format, 32 KiB
    blocks of (crc, length, type) chunks, after a 7-byte header (wandb 0.31 has no Python reader)."""
    data, position, block, pending = path.read_bytes(), 7, 32768, b""
    while position + 7 <= len(data):
        left = block - position % block
        _, length, kind = struct.unpack("<IHB", data[position : position + 7]) if left >= 7 else (0, 0, 0)
        if left < 7 or (length == 0 and kind == 0):  # the block's padding
            position += left
            continue
        chunk, position = data[position + 7 : position + 7 + length], position + 7 + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):  # a whole record, or its last chunk
            yield pending


def wandb_history(out: Path) -> list[tuple[str, int, dict[str, Any]]]:
    """(run id, step, values) of every history record in the offline W&B files, oldest first."""
    from wandb.proto import wandb_internal_pb2

    found = []
    for path in sorted((out / "wandb").glob("offline-run-*/run-*.wandb")):
        for data in wandb_records(path):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(data)
            if record.WhichOneof("record_type") == "history":
                items = {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
                found.append((path.stem.removeprefix("run-"), int(items["_step"]), items))
    return found


@pytest.mark.slow
def test_wandb_offline_continues_its_run_after_a_kill_without_a_step_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    spec = tmp_path / "wandb.yaml"
    spec.write_text(SPEC + "logging: [{name: wandb, project: gans}]\n")
    out = tmp_path / "run"
    killed_and_resumed(spec, out)
    history = wandb_history(out)
    assert len({run_id for run_id, _, _ in history}) == 1  # one W&B run, continued twice
    assert len(list((out / "wandb").glob("offline-run-*"))) == 3
    steps = [step for _, step, _ in history]
    assert steps == sorted(set(steps)) == [1, 2, 3, 4, 5, 6]
    expected = logged(out)
    for _, step, values in history:
        assert values["loss/d"] == pytest.approx(expected[step]["loss/d"])
    pictures = [step for _, step, values in history if values.get("samples/_type") == "image-file"]
    assert pictures == [3, 4, 5, 6]  # each once: step 5's from the process that died


@pytest.mark.slow
def test_mlflow_continues_its_run_after_a_kill_without_a_step_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps the file store behind this switch
    store = (tmp_path / "mlruns").as_uri()
    spec = tmp_path / "mlflow.yaml"
    spec.write_text(SPEC + f"logging: [{{name: mlflow, tracking_uri: '{store}', experiment: gans}}]\n")
    out = tmp_path / "run"
    killed_and_resumed(spec, out)
    client = MlflowClient(tracking_uri=store)
    (found,) = client.search_runs([client.get_experiment_by_name("gans").experiment_id])
    assert found.info.status == "FINISHED" and found.data.params["train.log_every"] == "1"
    history = client.get_metric_history(found.info.run_id, "loss/d")
    assert [m.step for m in history] == [1, 2, 3, 4, 5, 6]
    expected = logged(out)
    assert [m.value for m in history] == pytest.approx([expected[m.step]["loss/d"] for m in history])
    artifacts = {a.path for a in client.list_artifacts(found.info.run_id)}
    assert {"spec.yaml", "provenance.json", "images"} <= artifacts
