"""ganforge.testing's plugin helpers: register a plugin for one test, tell an installed one."""

from __future__ import annotations

import pytest

from ganforge import Loss, hookimpl
from ganforge.plugins import get_plugins
from ganforge.testing import ConformanceError, is_installed, registered_plugin

from .conftest import TINY_SPEC, invoke


class ThirdLoss(Loss):
    """A loss registered for one test."""

    def __init__(self, scale: float = 1 / 3) -> None:
        self.scale = scale


class Good:
    __name__ = "good"

    @hookimpl
    def register_losses(self, register):  # type: ignore[no-untyped-def]
        register("third", ThirdLoss)


class Misspelt:
    __name__ = "misspelt"

    @hookimpl
    def register_loss(self, register):  # type: ignore[no-untyped-def]
        register("third", ThirdLoss)


def test_registered_plugin_is_seen_by_the_cli_for_the_block_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    before = get_plugins()
    spec = tmp_path / "s.yaml"
    spec.write_text(TINY_SPEC.replace("{name: lsgan}", "{name: third}"))
    with registered_plugin(Good(), "good") as registry:
        assert registry.get("loss", "third").factory is ThirdLoss
        assert registry.get("loss", "lsgan")  # the installed plugins are there too
        assert invoke("validate", str(spec)).exit_code == 0
    assert get_plugins() is before
    assert "third" not in before.registry.names("loss")
    assert invoke("validate", str(spec)).exit_code == 2


def test_registered_plugin_replaces_an_installed_one_of_the_same_name() -> None:
    with registered_plugin(Good(), "losses") as registry:
        assert "third" in registry.names("loss") and "lsgan" not in registry.names("loss")


def test_registered_plugin_refuses_a_misspelt_hook() -> None:
    with pytest.raises(ConformanceError, match="register_loss.*did you mean 'register_losses'"), registered_plugin(Misspelt(), "misspelt"):
        pass


def test_is_installed() -> None:
    assert is_installed("losses") and is_installed("boundary-seeking") and not is_installed("no-such-plugin")


def test_registered_plugin_of_an_installed_module_says_so_in_one_line() -> None:
    installed = get_plugins().manager.get_plugin("boundary-seeking")
    with pytest.raises(ConformanceError) as excinfo, registered_plugin(installed, "my-name"):
        pass
    message = str(excinfo.value)
    assert message.splitlines() == [
        "plugin 'my-name' fails 1 conformance check:",
        "  - register: ganforge_boundary_seeking is already registered as plugin 'boundary-seeking'; "
        "a plugin is registered once: use the name 'boundary-seeking'",
    ]
    with registered_plugin(installed, "boundary-seeking") as registry:  # as the message says
        assert registry.get("loss", "boundary-seeking")
