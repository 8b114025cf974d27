"""Spec loading and validation: every error kind is one line with file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ganforge.experiment import build_experiment
from ganforge.plugins import Plugins
from ganforge.spec import apply_overrides, load_spec, parse_spec
from ganforge.spec.resolve import SpecErrors, resolve

from .conftest import TINY_SPEC, invoke


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        ("{name: dcgan, latent_dim: 8, width: 8}", "{name: dcgan, latent_dim: 8, widht: 8}", "generator:",
         "generator.widht: unknown parameter 'widht' for generator 'dcgan' (did you mean 'width'?); see `ganforge list generator dcgan --params`"),
        ("{name: dcgan, width: 8}", "{name: dcgan, width: eight}", "discriminator:",
         "discriminator.width: expected int >= 1, got 'eight' (str) for discriminator 'dcgan' parameter 'width'"),
        ("{name: lsgan}", "{name: lsgna}", "loss:",
         "loss.name: unknown loss 'lsgna' (did you mean 'lsgan'?); see `ganforge list loss`"),
        ("train: {steps: 6", "trian: {steps: 6", "trian:", "trian: unknown section 'trian' (did you mean 'train'?)"),
        ("{name: Adam, lr: 2.0e-4, betas: [0.5, 0.999]}\n  discriminator", "{name: Adma, lr: 2.0e-4}\n  discriminator",
         "Adma", "optimizers.generator.name: unknown optimizer 'Adma' (did you mean 'Adam'?); any torch.optim class works"),
        ("{steps: 6, log_every: 2", "{steps: 6, log_evry: 2", "train:", "train.log_evry: unknown parameter 'log_evry' for train (did you mean 'log_every'?)"),
        ("{steps: 6, log_every: 2", "{steps: 6.5, log_every: 2", "train:", "train.steps: expected int >= 0 | null, got 6.5 (float) for train parameter 'steps'"),
        ("{name: Adam, lr: 2.0e-4, betas: [0.5, 0.999]}\n  discriminator", "{name: Adam, lr: -1}\n  discriminator", "lr: -1",
         "optimizers.generator: optimizer Adam refuses these values: Invalid learning rate: -1"),
        ("{name: Adam, lr: 2.0e-4, betas: [0.5, 0.999]}\ntrain", "{name: Adam, betas: [2, 0.999]}\ntrain", "betas: [2",
         "optimizers.discriminator: optimizer Adam refuses these values: Invalid beta parameter at index 0: 2"),
    ],
)  # fmt: skip
def test_spec_errors_name_file_line_and_field(tmp_path: Path, old: str, new: str, needle: str, message: str) -> None:
    text = TINY_SPEC.replace(old, new, 1)
    assert text != TINY_SPEC
    path = write(tmp_path, text)
    result = invoke("validate", str(path))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: {path}:{line_of(text, needle)}: {message}"
    assert "Traceback" not in result.output


def test_missing_required_parameter(tmp_path: Path, plugins: Plugins) -> None:
    from ganforge import Loss, hookimpl

    class NeedsWeight(Loss):
        """Needs a weight."""

        def __init__(self, weight: float) -> None:
            self.weight = weight

    class Plugin:
        __name__ = "needs"

        @hookimpl
        def register_losses(self, register):
            register("needs-weight", NeedsWeight)

    plugins.register(Plugin(), "needs")
    text = TINY_SPEC.replace("{name: lsgan}", "{name: needs-weight}")
    path = write(tmp_path, text)
    result = invoke("validate", str(path))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: {path}:{line_of(text, 'loss:')}: loss: missing required parameter 'weight' for loss 'needs-weight' (float)"


def test_missing_section_and_several_errors_at_once(tmp_path: Path) -> None:
    text = TINY_SPEC.replace("loss: {name: lsgan}\n", "").replace("width: 8}\ndisc", "width: x}\ndisc")
    result = invoke("validate", str(write(tmp_path, text)))
    errors = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(errors) == 2
    assert "expected int >= 1, got 'x'" in errors[0]
    assert "missing required section 'loss:'" in errors[1]


def test_invalid_yaml_and_duplicate_keys(tmp_path: Path) -> None:
    result = invoke("validate", str(write(tmp_path, "generator: {name: dcgan\n")))
    assert result.exit_code == 2 and "invalid YAML" in result.stderr
    result = invoke("validate", str(write(tmp_path, TINY_SPEC + "seed: 3\n")))
    assert result.exit_code == 2 and f":{len(TINY_SPEC.splitlines()) + 1}: duplicate key 'seed'" in result.stderr


def test_constructor_value_error_is_a_spec_error(tmp_path: Path) -> None:
    text = TINY_SPEC.replace("size: 64,", "size: 64, image_size: 30,")
    result = invoke("validate", str(write(tmp_path, text)))
    assert result.exit_code == 2
    assert f":{line_of(text, 'generator:')}: generator: generator 'dcgan' (plugin networks) rejected its parameters" in result.stderr
    assert "30x30" in result.stderr


def test_debug_shows_traceback(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from ganforge.cli import cli
    from ganforge.errors import GanforgeError

    path = write(tmp_path, TINY_SPEC.replace("lsgan", "lsgna"))
    result = CliRunner().invoke(cli, ["validate", str(path), "--debug"])
    assert isinstance(result.exception, GanforgeError)


def test_set_overrides_are_validated_and_located(tmp_path: Path) -> None:
    path = write(tmp_path, TINY_SPEC)
    result = invoke("validate", str(path), "--set", "generator.width=wide")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: --set generator.width=wide: generator.width: expected int >= 1, got 'wide' (str) for generator 'dcgan' parameter 'width'"
    )
    spec = apply_overrides(load_spec(path), ["train.steps=3", "data.batch_size=8", "loss={name: lsgan, a: -1, c: 0}", "optimizers.generator.betas.0=0.0"])
    assert spec.data["train"]["steps"] == 3 and spec.data["data"]["batch_size"] == 8
    assert spec.data["loss"] == {"name": "lsgan", "a": -1, "c": 0}
    assert spec.data["optimizers"]["generator"]["betas"] == [0.0, 0.999]


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("generatr.width=3", "generatr: unknown section 'generatr' (did you mean 'generator'?)"),
        ("train..steps=3", "'train..steps' has an empty part; write the key as section.name (e.g. train.steps=3)"),
        ("penalties.0.weight=3", "'penalties' is not a list in the spec, so it has no item 0; set the whole list: --set 'penalties=[...]'"),
        ("train={steps: 0.5}", "train.steps: expected int >= 0 | null, got 0.5 (float) for train parameter 'steps'"),  # the file's train: line is gone
    ],
)  # fmt: skip
def test_set_problems_are_blamed_on_the_set(tmp_path: Path, assignment: str, message: str) -> None:
    result = invoke("validate", str(write(tmp_path, TINY_SPEC)), "--set", assignment)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: --set {assignment}: {message}"


def test_scientific_notation_is_a_float() -> None:
    assert parse_spec("lr: 1e-4\nx: 2E3\n").data == {"lr": 1e-4, "x": 2000.0}


def test_resolved_spec_has_every_default(tmp_path: Path, plugins: Plugins) -> None:
    resolved = resolve(load_spec(write(tmp_path, TINY_SPEC)), plugins.registry)
    assert resolved["loss"] == {"name": "lsgan", "a": 0.0, "b": 1.0, "c": 1.0, "every": 1, "start": 0, "stop": None}
    assert resolved["generator"]["init_from"] is None and resolved["augment"] is None
    assert resolved["data"]["num_classes"] == 0 and resolved["data"]["batch_size"] == 16
    assert resolved["train"]["d_steps"] == 1 and resolved["train"]["epochs"] == 1
    assert resolved["optimizers"]["generator"]["eps"] == 1e-8
    assert resolved["name"] == "spec" and resolved["device"] == "cpu"
    yaml.safe_dump(resolved)  # plain YAML only


def test_image_shape_is_injected_from_the_dataset(tmp_path: Path, plugins: Plugins) -> None:
    text = TINY_SPEC.replace("size: 64,", "size: 64, image_size: 32, channels: 3,")
    experiment = build_experiment(load_spec(write(tmp_path, text)), plugins.registry)
    assert experiment.generator.image_shape == (3, 32, 32)
    assert experiment.resolved["discriminator"]["image_shape"] == [3, 32, 32]


def test_errors_are_collected_not_first_only(tmp_path: Path, plugins: Plugins) -> None:
    text = TINY_SPEC.replace("width: 8}\ndisc", "widht: 8}\ndisc").replace("{name: lsgan}", "{name: lsgan, d: 1}")
    with pytest.raises(SpecErrors) as info:
        resolve(load_spec(write(tmp_path, text)), plugins.registry)
    assert [e.field for e in info.value.errors] == ["generator.widht", "loss.d"]
