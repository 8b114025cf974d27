"""Third-party plugins as real packages: the example in plugins/ and one written by
`ganforge new-plugin`, each pip-installed, tested with its own suite, listed, and trained with."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Iterator

import pytest
import yaml
from click.testing import CliRunner

from ganforge.cli import cli
from ganforge.plugins import Plugins, set_plugins

from .conftest import invoke
from .plugkit_install import EXAMPLE, is_installed, pip_install, run_pytest

SCAFFOLDED = "quadratic-test"  # the loss `ganforge new-plugin` writes in these tests
SMOKE = [
    "--set", "device=cpu", "--set", "generator.width=8", "--set", "discriminator.width=8",
    "--set", "data={name: synthetic, size: 32, batch_size: 8}", "--set", "train.steps=2",
]  # fmt: skip


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(site folder, scaffolded package): the scaffolded loss package written by the CLI, and
    it plus the example package (unless already installed, as CI does) pip-installed there."""
    work = tmp_path_factory.mktemp("plugin-packages")
    package = work / f"ganforge-{SCAFFOLDED}"
    result = CliRunner().invoke(cli, ["new-plugin", SCAFFOLDED, "--kind", "loss", "--out", str(package)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    site = work / "site"
    pip_install(site, package, *([] if is_installed("ganforge-boundary-seeking") else [EXAMPLE]))
    return site, package


@pytest.fixture
def installed(plugin_site: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Plugins]:
    """Plugins loaded from entry points with the site folder on sys.path, for one test."""
    monkeypatch.syspath_prepend(str(plugin_site[0]))
    importlib.invalidate_caches()
    fresh = Plugins.create()
    set_plugins(fresh)
    yield fresh
    for name in [m for m in sys.modules if m.startswith(("ganforge_boundary_seeking", "ganforge_quadratic_test"))]:
        del sys.modules[name]


def test_installed_packages_pass_their_own_tests(plugin_site: tuple[Path, Path]) -> None:
    site, package = plugin_site
    result = run_pytest(site, package / "tests", EXAMPLE / "tests")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "11 passed" in result.stdout and "skipped" not in result.stdout, result.stdout  # the installed-plugin tests ran


def test_installed_plugins_are_listed(installed: Plugins) -> None:
    listing = invoke("list", "loss")
    assert SCAFFOLDED in listing.stdout and "boundary-seeking" in listing.stdout
    rows = {row["name"]: row for row in json.loads(invoke("plugins", "--json").stdout)}
    assert rows[SCAFFOLDED] | {"errors": []} == {
        "name": SCAFFOLDED, "distribution": f"ganforge-{SCAFFOLDED}", "version": "0.1.0",
        "module": "ganforge_quadratic_test.plugin", "status": "loaded", "components": [f"loss {SCAFFOLDED}"], "errors": [],
    }  # fmt: skip
    assert rows["boundary-seeking"]["distribution"] == "ganforge-boundary-seeking"
    assert rows["boundary-seeking"]["components"] == ["loss boundary-seeking"]
    table = invoke("plugins").stdout
    assert f"ganforge-{SCAFFOLDED}" in table and "ganforge-boundary-seeking" in table


@pytest.mark.parametrize("loss", [SCAFFOLDED, "boundary-seeking"])
def test_trains_a_few_steps_with_an_installed_loss(installed: Plugins, loss: str, tmp_path: Path) -> None:
    spec = EXAMPLE / "specs" / "bgan.yaml"
    result = invoke("run", str(spec), "--set", f"loss={{name: {loss}}}", *SMOKE, "--out", str(tmp_path / "run"), "--quiet")
    assert result.exit_code == 0, result.output
    assert f"loss {loss} (plugin {loss})" in result.stderr
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert records and records[-1]["step"] == 2
    assert yaml.safe_load((tmp_path / "run" / "spec.yaml").read_text())["loss"]["name"] == loss


def test_example_spec_validates_unchanged(installed: Plugins) -> None:
    result = invoke("validate", str(EXAMPLE / "specs" / "bgan.yaml"))
    assert result.exit_code == 0, result.output
    assert "loss boundary-seeking (plugin boundary-seeking)" in result.stdout


def test_disabling_an_installed_plugin(plugin_site: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(plugin_site[0]))
    monkeypatch.setenv("GANFORGE_DISABLE_PLUGINS", SCAFFOLDED)
    set_plugins(Plugins.create())
    rows = {row["name"]: row for row in json.loads(invoke("plugins", "--json").stdout)}
    assert rows[SCAFFOLDED]["status"] == "disabled" and rows[SCAFFOLDED]["components"] == []
    result = invoke("validate", str(EXAMPLE / "specs" / "bgan.yaml"), "--set", f"loss={{name: {SCAFFOLDED}}}")
    assert result.exit_code == 2 and f"unknown loss '{SCAFFOLDED}'" in result.stderr
