"""Aliases: a renamed component keeps old specs, runs and checkpoints working; `ganforge list`
shows them; an alias that clashes with a name is reported like a duplicate name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ganforge import hookimpl
from ganforge.artifacts.loading import load_trained
from ganforge.experiment import build_experiment
from ganforge.plugins import Plugins
from ganforge.registry import DuplicateComponentError, Registry, UnknownComponentError
from ganforge.spec import parse_spec
from ganforge_builtins.losses.lsgan import LeastSquaresLoss

from .conftest import TINY_SPEC, invoke


class HalfLoss(LeastSquaresLoss):
    """Least squares, with a scale nobody uses (a test plugin's loss).

    Args:
        scale: stored only.
    """

    def __init__(self, scale: float = 0.5) -> None:
        super().__init__()
        self.scale = scale


class Renamed:
    """A plugin that renamed its loss 'half' to 'halved', keeping 'half' (and 'demi') as aliases."""

    __name__ = "renamed"

    @hookimpl
    def register_losses(self, register):
        register("halved", HalfLoss, aliases=("half", "demi"))


def test_aliases_resolve_to_the_registered_name() -> None:
    registry = Registry()
    registry.add("loss", "halved", HalfLoss, "renamed", aliases=("half",))
    info = registry.get("loss", "half")
    assert (info.name, info.factory, info.aliases) == ("halved", HalfLoss, ("half",))
    assert registry.canonical("loss", "half") == registry.canonical("loss", "halved") == "halved"
    assert registry.has("loss", "half") and not registry.has("loss", "third")
    assert registry.names("loss") == ["halved"]
    assert [i.name for i in registry.list("loss", "hal*")] == ["halved"]
    assert [i.name for i in registry.list("loss", "half")] == ["halved"]  # patterns match aliases too


def test_unknown_names_suggest_aliases_too() -> None:
    registry = Registry()
    registry.add("loss", "halved", HalfLoss, "renamed", aliases=("demi",))
    with pytest.raises(UnknownComponentError, match=r"unknown loss 'demy' \(did you mean 'demi'\?\)"):
        registry.get("loss", "demy")


def test_bad_aliases_are_refused() -> None:
    registry = Registry()
    with pytest.raises(TypeError, match="aliases must be non-empty strings other than the name"):
        registry.add("loss", "halved", HalfLoss, "renamed", aliases=("halved",))
    with pytest.raises(TypeError, match="aliases must be"):
        registry.add("loss", "halved", HalfLoss, "renamed", aliases=("",))
    registry.add("loss", "halved", HalfLoss, "renamed", aliases="half")  # a single string is one alias
    assert registry.get("loss", "half").aliases == ("half",)


def test_an_alias_taken_as_a_name_is_reported_like_a_duplicate(plugins: Plugins) -> None:
    class Clash:
        __name__ = "clash"

        @hookimpl
        def register_losses(self, register):
            register("least-squares", HalfLoss, aliases=("lsgan",))

    plugins.register(Clash(), "clash")
    registry = plugins.registry
    messages = [str(f) for f in plugins.failures if f.plugin == "clash"]
    assert messages == ["plugin \"clash\": loss 'lsgan' is registered by both plugin 'losses' and plugin 'clash' (as an alias of 'least-squares')"]
    with pytest.raises(DuplicateComponentError, match="loss 'lsgan' is registered by plugins 'losses' and 'clash'"):
        registry.get("loss", "lsgan")
    assert registry.get("loss", "least-squares").aliases == ()  # registered under its own name still


def test_a_name_taken_as_an_alias_is_reported_like_a_duplicate() -> None:
    registry = Registry()
    registry.add("loss", "halved", HalfLoss, "renamed", aliases=("half",))
    with pytest.raises(DuplicateComponentError, match=r"loss 'half' is registered by both plugin 'renamed' and plugin 'other' \(as an alias of 'halved'\)"):
        registry.add("loss", "half", LeastSquaresLoss, "other")
    with pytest.raises(DuplicateComponentError, match="registered by plugins 'renamed' and 'other'"):
        registry.get("loss", "half")
    assert registry.get("loss", "halved").factory is HalfLoss
    with pytest.raises(DuplicateComponentError, match="loss 'half' is registered by both plugin 'renamed'"):
        registry.add("loss", "third", LeastSquaresLoss, "another", aliases=("half",))


def test_list_shows_aliases(plugins: Plugins) -> None:
    plugins.register(Renamed(), "renamed")
    table = invoke("list", "loss", "half")
    assert table.exit_code == 0
    header, row = table.stdout.splitlines()[:2]
    assert header.split() == ["kind", "name", "plugin", "summary", "aliases"]
    assert row.split()[:3] == ["loss", "halved", "renamed"] and row.rstrip().endswith("half, demi")
    entries = json.loads(invoke("list", "losses", "--json").stdout)
    assert next(e for e in entries if e["name"] == "halved")["aliases"] == ["half", "demi"]
    assert next(e for e in entries if e["name"] == "lsgan")["aliases"] == []
    assert "aliases" not in invoke("list", "loss", "lsgan").stdout  # the column only when some entry has one


def test_new_plugin_refuses_a_taken_alias(plugins: Plugins, tmp_path: Path) -> None:
    plugins.register(Renamed(), "renamed")
    result = invoke("new-plugin", "demi", "--kind", "loss", "--out", str(tmp_path / "p"))
    assert result.exit_code == 2 and "a loss named 'demi' is already registered by plugin 'renamed'" in result.stderr


def _spec_file(folder: Path, loss: str) -> Path:
    path = folder / "renamed.yaml"
    path.write_text(TINY_SPEC.replace("loss: {name: lsgan}", f"loss: {{name: {loss}, scale: 0.25}}"))
    return path


def test_old_specs_and_runs_keep_working_after_a_rename(plugins: Plugins, tmp_path: Path) -> None:
    class Original:
        __name__ = "renamed"

        @hookimpl
        def register_losses(self, register):
            register("half", HalfLoss)

    plugins.register(Original(), "renamed")
    spec = _spec_file(tmp_path, "half")
    result = invoke("run", str(spec), "--out", str(tmp_path / "run"), "--quiet", "--set", "train.steps=2")
    assert result.exit_code == 0, result.output
    plugins.unregister("renamed")
    plugins.register(Renamed(), "renamed")  # the plugin's next release: 'half' is now 'halved'

    experiment = build_experiment(parse_spec(spec.read_text(), spec), plugins.registry)
    loss = experiment.terms[0].loss
    assert isinstance(loss, HalfLoss) and loss.scale == 0.25
    assert experiment.components["loss"].name == "halved"
    assert invoke("validate", str(spec)).exit_code == 0
    loaded = load_trained(tmp_path / "run", device="cpu")  # the checkpoint's spec says 'half'
    assert loaded.step == 2 and loaded.experiment.components["loss"].name == "halved"
    resumed = invoke("run", str(spec), "--out", str(tmp_path / "run"), "--quiet", "--resume", "--set", "train.steps=3")
    assert resumed.exit_code == 0, resumed.output


def test_a_run_resumes_after_its_spec_moves_to_the_new_name(tmp_path: Path, plugins: Plugins) -> None:
    class Original:
        @hookimpl
        def register_losses(self, register):
            register("half", HalfLoss)

    class Renamed:
        @hookimpl
        def register_losses(self, register):
            register("halved", HalfLoss, aliases=("half",))

    plugins.register(Original(), "renamed")
    spec = _spec_file(tmp_path, "half")
    assert invoke("run", str(spec), "--out", str(tmp_path / "run"), "--quiet", "--set", "train.steps=2").exit_code == 0
    plugins.unregister("renamed")
    plugins.register(Renamed(), "renamed")
    spec.write_text(spec.read_text().replace("name: half", "name: halved"))
    resumed = invoke("run", str(spec), "--out", str(tmp_path / "run"), "--quiet", "--resume", "--set", "train.steps=3")
    assert resumed.exit_code == 0, resumed.output


def test_list_marks_a_contested_name_unusable(plugins: Plugins) -> None:
    class Twin:
        __name__ = "twin"

        @hookimpl
        def register_losses(self, register):
            register("lsgan", HalfLoss)

    plugins.register(Twin(), "twin")
    table = invoke("list", "loss", "lsgan")
    assert table.exit_code == 0, table.output
    (row,) = [line for line in table.stdout.splitlines() if line.startswith("loss")]
    assert "losses + twin" in row and "unusable: loss 'lsgan' is registered by plugins 'losses' and 'twin'; disable one with GANFORGE_DISABLE_PLUGINS=NAME" in row
    (entry,) = json.loads(invoke("list", "loss", "lsgan", "--json").stdout)
    assert entry["conflict"] == ["losses", "twin"]
    assert json.loads(invoke("list", "loss", "bce", "--json").stdout)[0]["conflict"] is None
