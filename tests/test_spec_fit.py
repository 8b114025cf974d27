"""The rules between components (a discriminator's packs, a term that trains a discriminator the
spec leaves out, a metric that cannot measure the generator) are the resolver's: found from the
registered classes and resolved parameters, all at once, before any component is built."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from torch import Tensor

from ganforge import Discriminator, EvalContext, Generator, Metric, MetricSubject, hookimpl
from ganforge.plugins import Plugins
from ganforge.spec import load_spec
from ganforge.spec.resolve import SpecErrors, resolve

from .conftest import invoke


class Counted:
    """Counts constructions and refuses every one: a spec that reaches it was built."""

    built: ClassVar[list[str]] = []

    def __init__(self) -> None:
        Counted.built.append(type(self).__name__)
        raise RuntimeError("built")


class Unbuildable(Counted, Generator):
    """A generator that must never be built by validation.

    Args:
        num_classes: classes, or null when unconditional.
    """

    def __init__(self, num_classes: int | None = None) -> None:
        super().__init__()


class UnbuildablePacker(Counted, Discriminator):
    """A discriminator packing four samples per score that must never be built by validation.

    Args:
        pack: samples per score.
    """

    def __init__(self, pack: int = 4) -> None:
        super().__init__()


class Wrapper(Generator):
    """A generator wrapping another one: its classes are the inner generator's.

    Args:
        generator: the wrapped generator.
    """

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        self.generator = generator
        self.num_classes = generator.num_classes

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.generator(z, labels)


class LabelledData(Metric):
    """Needs the spec's data to be labelled."""

    @classmethod
    def check(cls, subject: MetricSubject) -> str | None:
        return None if subject.data.get("num_classes") else f"needs labelled data; {subject.data['name']} has num_classes 0"

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        return {"labelled": 1.0}


class OldStyleCheck(Metric):
    """Overrides check as an instance method of built objects (the contract before the resolver asked it)."""

    def check(self, generator: Any, dataset: Any) -> str | None:  # type: ignore[override]
        return None

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        return {"x": 1.0}


class BoolCheck(Metric):
    """Answers its check with a bool by mistake."""

    @classmethod
    def check(cls, subject: MetricSubject) -> str | None:
        return bool(subject.num_classes)  # type: ignore[return-value]

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        return {"x": 1.0}


class Plugin:
    @hookimpl
    def register_generators(self, register: Any) -> None:
        register("unbuildable", Unbuildable)
        register("wrapper", Wrapper)

    @hookimpl
    def register_discriminators(self, register: Any) -> None:
        register("unbuildable-packer", UnbuildablePacker)

    @hookimpl
    def register_metrics(self, register: Any) -> None:
        register("labelled-data", LabelledData)
        register("old-style-check", OldStyleCheck)
        register("bool-check", BoolCheck)


@pytest.fixture(autouse=True)
def components(plugins: Plugins) -> Plugins:
    plugins.register(Plugin(), "fit-test")
    Counted.built.clear()
    return plugins


