"""docs/reference/components.md is what docs/gen_components.py makes of the registry today, and
it covers every component ganforge ships with its parameters."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from ganforge.plugins import Plugins

from .plugkit_install import ROOT


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_components", ROOT / "docs" / "gen_components.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reference_is_up_to_date(plugins: Plugins) -> None:
    gen = generator()
    assert gen.PAGE.read_text() == gen.render(), "docs/reference/components.md is out of date: run python docs/gen_components.py"


def test_reference_covers_every_builtin(plugins: Plugins) -> None:
    """Every component of ganforge's own plugins has a section with its parameters, and no
    installed third-party plugin's component is in it."""
    text = generator().render()
    ours = {n for n, info in plugins.loaded.items() if info.distribution == "ganforge"}
    for entry in plugins.registry.list():
        heading = f"### {entry.kind} `{entry.name}`"
        assert (heading in text) == (entry.plugin in ours), heading
    section = text.split("### generator `dcgan`")[1].split("\n### ")[0]
    assert "| `latent_dim` | <code>int &gt;= 1</code> | <code>100</code> |" in section
    assert "| `conditioning` | <code>'concat' &#124; 'batch-norm' &#124; 'concat+batch-norm'</code> |" in section
    assert "| `layer` | <code>str</code> | required |" in text.split("### loss `vae-gan`")[1].split("\n### ")[0]
    assert "missing now" not in text and "(found)" not in text  # this machine's state is not the component's
