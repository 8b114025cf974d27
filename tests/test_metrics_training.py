"""Metrics inside a training run (metrics.jsonl, best.pt) and `ganforge eval` on its directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import invoke


@pytest.fixture
def trained_run(tiny_spec, tmp_path, classifier_file, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    metric = f"{{name: fid, every: 3, samples: 20, reference_samples: 40, extractor: {{name: classifier, weights: {classifier_file}}}}}"
    out = tmp_path / "run"
    result = invoke("run", str(tiny_spec), "--out", str(out), "--quiet", "--set", f"metrics=[{metric}]")
    assert result.exit_code == 0, result.output
    return out


def test_fid_is_logged_during_training_and_selects_best(trained_run) -> None:
    records = [json.loads(line) for line in (trained_run / "metrics.jsonl").read_text().splitlines()]
    fid_steps = [r["step"] for r in records if "fid" in r]
    assert fid_steps == [3, 6] and all(r["fid"] > 0 for r in records if "fid" in r)
    assert (trained_run / "checkpoints" / "best.pt").is_file()
    assert len(list((trained_run.parent / "cache" / "stats").glob("*.npz"))) == 1  # reference computed once


def test_eval_recomputes_the_runs_metrics_and_named_ones(trained_run, classifier_file) -> None:
    records = [json.loads(line) for line in (trained_run / "metrics.jsonl").read_text().splitlines()]
    last_fid = [r["fid"] for r in records if "fid" in r][-1]
    result = invoke("eval", str(trained_run), "--checkpoint", "last", "--json")
    assert result.exit_code == 0, result.output
    values = json.loads(result.output.strip().splitlines()[-1])
    assert values["step"] == 6 and values["fid"] == pytest.approx(last_fid, rel=1e-9)  # same seed, same samples

    extractor = f"{{name: classifier, weights: {classifier_file}}}"
    named = invoke("eval", str(trained_run), "--metric", f"{{name: kid, samples: 20, subsets: 3, subset_size: 10, extractor: {extractor}}}")
    assert named.exit_code == 0, named.output
    assert "kid: " in named.output and "kid_std: " in named.output


def test_eval_reports_progress_of_long_phases_on_stderr(trained_run, monkeypatch) -> None:
    import ganforge.training.progress

    monkeypatch.setattr(ganforge.training.progress, "EVALUATION_REPORT_SECONDS", 0.0)  # every phase counts as long
    result = invoke("eval", str(trained_run), "--json")
    assert result.exit_code == 0, result.output
    assert "fid: generated: 20/20 samples" in result.stderr  # the reference statistics are cached: no real phase
    json.loads(result.stdout)  # stdout stays one JSON object


def test_provenance_is_stored_once_per_configuration_and_shown(trained_run, classifier_file) -> None:
    stored = json.loads((trained_run / "provenance.json").read_text())
    assert list(stored) == ["fid"] and len(stored["fid"]) == 1  # evaluated at steps 3 and 6, stored once
    entry = stored["fid"][0]
    assert entry["from_step"] == 3 and entry["values"] == ["fid"] and entry["samples"] == 20
    assert entry["extractor"]["key"].startswith("classifier") and entry["extractor"]["layers"]
    assert entry["reference"]["samples"] == 40 and entry["reference"]["split"] == "train" and entry["reference"]["dataset"]
    assert entry["statistics"] == "float64" and entry["generator_weights"] in ("ema", "raw") and entry["truncation"] is None
    assert entry["ganforge_version"] and entry["route"] == ["low-rank"]  # 20 and 40 samples < 768 dimensions
    assert not any("provenance" in line for line in (trained_run / "metrics.jsonl").read_text().splitlines())

    shown = json.loads(invoke("eval", str(trained_run), "--json").output.strip().splitlines()[-1])
    assert shown["provenance"]["fid"]["extractor"] == entry["extractor"]
    lines = invoke("eval", str(trained_run)).output
    assert "provenance of fid: extractor classifier" in lines and "40 samples" in lines

    runs = json.loads(invoke("runs", str(trained_run.parent), "--json").output)
    assert runs[0]["provenance"] == stored


def test_runs_sort_flags_scores_with_different_provenance(tiny_spec, tmp_path, classifier_file, monkeypatch) -> None:
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    extractor = f"{{name: classifier, weights: {classifier_file}}}"
    for name, reference in (("a", 40), ("b", 40), ("c", 30)):
        metric = f"{{name: fid, every: 3, samples: 20, reference_samples: {reference}, extractor: {extractor}}}"
        result = invoke("run", str(tiny_spec), "--out", str(tmp_path / "runs" / name), "--quiet", "--set", "train.steps=3", "--set", f"metrics=[{metric}]")
        assert result.exit_code == 0, result.output
    rows = json.loads(invoke("runs", str(tmp_path / "runs"), "--sort", "fid", "--json").output)
    first = rows[0]["provenance"]["fid"][0]["reference"]["samples"]
    flagged = {Path(r["path"]).name for r in rows if r["provenance_differs"]}
    assert flagged == ({"c"} if first == 40 else {"a", "b"})
    table = invoke("runs", str(tmp_path / "runs"), "--sort", "fid").output
    assert "not comparable" in table
    assert "not comparable" not in invoke("runs", str(tmp_path / "runs")).output  # only when sorting compares them
