"""`ganforge plugins` and `ganforge new-plugin`: listing, failures that name the plugin,
and packages for every kind that work as written."""

from __future__ import annotations

import fnmatch
import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ganforge import hookimpl
from ganforge.plugins import Plugins
from ganforge.scaffold import KINDS, PluginNames

from .conftest import invoke
from .plugkit_install import ROOT
from .test_plugins import HalfLoss, site, write_distribution  # noqa: F401 - `site` is a fixture

KIND_NAMES = {kind: f"tiny-{kind}" for kind in KINDS}


def load_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli", reason="reading pyproject.toml needs Python 3.11 or tomli")
    return tomllib.loads(path.read_text())


def rows() -> dict[str, dict]:
    return {row["name"]: row for row in json.loads(invoke("plugins", "--json").stdout)}


def test_plugins_lists_builtins_with_distribution_and_components(plugins: Plugins) -> None:
    listed = rows()
    assert listed["networks"]["distribution"] == "ganforge" and listed["networks"]["status"] == "loaded"
    assert {"generator dcgan", "discriminator dcgan"} <= set(listed["networks"]["components"])
    assert listed["losses"]["module"] == "ganforge_builtins.losses:plugin"
    table = invoke("plugins")
    assert table.exit_code == 0 and "ganforge" in table.stdout and "loss lsgan" in table.stdout


def test_plugin_that_raises_on_import_is_listed_with_its_error(site: Path, plugins: Plugins) -> None:  # noqa: F811
    write_distribution(site, "gf-test-raises", "gf_test_raises", "raise RuntimeError('needs CUDA 13')\n", "raises-on-import")
    plugins.load_entry_points()
    result = invoke("plugins")
    assert result.exit_code == 0
    row = rows()["raises-on-import"]
    assert (row["status"], row["distribution"], row["version"]) == ("failed", "gf-test-raises", "1.0")
    assert row["errors"] == ["failed to import gf_test_raises: RuntimeError: needs CUDA 13"]
    assert 'Warning: plugin "raises-on-import": failed to import gf_test_raises: RuntimeError: needs CUDA 13' in result.stderr
    assert "needs CUDA 13" in result.stdout  # the table shows the error under the plugin


def test_plugin_registering_a_taken_name_is_listed_with_the_clash(plugins: Plugins) -> None:
    class Clash:
        __name__ = "clash"

        @hookimpl
        def register_losses(self, register):
            register("lsgan", HalfLoss)
            register("half", HalfLoss)

    plugins.register(Clash(), "clash")
    row = rows()["clash"]
    assert row["status"] == "problems" and row["components"] == ["loss half"]
    assert row["errors"] == ["loss 'lsgan' is registered by both plugin 'losses' and plugin 'clash'"]
    holder = rows()["losses"]  # loaded first, but its name is just as unusable
    assert holder["status"] == "problems" and holder["errors"] == [
        "loss 'lsgan' is also registered by plugin 'clash': no spec can use it until one is disabled (GANFORGE_DISABLE_PLUGINS=NAME)"
    ]


def test_new_plugin_refuses_bad_names_taken_names_and_full_folders(tmp_path: Path, plugins: Plugins) -> None:
    result = invoke("new-plugin", "My_Loss", "--kind", "loss", "--out", str(tmp_path / "a"))
    assert result.exit_code == 2 and "must be lowercase letters and digits joined by hyphens" in result.stderr
    result = invoke("new-plugin", "lsgan", "--kind", "loss", "--out", str(tmp_path / "b"))
    assert result.exit_code == 2 and "a loss named 'lsgan' is already registered by plugin 'losses'" in result.stderr
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "keep.txt").write_text("mine")
    result = invoke("new-plugin", "fresh", "--kind", "loss", "--out", str(tmp_path / "c"))
    assert result.exit_code == 2 and "already exists and is not empty" in result.stderr
    assert invoke("new-plugin", "fresh", "--kind", "sampler").exit_code == 2


def test_new_plugin_takes_the_kind_first_as_list_does(tmp_path: Path) -> None:
    result = invoke("new-plugin", "losses", "focal-bce", "--out", str(tmp_path / "a"))
    assert result.exit_code == 0, result.output
    assert "register_losses" in (tmp_path / "a/src/ganforge_focal_bce/plugin.py").read_text()
    for words, message in (
        (("focal-bce",), "give the kind of 'focal-bce': ganforge new-plugin KIND focal-bce (KIND is one of generator, "),
        (("los", "focal-bce"), "unknown kind 'los' (did you mean 'loss'?)"),
        (("loss", "focal-bce", "--kind", "metric"), "KIND loss and --kind metric disagree"),
        (("loss", "focal-bce", "extra"), "new-plugin takes [KIND] NAME, got 3 words"),
    ):
        refused = invoke("new-plugin", *words, "--out", str(tmp_path / "b"))
        assert refused.exit_code == 2 and refused.stderr.startswith(f"Error: {message}"), refused.stderr
    assert not (tmp_path / "b").exists()


