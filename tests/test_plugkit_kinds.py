"""The table of kinds: the hookspecs, the registry, spec types, `ganforge list`, the scaffold
and the conformance kit all follow ganforge.kinds.KINDS, so a kind is one row there."""

from __future__ import annotations

import inspect

import pluggy
import pytest

from ganforge import hookimpl, hookspecs, interfaces
from ganforge.kinds import KIND_NAMES, KINDS, ComponentKind, find_kind, kind, kind_of_interface
from ganforge.plugins import HOOK_BY_KIND, Plugins
from ganforge.registry import KINDS as REGISTRY_KINDS
from ganforge.registry import Registry
from ganforge.scaffold import KINDS as SCAFFOLD_KINDS
from ganforge.scaffold import PluginNames
from ganforge.spec.types import interface_kinds, nested_kind
from ganforge.testing import CHECKS, check_augment

from .conftest import invoke
from .plugkit_install import ROOT


def test_the_table() -> None:
    assert KIND_NAMES == ("generator", "discriminator", "loss", "dataset", "metric", "extractor", "augment", "logger")
    augment = kind("augments")
    assert augment == ComponentKind("augment", "augments", "Augment", "register_augments", "ganforge.testing.augments:check_augment")
    assert augment.interface is interfaces.Augment
    assert kind("augment") is augment and find_kind("augmentation") is None
    assert kind_of_interface(interfaces.FeatureExtractor) is kind("extractor") and kind_of_interface(int) is None
    with pytest.raises(ValueError, match="unknown component kind 'sampler'; expected one of generator, .*, augment"):
        kind("sampler")
    assert len({k.plural for k in KINDS}) == len({k.hook for k in KINDS}) == len({k.interface for k in KINDS}) == len(KINDS)
    written = {name for name, value in vars(hookspecs).items() if name.startswith("register_") and hasattr(value, "ganforge_spec")}
    assert written == {k.hook for k in KINDS} | {"register_commands"}  # the hooks, written out, are the table's and no more


@pytest.mark.parametrize("row", KINDS, ids=lambda k: k.name)
def test_everything_derives_from_the_row(row: ComponentKind) -> None:
    spec = getattr(hookspecs, row.hook)  # a real hookspec function, written out for the row
    assert inspect.signature(spec).parameters.keys() == {"register"} and spec.__name__ == row.hook
    assert getattr(Plugins.create(entry_points=False).manager.hook, row.hook).spec is not None  # pluggy took it as a hookspec
    assert (spec.__doc__ or "").startswith("Register ")
    assert HOOK_BY_KIND[row.name] == row.hook
    assert row.name in REGISTRY_KINDS and row.name in SCAFFOLD_KINDS
    assert interface_kinds()[row.interface] == row.name and nested_kind(row.interface | None) == row.name
    assert CHECKS[row.name] is row.load_check()
    assert (ROOT / "ganforge" / "scaffold" / "templates" / row.name / "plugin.py.tmpl").is_file()
    assert PluginNames("my-thing", row.name).cls == f"MyThing{row.name.capitalize()}"
    assert row.name in invoke("list", "--help").stdout and row.name in invoke("new-plugin", "--help").stdout
    assert invoke("list", row.plural).exit_code == 0


def test_a_plugin_registers_every_kind_through_its_hook(plugins: Plugins) -> None:
    from ganforge_builtins.augments.diffaugment import DiffAugment

    class AugmentPlugin:
        __name__ = "augment-plugin"

        @hookimpl
        def register_augments(self, register):
            register("my-diffaugment", DiffAugment)

    plugins.register(AugmentPlugin(), "augment-plugin")
    assert plugins.registry.get("augment", "my-diffaugment").plugin == "augment-plugin"
    assert [i.name for i in plugins.registry.list("augment", "my-*")] == ["my-diffaugment"]
    result = invoke("list", "augments")
    assert "my-diffaugment" in result.stdout and "augment-plugin" in result.stdout
    check_augment(plugins.registry.get("augment", "my-diffaugment").factory)


def test_a_misspelt_hook_is_caught_by_pluggy() -> None:
    class Misspelt:
        __name__ = "misspelt"

        @hookimpl
        def register_augment(self, register):  # the hook is register_augments
            register("x", object)

    plugins = Plugins.create(entry_points=False)
    plugins.register(Misspelt(), "misspelt")
    with pytest.raises(pluggy.PluginValidationError, match="register_augment"):
        plugins.manager.check_pending()


def test_registry_refuses_unknown_kinds() -> None:
    with pytest.raises(ValueError, match="unknown component kind 'sampler'"):
        Registry().add("sampler", "x", object, "p")
