"""``ganforge runs``: a table of run directories from their spec.yaml, status.json and metrics.jsonl."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ganforge.cli.runinfo import find_runs, summarize
from ganforge.plugins import Plugins

from .conftest import invoke
from .use_plugin import install, train_conditional


@pytest.fixture(autouse=True)
def use_plugin(plugins: Plugins) -> Plugins:
    return install(plugins)


def fake_run(root: Path, name: str, status: str, step: int, records: list[dict[str, Any]], **spec: Any) -> Path:
    """A run directory as ``ganforge run`` leaves it (without checkpoints)."""
    run = root / name / "20250101-000000"
    run.mkdir(parents=True)
    resolved = {"name": name, "generator": {"name": "dcgan"}, "discriminator": {"name": "dcgan"}, "loss": {"name": "lsgan"},
                "penalties": [], "metrics": [{"name": "use-brightness", "every": 2}], "train": {}, **spec}  # fmt: skip
    (run / "spec.yaml").write_text(yaml.safe_dump(resolved))
    (run / "status.json").write_text(json.dumps({"status": status, "step": step, "total_steps": 100}))
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return run


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    fake_run(tmp_path, "alpha", "finished", 100, [
        {"step": 50, "epoch": 0, "loss/d": 0.5, "loss/g": 0.7},
        {"step": 50, "epoch": 0, "use-brightness": 0.2},
        {"step": 100, "epoch": 1, "use-brightness": 0.6},
        {"step": 100, "epoch": 1, "use-brightness": 0.4},
    ])  # fmt: skip
    fake_run(tmp_path, "beta", "interrupted", 40, [{"step": 40, "epoch": 0, "use-brightness": 0.5}],
             penalties=[{"name": "r1"}], discriminator={"name": "sngan"})  # fmt: skip
    diverged = fake_run(tmp_path, "gamma", "diverged", 10, [{"step": 10, "epoch": 0, "loss/d": None}])
    with (diverged / "metrics.jsonl").open("a") as f:
        f.write('{"step": 12, "loss/d"')  # torn by a kill mid-write
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "spec.yaml").write_text("not a run: no status.json, no checkpoint\n")
    return tmp_path


def test_finds_runs_and_summarises_them(sweep: Path, plugins: Plugins) -> None:
    found = find_runs(sweep)
    assert [p.parent.name for p in found] == ["alpha", "beta", "gamma"]
    alpha, beta, gamma = (summarize(p, plugins.registry) for p in found)
    assert (alpha.name, alpha.model, alpha.loss, alpha.step, alpha.total_steps, alpha.status) == ("alpha", "dcgan", "lsgan", 100, 100, "finished")
    brightness = alpha.metrics["use-brightness"]
    assert (brightness.last, brightness.best, brightness.higher_is_better) == (0.4, 0.6, True)
    assert (beta.model, beta.loss, beta.status) == ("dcgan/sngan", "lsgan+r1", "interrupted")
    assert (gamma.status, gamma.metrics) == ("diverged", {})
    assert find_runs(found[0]) == [found[0]]


def test_a_running_run_shows_the_step_its_log_has_reached(tmp_path: Path, plugins: Plugins) -> None:
    """status.json says the step a run started from; the metrics log is ahead of it."""
    running = fake_run(tmp_path, "epsilon", "running", 0, [{"step": 20, "loss/d": 0.5}, {"step": 40, "use-brightness": 0.3}])
    assert summarize(running, plugins.registry).step == 40
    interrupted = fake_run(tmp_path, "zeta", "interrupted", 30, [{"step": 40, "loss/d": 0.5}])  # resumes from its checkpoint
    assert summarize(interrupted, plugins.registry).step == 30


def test_best_follows_the_spec_and_unknown_directions_show_no_best(tmp_path: Path, plugins: Plugins) -> None:
    run = fake_run(tmp_path, "delta", "finished", 3, [{"step": 1, "use-brightness": 0.9, "spread_std": 0.1}, {"step": 2, "use-brightness": 0.5, "spread_std": 0.3}],
                   train={"best_metric": "use-brightness", "best_mode": "min"})  # fmt: skip
    summary = summarize(run, plugins.registry)
    assert summary.metrics["use-brightness"].best == 0.5
    assert summary.metrics["spread_std"].best is None
    builtin = fake_run(tmp_path, "zeta", "finished", 3, [
        {"step": 1, "fid": 80.0, "precision": 0.2, "recall": 0.5, "kid": 0.03, "kid_std": 0.01},
        {"step": 2, "fid": 60.0, "precision": 0.4, "recall": 0.3, "kid": 0.05, "kid_std": 0.02},
    ], metrics=[{"name": "fid"}, {"name": "precision-recall"}, {"name": "kid"}])  # fmt: skip
    bests = {k: v.best for k, v in summarize(builtin, plugins.registry).metrics.items()}
    assert bests == {"fid": 60.0, "precision": 0.4, "recall": 0.5, "kid": 0.03, "kid_std": None}
    unknown = fake_run(tmp_path, "eps", "finished", 3, [{"step": 1, "other": 2.0}], metrics=[{"name": "not-installed"}])
    assert summarize(unknown, plugins.registry).metrics["other"].best is None


def test_training_state_logged_with_the_losses_is_no_metric(tmp_path: Path, plugins: Plugins) -> None:
    """ADA's p and scheduled learning rates are logged beside the losses; the table's metric
    columns are the metric evaluations, so p is neither shown nor given fid's direction."""
    run = fake_run(tmp_path, "ada", "finished", 4, [
        {"step": 2, "epoch": 0, "loss/d": 0.5, "loss/g": 0.7, "augment/p": 0.1, "lr/generator": 0.002},
        {"step": 2, "epoch": 0, "fid": 80.0},
        {"step": 4, "epoch": 0, "loss/d": 0.4, "loss/g": 0.8, "augment/p": 0.2, "lr/generator": 0.001},
        {"step": 4, "epoch": 0, "fid": 70.0},
    ], metrics=[{"name": "fid"}])  # fmt: skip
    metrics = summarize(run, plugins.registry).metrics
    assert list(metrics) == ["fid"] and (metrics["fid"].last, metrics["fid"].best) == (70.0, 70.0)


