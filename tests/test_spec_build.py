"""Registry.build: one component from a spec fragment, validated as a spec is (all problems,
did you mean, types, missing parameters, file:line), nested components with injected values,
and the callers routed through it (the CLI, metrics, the experiment builder)."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from ganforge import Dataset, Discriminator, hookimpl
from ganforge.experiment import build_experiment
from ganforge.plugins import Plugins
from ganforge.spec import build_component, parse_spec
from ganforge.spec.resolve import SpecErrors
from ganforge_builtins.networks.dcgan import DCGANDiscriminator

from .conftest import TINY_SPEC, invoke


class Wrapped(Discriminator):
    """A discriminator that averages another's scores with a learnt offset.

    Args:
        inner: the discriminator it wraps (built from its own spec entry).
        image_shape: the images' shape, from the dataset.
        offset: added to every score.
    """

    def __init__(self, inner: Discriminator, image_shape: tuple[int, int, int], offset: float = 0.0) -> None:
        super().__init__()
        self.inner, self.image_shape, self.offset = inner, tuple(image_shape), offset
        self.num_classes = inner.num_classes

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.inner(images, labels) + self.offset


class NeedsRoot(Dataset):
    """A dataset that needs a folder.

    Args:
        root: the folder.
        size: how many images.
    """

    def __init__(self, root: str, size: int = 4) -> None:
        self.root, self.size = root, size
        self.image_shape, self.class_names = (1, 4, 4), ()


class WrapperPlugin:
    __name__ = "wrapper-plugin"

    @hookimpl
    def register_discriminators(self, register):
        register("wrapped", Wrapped, aliases=("old-wrapped",))

    @hookimpl
    def register_datasets(self, register):
        register("needs-root", NeedsRoot)


@pytest.fixture
def registry(plugins: Plugins):
    plugins.register(WrapperPlugin(), "wrapper-plugin")
    yield plugins.registry
    plugins.unregister("wrapper-plugin")


def test_builds_with_defaults_and_injected_values(registry) -> None:
    disc = build_component(registry, "discriminator", {"name": "dcgan", "width": 8}, image_shape=(1, 28, 28))
    assert isinstance(disc, DCGANDiscriminator) and disc.image_shape == (1, 28, 28)
    assert isinstance(build_component(registry, "loss", "lsgan"), type(registry.get("loss", "lsgan").factory()))


def test_nested_components_get_injected_values_too(registry) -> None:
    disc = build_component(registry, "discriminator", {"name": "wrapped", "offset": 0.5, "inner": {"name": "dcgan", "width": 8}}, image_shape=(1, 28, 28))
    assert isinstance(disc, Wrapped) and isinstance(disc.inner, DCGANDiscriminator)
    assert disc.inner.image_shape == (1, 28, 28) and disc.offset == 0.5
    assert build_component(registry, "discriminator", {"name": "wrapped", "inner": "dcgan"}, image_shape=(1, 28, 28)).inner.image_shape == (1, 28, 28)


def test_every_problem_at_once_with_did_you_mean(registry) -> None:
    with pytest.raises(SpecErrors) as caught:
        build_component(registry, "discriminator", {"name": "wrapped", "ofset": 1, "inner": {"name": "dcgan", "widht": 8, "dropout": "lots"}})
    lines = str(caught.value).splitlines()
    assert len(lines) == 3, lines
    assert "spec: ofset: unknown parameter 'ofset' for discriminator 'wrapped' (did you mean 'offset'?)" in lines[0]
    assert any("inner.widht: unknown parameter 'widht' for discriminator 'dcgan' (did you mean 'width'?)" in line for line in lines)
    assert any("inner.dropout: expected float in [0, 1), got 'lots' (str)" in line or "inner.dropout: expected float" in line for line in lines)
    assert not any("image_shape" in line for line in lines)  # injected names are never reported missing


def test_missing_required_parameter_and_unknown_name(registry) -> None:
    with pytest.raises(SpecErrors, match=r"missing required parameter 'root' for dataset 'needs-root' \(str\)"):
        build_component(registry, "dataset", "needs-root")
    with pytest.raises(SpecErrors, match=r"unknown discriminator 'wraped' \(did you mean 'wrapped'\?\)"):
        build_component(registry, "discriminator", {"name": "wraped"})
    with pytest.raises(SpecErrors, match=r"unknown discriminator 'fancy'"):
        build_component(registry, "discriminator", {"name": "wrapped", "inner": "fancy"})


def test_errors_name_the_file_and_line_of_a_loaded_spec(registry, tmp_path) -> None:
    text = "discriminator:\n  name: wrapped\n  inner:\n    name: dcgan\n    width: wide\n"
    spec = parse_spec(text, tmp_path / "wrap.yaml")
    with pytest.raises(SpecErrors) as caught:
        build_component(registry, "discriminator", spec.data["discriminator"], spec=spec, key=("discriminator",), image_shape=(1, 28, 28))
    assert str(caught.value) == f"{tmp_path / 'wrap.yaml'}:5: discriminator.inner.width: expected int >= 1, got 'wide' (str) for discriminator 'dcgan' parameter 'width'"


def test_constructor_errors_are_located(registry, tmp_path) -> None:
    # each value in range, the combination refused by the constructor: no code at all
    spec = parse_spec("generator:\n  name: infogan\n  categorical: []\n  continuous: 0\n", tmp_path / "info.yaml")
    with pytest.raises(Exception, match=r"info\.yaml:1: generator: generator 'infogan' \(plugin networks\) rejected its parameters: InfoGAN needs at least one latent code"):
        build_component(registry, "generator", spec.data["generator"], spec=spec, key=("generator",), image_shape=(1, 28, 28))


def test_section_reserved_keys_are_skipped(registry) -> None:
    dataset = build_component(registry, "dataset", {"name": "synthetic", "size": 8, "batch_size": 4}, key=("data",))
    assert len(dataset.load("train")) == 8
    with pytest.raises(SpecErrors, match="unknown parameter 'batch_size'"):
        build_component(registry, "dataset", {"name": "synthetic", "batch_size": 4})


def test_aliases_build_the_renamed_component(registry) -> None:
    disc = build_component(registry, "discriminator", {"name": "old-wrapped", "inner": {"name": "dcgan", "width": 8}}, image_shape=(1, 28, 28))
    assert isinstance(disc, Wrapped)


def test_the_experiment_builder_injects_image_shape_into_nested_components(registry, tmp_path) -> None:
    text = TINY_SPEC.replace("discriminator: {name: dcgan, width: 8}", "discriminator: {name: wrapped, offset: 0.1, inner: {name: dcgan, width: 8}}")
    experiment = build_experiment(parse_spec(text, tmp_path / "tiny.yaml"), registry)
    assert experiment.discriminator.inner.image_shape == tuple(experiment.dataset.image_shape)
    assert {role: info.name for role, info in experiment.components.items()}["discriminator.inner"] == "dcgan"
    scores = experiment.discriminator(torch.zeros(2, *experiment.dataset.image_shape))
    assert scores.shape == (2,)


def test_the_cli_validates_component_options(registry, tmp_path) -> None:
    result = invoke("stats", "{name: synthetic, sise: 8}", "--out", str(tmp_path / "s.npz"))
    assert result.exit_code == 2
    assert "dataset '{name: synthetic, sise: 8}': sise: unknown parameter 'sise' for dataset 'synthetic' (did you mean 'size'?)" in result.stderr


def test_metrics_build_extractors_validated(registry) -> None:
    from ganforge_builtins.metrics.standard import build_extractor

    with pytest.raises(SpecErrors, match=r"unknown parameter 'wieghts' for extractor 'classifier' \(did you mean 'weights'\?\)"):
        build_extractor("classifier", wieghts="clf.pt")
