"""What the commands that take a component on the command line share: building an
extractor or a dataset from a name or a YAML mapping, validated as a spec is, and the
options for an extractor's weights, batch size and device."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml

from ganforge.errors import GanforgeError, SpecError
from ganforge.interfaces.dataset import Dataset
from ganforge.interfaces.extractor import FeatureExtractor
from ganforge.plugins import get_plugins
from ganforge.spec import build_component
from ganforge.spec.resolve import SpecErrors

extractor_option = click.option(
    "--extractor",
    default="inception-v3",
    show_default=True,
    help="Extractor name, or a YAML mapping with its parameters, e.g. '{name: classifier, weights: clf.pt}' (see `ganforge list extractor --params`).",
)
weights_option = click.option(
    "--weights",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="The extractor's weights file (or a folder holding it): the same as `weights:` in --extractor's mapping. "
    "Default: the file in the folder $GANFORGE_WEIGHTS, then in the library's cache.",
)
device_option = click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
batch_size_option = click.option("--batch-size", default=50, show_default=True, type=click.IntRange(min=1), help="Images per batch.")


def component_from_text(kind: str, text: str) -> Any:
    """A registered component from the command line: a name, or a YAML mapping
    ``{name: ..., param: value}`` as in a spec, validated as a spec is (one line per problem)."""
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError:
        parsed = text
    fragment = parsed if isinstance(parsed, dict) else {"name": text}
    if not isinstance(fragment.get("name"), str):
        raise GanforgeError(f"{kind} {text!r}: give a name or a mapping with 'name'")
    try:
        return build_component(get_plugins().registry, kind, fragment)
    except SpecErrors as exc:
        raise GanforgeError("\n".join(f"{kind} {text!r}: {_located(e)}" for e in exc.errors)) from None
    except SpecError as exc:
        raise GanforgeError(f"{kind} {text!r}: {_located(exc)}") from None


def _located(error: SpecError) -> str:
    return f"{error.field}: {error.message}" if error.field else error.message


def build_extractor(text: str) -> FeatureExtractor:
    """An extractor from ``--extractor``."""
    extractor: FeatureExtractor = component_from_text("extractor", text)
    return extractor


def extractor_from(text: str, weights: Path | None = None) -> FeatureExtractor:
    """An extractor from ``--extractor`` and ``--weights`` (which fills its ``weights`` parameter)."""
    if weights is None:
        return build_extractor(text)
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError:
        parsed = text
    params = dict(parsed) if isinstance(parsed, dict) else {"name": text}
    if "weights" in params:
        raise GanforgeError("give the weights file once: --weights or `weights:` in --extractor, not both")
    params["weights"] = str(weights)
    return build_extractor(yaml.safe_dump(params, default_flow_style=True))


def build_dataset(text: str) -> Dataset:
    """A dataset from a command argument, e.g. ``fashion-mnist`` or ``'{name: synthetic, num_classes: 10}'``."""
    dataset: Dataset = component_from_text("dataset", text)
    return dataset
