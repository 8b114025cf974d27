"""`ganforge --help` starts without importing torch or any component: ganforge's commands and the
built-in families' are added by name and imported when used; their summaries match their help."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from types import SimpleNamespace

import click
import pytest
import torch

from ganforge import hookimpl
from ganforge.cli import COMMANDS, cli
from ganforge.hookspecs import family
from ganforge.plugins import Plugins
from ganforge.spec.optimizers import probe_optimizer

from .conftest import invoke

PROBE = "import sys; from ganforge.cli import cli; cli.main(['--help'], standalone_mode=False); print(sorted(m for m in ('torch', 'torchvision', 'numpy') if m in sys.modules))"


def test_help_imports_no_torch() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)  # the example third-party plugin too
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout
    assert "train-classifier" in result.stdout and "validate" in result.stdout


def lazy_commands() -> dict[str, tuple[str, str]]:
    plugins = Plugins.create()
    group = type(cli)(name="probe")
    plugins.add_commands(group)
    return group.lazy


@pytest.mark.parametrize("name", sorted(lazy_commands()))
def test_each_lazy_summary_is_its_commands_own(name: str) -> None:
    target, summary = lazy_commands()[name]
    module, _, attribute = target.partition(":")
    command: click.Command = getattr(importlib.import_module(module), attribute)
    assert command.name == name and command.get_short_help_str(500) == summary


def test_own_commands_are_all_in_the_table() -> None:
    assert {"list", "validate", "run", "eval", "sample", "serve", "plot", "runs", "plugins", "new-plugin", "sweep", "import", "export"} == set(COMMANDS)
    assert invoke("run", "--help").exit_code == 0 and "--resume" in invoke("run", "--help").stdout


def test_a_family_imports_its_modules_when_a_hook_needs_them(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "gf_family_probe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "losses.py").write_text(
        "from ganforge import hookimpl\nfrom ganforge_builtins.losses.lsgan import LeastSquaresLoss\n\n"
        "@hookimpl\ndef register_losses(register):\n    register('probe-loss', LeastSquaresLoss)\n\n"
        "@hookimpl\ndef register_loss(register):\n    pass\n"
    )
    (package / "commands.py").write_text("import click\n\n@click.command('probe')\ndef probe():\n    '''Probe command.'''\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugin = family("gf_family_probe", "losses", commands={"probe": ("gf_family_probe.commands:probe", "Probe command.")})
    plugins = Plugins.create(entry_points=False)
    plugins.register(plugin, "probe-family")
    group = type(cli)(name="probe")
    plugins.add_commands(group)
    assert group.lazy["probe"] == ("gf_family_probe.commands:probe", "Probe command.") and "gf_family_probe.losses" not in sys.modules
    assert not plugins.registry.has("loss", "probe-loss")  # its module names a hook that does not exist: the plugin fails, told why
    assert len(plugins.failures) == 1  # reported by the first hook called, not once per kind
    assert [str(f) for f in plugins.failures][0].startswith(
        'plugin "probe-family": register_generators raised GanforgeError: gf_family_probe.losses: hook \'register_loss\' is not a ganforge hook'
    )
    assert "gf_family_probe.commands" not in sys.modules
    assert group.get_command(click.Context(group), "probe").name == "probe" and "gf_family_probe.commands" in sys.modules
    assert isinstance(plugin, SimpleNamespace) and hookimpl


VALIDATE_PROBE = (
    "import sys; from ganforge.cli import cli; cli.main(['validate', 'specs/ring.yaml'], standalone_mode=False); "
    "print('dynamo' if 'torch._dynamo' in sys.modules else 'no dynamo')"
)


def test_validate_does_not_import_the_compiler() -> None:
    """torch imports torch._dynamo (~2 s) on an optimizer's first parameter group; the
    resolver's optimizer probe must not pay for it."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run([sys.executable, "-c", VALIDATE_PROBE], capture_output=True, text=True, cwd=root, check=True)
    assert result.stdout.strip().splitlines()[-1] == "no dynamo", result.stdout + result.stderr


@pytest.mark.parametrize("name", ["Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "LBFGS", "NAdam", "RAdam", "Adadelta", "Adamax", "ASGD", "Rprop"])
def test_the_optimizer_probe_keeps_every_optimizers_checks(name: str) -> None:
    optimizer = probe_optimizer({"name": name, "lr": 0.5})
    assert isinstance(optimizer, getattr(torch.optim, name)) and optimizer.param_groups[0]["lr"] == 0.5
    with pytest.raises(ValueError, match="(?i)learning rate"):
        probe_optimizer({"name": name, "lr": -1.0})