SPEC = """\
seed: 0
device: cpu
generator: {name: unbuildable}
discriminator: {name: pacgan, pack: 4, discriminator: {name: unbuildable-packer, pack: 1}}
loss: {name: lsgan}
data: {name: synthetic, size: 64, batch_size: 30}
metrics:
  - {name: accuracy, every: 2}
  - {name: elbo, every: 2}
  - {name: labelled-data, every: 2}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def messages(path: Path, registry: Any) -> list[str]:
    with pytest.raises(SpecErrors) as excinfo:
        resolve(load_spec(path), registry)
    return [str(e) for e in excinfo.value.errors]


def test_every_fit_problem_is_found_at_once_and_nothing_is_built(tmp_path: Path, components: Plugins) -> None:
    path = write(tmp_path, SPEC)
    expected = [
        f"{path}:6: data.batch_size: 30 samples do not split into packs of 4 for discriminator 'pacgan' (plugin networks); use a multiple of 4",
        f"{path}:8: metrics.0: metric 'accuracy' (plugin metrics) needs a conditional generator (one with num_classes); this one is unconditional",
        f"{path}:9: metrics.1: metric 'elbo' (plugin vae) needs a generator with an encoder (one that reads 'real', e.g. vae); Unbuildable has none",
        f"{path}:10: metrics.2: metric 'labelled-data' (plugin fit-test) needs labelled data; synthetic has num_classes 0",
    ]
    assert messages(path, components.registry) == expected
    result = invoke("validate", str(path))
    assert result.exit_code == 2 and result.stderr.strip().splitlines() == [f"Error: {line}" for line in expected]
    assert Counted.built == []  # neither resolve nor validate reached a constructor


def test_the_fit_follows_the_resolved_parameters(tmp_path: Path, components: Plugins) -> None:
    """Conditional generator, labelled data, a batch of whole packs: nothing to report, and
    `run` goes on to build (and meets the generator that refuses to be built)."""
    spec = SPEC.replace("{name: unbuildable}", "{name: unbuildable, num_classes: 10}").replace("batch_size: 30", "batch_size: 32, num_classes: 10")
    path = write(tmp_path, spec.replace("  - {name: elbo, every: 2}\n", ""))
    resolve(load_spec(path), components.registry)
    assert Counted.built == []
    result = invoke("run", str(path), "--out", str(tmp_path / "run"))
    assert result.exit_code == 2 and "generator 'unbuildable' (plugin fit-test) failed to build: RuntimeError: built" in result.output
    assert Counted.built == ["Unbuildable"]


def test_packs_of_micro_batches(tmp_path: Path, components: Plugins) -> None:
    path = write(tmp_path, SPEC.replace("batch_size: 30", "batch_size: 24").replace("metrics:", "train: {accumulate: 4}\nmetrics:"))
    assert (
        f"{path}:6: data.batch_size: 24 samples (micro-batches of 6 with train.accumulate=4) do not split into packs of 4 "
        "for discriminator 'pacgan' (plugin networks); use a multiple of 16"
    ) in messages(path, components.registry)


def test_terms_that_train_a_missing_discriminator_are_found_before_building(tmp_path: Path, components: Plugins) -> None:
    spec = SPEC.replace("discriminator: {name: pacgan, pack: 4, discriminator: {name: unbuildable-packer, pack: 1}}", "discriminator: null")
    path = write(tmp_path, spec.replace("metrics:", "penalties:\n  - {name: r1}\n  - {name: mode-seeking}\nmetrics:"))
    found = messages(path, components.registry)
    assert f"{path}:5: loss: loss 'lsgan' (plugin losses) trains the discriminator, and the spec has discriminator: null; add a discriminator or drop the term" in found
    assert any(line.startswith(f"{path}:8: penalties.0: loss 'r1' (plugin losses) trains the discriminator") for line in found)
    assert not any("penalties.1" in line for line in found)  # mode seeking is a generator term
    assert Counted.built == []


def test_a_wrapper_generator_is_as_conditional_as_the_one_it_wraps(tmp_path: Path, components: Plugins) -> None:
    base = SPEC.replace("  - {name: elbo, every: 2}\n  - {name: labelled-data, every: 2}\n", "").replace("batch_size: 30", "batch_size: 32")
    conditional = write(tmp_path, base.replace("{name: unbuildable}", "{name: wrapper, generator: {name: unbuildable, num_classes: 10}}"))
    resolve(load_spec(conditional), components.registry)
    unconditional = write(tmp_path, base.replace("{name: unbuildable}", "{name: wrapper, generator: {name: unbuildable}}"))
    assert messages(unconditional, components.registry) == [
        f"{unconditional}:8: metrics.0: metric 'accuracy' (plugin metrics) needs a conditional generator (one with num_classes); this one is unconditional"
    ]


def test_a_metric_whose_check_needs_built_objects_is_the_plugins_error(tmp_path: Path, components: Plugins) -> None:
    path = write(tmp_path, SPEC.replace("batch_size: 30", "batch_size: 32").split("metrics:")[0] + "metrics:\n  - {name: old-style-check, every: 2}\n")
    assert messages(path, components.registry) == [
        f"{path}:8: metrics.0: metric 'old-style-check' (plugin fit-test): check must be a classmethod, check(cls, subject: ganforge.MetricSubject), "
        "so it is decided before anything is built; fix the plugin"
    ]


def test_a_check_that_answers_a_bool_is_the_plugins_error(tmp_path: Path, components: Plugins) -> None:
    path = write(tmp_path, SPEC.replace("batch_size: 30", "batch_size: 32").split("metrics:")[0] + "metrics:\n  - {name: bool-check, every: 2}\n")
    assert messages(path, components.registry) == [
        f"{path}:8: metrics.0: metric 'bool-check' (plugin fit-test): check must return None or a reason (a non-empty str), got False; fix the plugin"
    ]