@pytest.fixture
def scaffolds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """One package per kind written by the CLI, importable from its src/ folder."""
    packages = {}
    for kind, name in KIND_NAMES.items():
        out = tmp_path / f"ganforge-{name}"
        result = invoke("new-plugin", name, "--kind", kind, "--out", str(out))
        assert result.exit_code == 0, result.output
        assert f"wrote {out / 'pyproject.toml'}" in result.stdout
        monkeypatch.syspath_prepend(str(out / "src"))
        monkeypatch.syspath_prepend(str(out / "tests"))
        packages[kind] = out
    yield packages
    for module in [m for m in sys.modules if m.startswith(("ganforge_tiny_", "test_ganforge_tiny_"))]:
        del sys.modules[module]


def test_new_plugin_writes_a_package_for_every_kind(scaffolds: dict[str, Path]) -> None:
    for kind, folder in scaffolds.items():
        names = PluginNames(KIND_NAMES[kind], kind)
        project = load_toml(folder / "pyproject.toml")
        assert project["project"]["name"] == names.distribution
        assert project["project"]["entry-points"]["ganforge"] == {names.name: f"{names.package}.plugin"}
        assert (folder / "README.md").read_text().startswith(f"# {names.distribution}")
        module = importlib.import_module(f"{names.package}.plugin")
        assert getattr(module, names.cls).__module__ == module.__name__


def test_scaffolds_have_a_test_extra_and_use_only_public_helpers(scaffolds: dict[str, Path]) -> None:
    import ast

    for kind, folder in scaffolds.items():
        project = load_toml(folder / "pyproject.toml")
        assert any(r.startswith("pytest") for r in project["project"]["optional-dependencies"]["test"])
        assert "pip install -e '.[test]'" in (folder / "README.md").read_text()
        (test_file,) = (folder / "tests").glob("test_*.py")
        imported = {
            node.module for node in ast.walk(ast.parse(test_file.read_text()))
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ganforge"
        }  # fmt: skip
        assert imported <= {"ganforge", "ganforge.testing"}, (kind, imported)


def test_new_plugin_prints_the_install_and_test_command(tmp_path: Path) -> None:
    result = invoke("new-plugin", "printed-cmd", "--kind", "loss", "--out", str(tmp_path / "p"))
    assert result.exit_code == 0 and "pip install -e '.[test]' && pytest" in result.stdout


def test_scaffolded_tests_pass_for_every_kind(scaffolds: dict[str, Path]) -> None:
    """Each package's own tests, run here from source (installing each costs seconds; the
    loss package is installed and run by pytest in test_plugkit_packages)."""
    ran = []
    for kind in scaffolds:
        tests = importlib.import_module(f"test_{PluginNames(KIND_NAMES[kind], kind).package}")
        for name in [n for n in dir(tests) if n.startswith("test_") and n != "test_installed_plugin"]:
            getattr(tests, name)()
            ran.append(f"{kind}:{name}")
    assert len(ran) == 3 * len(KINDS), ran


def test_trains_with_scaffolded_components(scaffolds: dict[str, Path], plugins: Plugins, tmp_path: Path) -> None:
    for kind in ("generator", "discriminator", "loss", "dataset", "metric"):
        names = PluginNames(KIND_NAMES[kind], kind)
        plugins.register(importlib.import_module(f"{names.package}.plugin"), names.name)
    spec = tmp_path / "scaffolded.yaml"
    spec.write_text(
        "device: cpu\n"
        "generator: {name: tiny-generator, hidden: 16, latent_dim: 8, num_classes: 4}\n"
        "discriminator: {name: tiny-discriminator, hidden: 16, num_classes: 4}\n"
        "loss: {name: tiny-loss, real_label: 0.9}\n"
        "data: {name: tiny-dataset, size: 32, batch_size: 8}\n"
        "train: {steps: 3, log_every: 1}\n"
        "metrics: [{name: tiny-metric, samples: 16, every: 3}]\n"
    )
    result = invoke("run", str(spec), "--out", str(tmp_path / "run"), "--quiet")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert any("tiny-metric" in r for r in records), records


def test_templates_are_package_data() -> None:
    """Every template file matches a `[tool.setuptools.package-data]` pattern, so it ships in the wheel."""
    config = load_toml(ROOT / "pyproject.toml")["tool"]["setuptools"]["package-data"]
    package = ROOT / "ganforge" / "scaffold"
    templates = [p.relative_to(package).as_posix() for p in (package / "templates").rglob("*") if p.is_file()]
    assert len(templates) == 3 + 2 * len(KINDS)
    unshipped = [t for t in templates if not any(fnmatch.fnmatch(t, pattern) for pattern in config["ganforge.scaffold"])]
    assert not unshipped


@pytest.mark.slow
def test_wheel_contains_the_templates(tmp_path: Path) -> None:
    """Builds ganforge's wheel (slow: a full build) and looks for the templates in it."""
    import shutil
    import zipfile

    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", "runs", "*.egg-info", "build", "__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path / "dist"), str(source)], check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("ganforge-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for kind in KINDS:
        assert f"ganforge/scaffold/templates/{kind}/plugin.py.tmpl" in names
