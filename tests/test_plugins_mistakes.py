"""Plugin mistakes that would pass silently: a misspelt hook, a name registered twice."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from ganforge import Batch, Loss, hookimpl
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


class UnhintedMargin(Loss):
    """A hinge loss whose margin has no type hint."""

    def __init__(self, margin=1.0, mode="mean"):  # type: ignore[no-untyped-def]  # the mistake under test
        self.margin, self.mode = margin, mode

    def discriminator_loss(self, batch: Batch) -> Tensor:
        return (self.margin - batch.real_scores).relu().mean() + (self.margin + batch.fake_scores).relu().mean()


class Unhinted:
    __name__ = "unhinted"

    @hookimpl
    def register_losses(self, register):  # type: ignore[no-untyped-def]
        register("unhinted-hinge", UnhintedMargin)


def test_a_parameter_without_a_type_hint_is_checked_against_its_default(plugins: Plugins, tiny_spec: Path) -> None:
    plugins.register(Unhinted(), "unhinted")
    result = invoke("validate", str(tiny_spec), "--set", "loss.name=unhinted-hinge", "--set", "loss.margin=abc")
    assert result.exit_code == 2 and "OK" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "loss.margin" in lines[0] and "plugin unhinted gives it no type hint" in lines[0], result.stderr
    assert "expected float, got 'abc' (str)" in lines[0]
    assert invoke("validate", str(tiny_spec), "--set", "loss.name=unhinted-hinge", "--set", "loss.margin=2").exit_code == 0
    assert invoke("validate", str(tiny_spec), "--set", "loss.name=unhinted-hinge", "--set", "loss.mode=1").exit_code == 2


def test_list_params_of_a_contested_name_shows_every_claimant(plugins: Plugins) -> None:
    import json

    plugins.register(Lsgan(), "second-lsgan")
    result = invoke("list", "loss", "lsgan", "--params")
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert "from plugin losses (LSGAN: D pulls real scores to b and fake scores to a; G pulls fake scores to c.):" in lines, result.stdout
    assert "from plugin second-lsgan (A loss defined by a test plugin.):" in lines
    assert {"a: float = 0.0", "scale: float = 0.25"} <= set(lines)
    entry = json.loads(invoke("list", "loss", "lsgan", "--json").stdout)[0]
    assert [(c["plugin"], [p["name"] for p in c["params"]]) for c in entry["claimants"]] == [("losses", ["a", "b", "c"]), ("second-lsgan", ["scale"])]


def test_a_spec_naming_a_component_of_a_misspelt_hook_is_pointed_at_the_plugin(plugins: Plugins, tiny_spec: Path) -> None:
    plugins.register(Misspelt(), "misspelt")
    result = invoke("validate", str(tiny_spec), "--set", "loss=quarter")
    assert result.exit_code == 2
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1 and "did you mean 'hinge'" not in lines[0], result.stderr
    assert lines[0].endswith(
        "loss.name: loss 'quarter' is not registered: plugin \"misspelt\": hook 'register_loss' is not a ganforge hook, "
        "so it is never called (did you mean 'register_losses'?); fix the plugin (see `ganforge plugins`)"
    ), lines[0]
    assert "quarter" not in plugins.registry.names("loss")
