"""Plugin mistakes that would pass silently: a misspelt hook, a name registered twice."""

from __future__ import annotations

from ganforge import Loss, hookimpl
from ganforge.plugins import Plugins

from .conftest import invoke


class QuarterLoss(Loss):
    """A loss defined by a test plugin."""

    def __init__(self, scale: float = 0.25) -> None:
        self.scale = scale


class Misspelt:
    __name__ = "misspelt"

    @hookimpl
    def register_loss(self, register):  # type: ignore[no-untyped-def]  # should be register_losses
        register("quarter", QuarterLoss)


class Lsgan:
    __name__ = "second-lsgan"

    @hookimpl
    def register_losses(self, register):  # type: ignore[no-untyped-def]
        register("lsgan", QuarterLoss)


def test_a_misspelt_hook_is_reported_with_a_suggestion(plugins: Plugins) -> None:
    plugins.register(Misspelt(), "misspelt")
    assert "quarter" not in plugins.registry.names("loss")
    messages = [str(f) for f in plugins.failures]
    expected = "plugin \"misspelt\": hook 'register_loss' is not a ganforge hook, so it is never called (did you mean 'register_losses'?)"
    assert expected in messages
    result = invoke("list", "loss")
    assert f"Warning: {expected}" in result.stderr.splitlines()
    assert "quarter" not in result.stdout


def test_a_misspelt_hook_shows_in_plugins(plugins: Plugins) -> None:
    import json

    plugins.register(Misspelt(), "misspelt")
    rows = {row["name"]: row for row in json.loads(invoke("plugins", "--json").stdout)}
    assert rows["misspelt"]["status"] == "problems"
    assert any("register_loss" in e and "register_losses" in e for e in rows["misspelt"]["errors"])


def test_a_name_registered_twice_warns_on_stderr_for_every_command(plugins: Plugins) -> None:
    plugins.register(Lsgan(), "second-lsgan")
    result = invoke("list", "loss")
    warnings = [line for line in result.stderr.splitlines() if line.startswith('Warning: plugin "second-lsgan": ')]
    assert len(warnings) == 1 and "lsgan" in warnings[0] and "lsgan" in warnings[0].split(":", 2)[2], result.stderr
    assert invoke("validate", "--help").stderr.count('Warning: plugin "second-lsgan"') == 1


def test_a_clean_install_prints_no_warning() -> None:
    assert "Warning" not in invoke("list").stderr
