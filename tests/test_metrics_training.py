"""Metrics inside a training run (metrics.jsonl, best.pt) and `ganforge eval` on its directory."""

from __future__ import annotations

import json

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
