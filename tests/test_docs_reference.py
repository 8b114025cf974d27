"""docs/reference/components.md is what docs/gen_components.py makes of the registry today, and
it covers every component ganforge ships with its parameters; README's table of families too."""

from __future__ import annotations

import importlib.util
import re
from types import ModuleType

from ganforge.plugins import Plugins

from .conftest import invoke
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


def test_readme_family_table_names_every_builtin(plugins: Plugins) -> None:
    """README's table of families names exactly the components each family registers (and
    otherwise only its commands), so a component added or renamed shows up there too."""
    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `([\w-]+)` \| (.*?) \| \[", readme, re.M))
    ours = {n for n, info in plugins.loaded.items() if info.distribution == "ganforge"}
    assert set(rows) == ours, "README's table of families lists these plugins, ganforge has those"
    help_text = invoke("--help").output
    for family, what in rows.items():
        named = {n for n in re.findall(r"`([^`\s]+)`", what)}
        registered = {e.name for e in plugins.registry.list() if e.plugin == family}
        commands = {n for n in named - registered if re.search(rf"^\s+{re.escape(n)}\s", help_text, re.M)}
        assert named - commands == registered, f"README's {family} row names {sorted(named - commands)}, the family registers {sorted(registered)}"



def test_spec_reference_is_up_to_date() -> None:
    gen = generator()
    assert gen.SPEC_PAGE.read_text() == gen.render_spec(), "docs/reference/spec.md is out of date: run python docs/gen_components.py"


def test_spec_reference_follows_the_schema(monkeypatch) -> None:
    """A row added to the schema table is listed, with its settings' fields."""
    from dataclasses import dataclass

    from ganforge.spec import schema
    from ganforge.spec.settings import resumable

    @dataclass
    class NotesConfig:
        """Notes kept with the run."""

        pages: int = 1
        title: str = resumable("untitled")

    monkeypatch.setattr(schema, "SCHEMA", (*schema.SCHEMA, schema.Section("notes", "settings", settings=NotesConfig)))
    text = generator().render_spec()
    assert "| `notes` | settings: [the fields below](#notes) | the fields marked below |" in text
    assert "| `pages` | <code>int</code> | <code>1</code> | no |" in text and "| `title` | <code>str</code> | <code>'untitled'</code> | yes |" in text