def test_table_sorted_by_a_metric(sweep: Path) -> None:
    result = invoke("runs", str(sweep), "--sort", "use-brightness")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["run", "name", "model", "loss", "steps", "status", "use-brightness", "last/best"]
    rows = [line.split() for line in lines[1:]]
    assert [r[1] for r in rows] == ["alpha", "beta", "gamma"]  # best 0.6, then 0.5, then none
    assert rows[0] == ["alpha/20250101-000000", "alpha", "dcgan", "lsgan", "100/100", "finished", "0.4", "/", "0.6"]
    assert rows[1][4:] == ["40/100", "interrupted", "0.5", "/", "0.5"]
    assert rows[2][5] == "diverged"


def test_json_and_errors(sweep: Path, tmp_path: Path) -> None:
    entries = json.loads(invoke("runs", str(sweep), "--json").stdout)
    assert {e["name"]: e["status"] for e in entries} == {"alpha": "finished", "beta": "interrupted", "gamma": "diverged"}
    alpha = next(e for e in entries if e["name"] == "alpha")
    assert alpha["metrics"] == {"use-brightness": {"last": 0.4, "best": 0.6, "higher_is_better": True}}
    assert (alpha["step"], alpha["total_steps"], alpha["loss"]) == (100, 100, "lsgan")
    wrong = invoke("runs", str(sweep), "--sort", "use-brightnes")
    assert wrong.exit_code == 2
    assert "no run logged 'use-brightnes' (did you mean 'use-brightness'?); metrics logged: use-brightness" in wrong.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no runs under" in invoke("runs", str(empty)).stdout
    missing = invoke("runs", str(tmp_path / "nowhere"))
    assert missing.exit_code == 2 and "is not a directory" in missing.stderr
    assert "Examples:" in invoke("runs", "--help").stdout


def test_a_real_run(tmp_path: Path) -> None:
    run = train_conditional(tmp_path)
    result = invoke("runs", str(tmp_path))
    row = result.stdout.splitlines()[1].split()
    assert row[:6] == ["cond", "cond", "use-tiny-cond/use-tiny-disc", "lsgan", "4/4", "finished"]
    values = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    brightness = [v["use-brightness"] for v in values if "use-brightness" in v]
    assert row[6:] == [f"{brightness[-1]:.4g}", "/", f"{max(brightness):.4g}"]
