"""Plugin loading: entry points, plugins registered in code, broken and conflicting plugins."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from ganforge import Loss, hookimpl
from ganforge.plugins import Plugins
from ganforge.registry import DuplicateComponentError, UnknownComponentError

from .conftest import invoke


class HalfLoss(Loss):
    """A loss defined by a test plugin."""

    def __init__(self, scale: float = 0.5) -> None:
        self.scale = scale


class TestPlugin:
    __name__ = "test-plugin"

    @hookimpl
    def register_losses(self, register):
        register("half", HalfLoss)


def write_distribution(site: Path, dist: str, module: str, source: str, entry_name: str) -> None:
    """A minimal installed distribution: a module plus a dist-info with a `ganforge` entry point."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[ganforge]\n{entry_name} = {module}\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("gf_test_")]:
        del sys.modules[name]


def test_builtins_come_from_entry_points(plugins: Plugins) -> None:
    info = plugins.registry.get("generator", "dcgan")
    assert info.plugin == "networks"
    assert plugins.loaded["networks"].distribution == "ganforge"
    assert plugins.registry.get("loss", "lsgan").plugin == "losses"
    assert not plugins.failures


def test_every_builtin_summary_is_one_whole_sentence(plugins: Plugins) -> None:
    """`ganforge list` shows the first docstring line: it must read as a sentence, not a fragment."""
    builtins = [e for e in plugins.registry.list() if plugins.loaded[e.plugin].distribution == "ganforge"]
    assert len(builtins) > 50
    fragments = [f"{e.kind} {e.name}: {e.summary!r}" for e in builtins if not e.summary.endswith((".", ".)"))]
    assert fragments == []


def test_installed_distribution_is_loaded_through_importlib_metadata(site: Path) -> None:
    write_distribution(
        site, "gf-test-extra", "gf_test_extra",
        """
        from ganforge import Loss, hookimpl
        class Doubled(Loss):
            '''Twice the fun.'''
        @hookimpl
        def register_losses(register):
            register("doubled", Doubled)
        """,
        "extra",
    )  # fmt: skip
    plugins = Plugins.create()
    info = plugins.registry.get("loss", "doubled")
    assert (info.plugin, info.summary) == ("extra", "Twice the fun.")
    assert plugins.loaded["extra"].distribution == "gf-test-extra"


def test_plugin_registered_for_one_test(plugins: Plugins) -> None:
    plugins.register(TestPlugin(), "test-plugin")
    try:
        assert plugins.registry.get("loss", "half").plugin == "test-plugin"
        result = invoke("list", "loss")
        assert "half" in result.stdout and "test-plugin" in result.stdout
    finally:
        plugins.unregister("test-plugin")
    with pytest.raises(UnknownComponentError):
        plugins.registry.get("loss", "half")


def test_broken_plugin_does_not_break_the_cli(site: Path, plugins: Plugins) -> None:
    write_distribution(site, "gf-test-broken", "gf_test_broken", "raise ImportError('needs libfoo')\n", "broken")
    plugins.load_entry_points()
    result = invoke("list")
    assert result.exit_code == 0
    assert "dcgan" in result.stdout
    assert 'plugin "broken": failed to import gf_test_broken: ImportError: needs libfoo' in result.stderr


def test_disabled_plugin_is_skipped(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_distribution(site, "gf-test-broken2", "gf_test_broken2", "raise ImportError('x')\n", "broken2")
    monkeypatch.setenv("GANFORGE_DISABLE_PLUGINS", "broken2, losess")
    plugins = Plugins.create()
    assert "broken2" not in plugins.loaded and "losses" in plugins.loaded
    assert [str(f) for f in plugins.failures] == [
        'plugin "losess": GANFORGE_DISABLE_PLUGINS names it, but no installed plugin is called \'losess\' (did you mean \'losses\'?); it disables nothing'
    ]


def test_duplicate_name_names_both_plugins(plugins: Plugins) -> None:
    class Clash:
        __name__ = "clash"

        @hookimpl
        def register_losses(self, register):
            register("lsgan", HalfLoss)

    plugins.register(Clash(), "clash")
    registry = plugins.registry
    messages = [str(f) for f in plugins.failures]
    assert any("'lsgan'" in m and "'lsgan'" in m and "'clash'" in m for m in messages), messages
    with pytest.raises(DuplicateComponentError, match="plugins 'losses' and 'clash'"):
        registry.get("loss", "lsgan")


def test_hook_that_raises_is_reported_and_others_still_load(plugins: Plugins) -> None:
    class Raises:
        __name__ = "raises"

        @hookimpl
        def register_losses(self, register):
            raise RuntimeError("boom")

    plugins.register(Raises(), "raises")
    assert plugins.registry.get("loss", "lsgan")
    assert any(f.plugin == "raises" and "RuntimeError: boom" in f.message for f in plugins.failures)


def test_unknown_component_suggests_and_points_to_list(plugins: Plugins) -> None:
    with pytest.raises(UnknownComponentError, match=r"unknown loss 'lsgna' \(did you mean 'lsgan'\?\); see `ganforge list loss`"):
        plugins.registry.get("loss", "lsgna")


def test_list_filters_by_glob(plugins: Plugins) -> None:
    names = [i.name for i in plugins.registry.list("dataset", "*mnist")]
    assert names == ["fashion-mnist", "mnist"]


def test_plugin_commands_are_added(plugins: Plugins) -> None:
    import click

    class WithCommand:
        __name__ = "with-command"

        @hookimpl
        def register_commands(self, cli):
            @cli.command("hello-test")
            def hello() -> None:
                click.echo("hello from a plugin")

    plugins.register(WithCommand(), "with-command")
    assert invoke("hello-test").stdout.strip() == "hello from a plugin"
