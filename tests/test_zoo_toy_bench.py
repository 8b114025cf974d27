"""bench/toy.py: each run is the method's spec with the papers' protocol, and the table is the
mean ± std over seeds; one tiny end-to-end run under -m slow."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("bench_toy", ROOT / "bench" / "toy.py")
assert _spec is not None and _spec.loader is not None
toy = importlib.util.module_from_spec(_spec)
sys.modules["bench_toy"] = toy
_spec.loader.exec_module(toy)


def test_the_default_rows_are_the_issue_methods() -> None:
    assert list(toy.METHODS) == ["bce", "wgan-gp", "pacgan2", "pacgan4", "r3gan"]
    assert all(m.spec.is_file() for m in toy.METHODS.values())
    assert "discriminator.pack=4" in toy.METHODS["pacgan4"].overrides


def test_a_run_is_the_spec_with_the_protocol_seed_dataset_and_length(tmp_path: Path) -> None:
    run = toy.Run(toy.METHODS["pacgan4"], "grid", 2)
    args = toy.command(run, 300, tmp_path / "out")
    sets = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
    assert args[1:5] == ["-m", "ganforge", "run", str(toy.METHODS["pacgan4"].spec)]
    assert {"seed=2", "data.name=grid", "train.steps=300", "device=cpu", "discriminator.pack=4"} <= set(sets)
    assert "metrics=[{name: mode-coverage, every: 300, num_samples: 2500, sigmas: 3.0, min_samples: 1}]" in sets
    default = toy.command(toy.Run(toy.METHODS["bce"], "ring", 0), None, tmp_path / "out")
    assert "metrics=[{name: mode-coverage, every: 20000, num_samples: 2500, sigmas: 3.0, min_samples: 1}]" in default  # the spec's own length


def test_the_table_gives_mean_and_sample_std_over_seeds() -> None:
    method = toy.METHODS["bce"]
    runs = [toy.Run(method, "ring", s, {"modes": m, "high_quality": q, "mode_kl": k}) for s, (m, q, k) in enumerate([(8, 0.5, 0.1), (6, 0.7, 0.3)])]
    runs.append(toy.Run(method, "ring", 2, error="diverged"))
    lines = toy.table(runs, ["ring"], [method]).splitlines()
    assert lines[0] == "| method | ring: modes (of 8) | ring: high quality % | ring: reverse KL |"
    assert lines[2] == "| `bce` (GAN, non-saturating) | 7.0 ± 1.4 (1 failed) | 60.0 ± 14.1 | 0.200 ± 0.141 |"


@pytest.mark.slow
def test_a_tiny_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "toy.py"), "--datasets", "ring", "--methods", "pacgan2", "--seeds", "2", "--steps", "20", "--out", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "| `pacgan` m = 2, `bce` |" in result.stdout
    assert "2 runs (2 seeds, 20 steps, 2 at a time, one thread each)" in result.stdout
