"""Ranges in type hints (ganforge.types): checked by the spec resolver, shown by `ganforge list --params`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pytest

from ganforge import Loss, hookimpl
from ganforge.plugins import Plugins
from ganforge.spec.settings import TrainConfig
from ganforge.spec.signature import describe_hint, signature_of
from ganforge.spec.types import type_error
from ganforge.types import NonNegativeInt, OpenUnitInterval, PositiveFloat, PositiveInt, Probability, Range, range_of

from .conftest import TINY_SPEC, invoke


def test_range_contains_and_describes_its_bounds() -> None:
    assert Range(min=1).describe() == ">= 1" and Range(min=0, min_exclusive=True).describe() == "> 0"
    assert Range(max=10, max_exclusive=True).describe() == "< 10"
    assert Range(0, 0.5, max_exclusive=True).describe() == "in [0, 0.5)"
    assert Range(min=1).contains(1) and not Range(min=1).contains(0)
    assert not Range(min=0, min_exclusive=True).contains(0.0) and Range(min=0, min_exclusive=True).contains(1e-9)
    assert not Range(min=0).contains(float("inf")) and not Range(min=0).contains(float("nan"))
    assert range_of(PositiveInt) == Range(min=1) and range_of(int) is None


@pytest.mark.parametrize(
    ("hint", "shown"),
    [
        (PositiveInt, "int >= 1"),
        (NonNegativeInt | None, "int >= 0 | null"),
        (PositiveFloat, "float > 0"),
        (Probability, "float in [0, 1]"),
        (OpenUnitInterval, "float in (0, 1)"),
        (tuple[PositiveInt, ...], "tuple[int >= 1, ...]"),
        (Annotated[int, "not a range"], "int"),
    ],
)
def test_hints_are_described_with_their_ranges(hint: object, shown: str) -> None:
    assert describe_hint(hint) == shown


@pytest.mark.parametrize(
    ("value", "hint", "fits"),
    [
        (1, PositiveInt, True), (0, PositiveInt, False), (-5, PositiveInt, False), (True, PositiveInt, False),
        (2.5, PositiveInt, False), (0.5, Probability, True), (1.5, Probability, False), (1, Probability, True),
        (None, PositiveInt | None, True), (0, PositiveInt | None, False), ((1, 2), tuple[PositiveInt, ...], True),
        ((1, 0), tuple[PositiveInt, ...], False), (float("nan"), float, False), (float("inf"), PositiveFloat, False),
    ],
)  # fmt: skip
def test_values_are_checked_against_ranges(value: object, hint: object, fits: bool) -> None:
    assert (type_error(value, hint) is None) == fits


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("value", ["big", "0", "-5", "12.5", "1e400", "[16]", "true"])
def test_data_batch_size_must_be_a_positive_int(tmp_path: Path, value: str) -> None:
    result = invoke("validate", str(write(tmp_path, TINY_SPEC)), "--set", f"data.batch_size={value}")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "data.batch_size: expected int >= 1, got" in lines[0], result.stderr
    assert "Traceback" not in result.output


def test_ranges_of_builtins_and_train_settings_are_errors_with_file_and_line(tmp_path: Path) -> None:
    text = TINY_SPEC.replace("latent_dim: 8", "latent_dim: 0").replace("ema: 0.9", "ema: 1.5").replace("{name: lsgan}", "{name: bce, label_noise: 0.7}")
    path = write(tmp_path, text)
    result = invoke("validate", str(path))
    assert result.exit_code == 2
    lines = sorted(line.removeprefix("Error: ") for line in result.stderr.strip().splitlines())
    assert lines == sorted([
        f"{path}:3: generator.latent_dim: expected int >= 1, got 0 (int) for generator 'dcgan' parameter 'latent_dim'",
        f"{path}:5: loss.label_noise: expected float in [0, 0.5), got 0.7 (float) for loss 'bce' parameter 'label_noise'",
        f"{path}:10: train.ema: expected float in (0, 1) | null, got 1.5 (float) for train parameter 'ema'",
    ]), result.stderr  # fmt: skip


def test_seed_range(tmp_path: Path) -> None:
    for value in ("-1", str(2**70)):
        result = invoke("validate", str(write(tmp_path, TINY_SPEC)), "--set", f"seed={value}")
        assert result.exit_code == 2 and "seed: expected int in [0, " in result.stderr


def test_list_params_shows_ranges() -> None:
    result = invoke("list", "generator", "dcgan", "--params", "--json")
    params = {p["name"]: p["type"] for p in json.loads(result.stdout)[0]["params"]}
    assert params["latent_dim"] == "int >= 1" and params["num_classes"] == "int >= 0 | null"


def test_train_config_fields_carry_ranges() -> None:
    shown = {p.name: p.describe_type() for p in signature_of(TrainConfig).params}
    assert shown["epochs"] == "int >= 1" and shown["steps"] == "int >= 0 | null" and shown["ema"] == "float in (0, 1) | null"


def test_a_third_party_constructor_declares_a_range(tmp_path: Path, plugins: Plugins) -> None:
    class Scaled(Loss):
        """A loss with a bounded scale.

        scale: in (0, 10].
        """

        def __init__(self, scale: Annotated[float, Range(min=0, max=10, min_exclusive=True)] = 1.0) -> None:
            self.scale = scale

    class Plugin:
        __name__ = "scaled-plugin"

        @hookimpl
        def register_losses(self, register):  # type: ignore[no-untyped-def]
            register("scaled", Scaled)

    plugins.register(Plugin(), "scaled-plugin")
    result = invoke("validate", str(write(tmp_path, TINY_SPEC.replace("{name: lsgan}", "{name: scaled, scale: 11}"))))
    assert result.exit_code == 2 and "loss.scale: expected float in (0, 10], got 11 (int)" in result.stderr
