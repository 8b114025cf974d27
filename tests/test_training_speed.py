"""No silent slowdowns: bf16 on a CPU without native bf16 is said, with both step times,
in the run's first lines and by ``validate --steps``. Timings are injected, so the tests do
not depend on this machine's CPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganforge.testing import TinyDiscriminator, TinyGenerator
from ganforge.training import speed

from .conftest import invoke


def injected(fp32: float, bf16: float):  # type: ignore[no-untyped-def]
    def time_step(generator, discriminator, device, dtype, batch=speed.PROBE_BATCH):  # type: ignore[no-untyped-def]
        return bf16 if dtype == torch.bfloat16 else fp32

    return time_step


def test_a_slow_bf16_is_said_in_the_runs_first_lines_and_by_validate(tiny_spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speed, "time_step", injected(0.205, 3.580))  # bench/overhead.py's figures on an AVX2-only CPU
    expected = (
        "Warning: train.precision: bf16 is 17.5x slower than fp32 here (a step of this run's networks on 8 samples takes "
        "3,580 ms in bf16 and 205 ms in fp32 on this cpu): this CPU has no native bf16; use train.precision: fp32"
    )
    run = invoke("run", str(tiny_spec), "--out", str(tmp_path / "run"), "--quiet", "--set", "train.steps=1", "--set", "train.precision=bf16")
    assert run.exit_code == 0, run.output
    assert run.stderr.splitlines()[2] == expected, run.stderr  # after the components and the run directory
    validated = invoke("validate", str(tiny_spec), "--steps", "1", "--set", "train.precision=bf16")
    assert validated.exit_code == 0 and validated.stdout.splitlines()[2] == expected, validated.stdout  # after OK and the data's size
    fp32 = invoke("validate", str(tiny_spec), "--steps", "1")
    assert "train.precision" not in fp32.stdout and len(fp32.stdout.splitlines()) == 3  # OK, the data's size, the step: nothing timed, nothing said, for fp32


def test_a_fast_bf16_is_a_plain_line() -> None:
    timing = speed.PrecisionTiming(fp32_ms=100.0, bf16_ms=60.0, batch=8)
    assert timing.message(torch.device("cpu")) == (
        "train.precision: bf16 (a step of this run's networks on 8 samples takes 60 ms in bf16 and 100 ms in fp32 on this cpu)"
    )


def test_timing_a_step_leaves_the_networks_and_the_random_state_alone() -> None:
    torch.manual_seed(0)
    generator, discriminator = TinyGenerator((1, 8, 8), num_classes=3), TinyDiscriminator((1, 8, 8), num_classes=3)
    before = {k: v.clone() for k, v in [*generator.state_dict().items(), *discriminator.state_dict().items()]}
    rng = torch.random.get_rng_state()
    timing = speed.bf16_timing(generator, discriminator, torch.device("cpu"))
    assert timing is not None and timing.fp32_ms > 0 and timing.bf16_ms > 0
    assert torch.equal(torch.random.get_rng_state(), rng)
    after = {k: v for k, v in [*generator.state_dict().items(), *discriminator.state_dict().items()]}
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in [*generator.parameters(), *discriminator.parameters()])
