"""Writing a new plugin package from the templates in ``templates/`` (package data)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from string import Template

from ganforge import __version__
from ganforge.errors import GanforgeError
from ganforge.kinds import KIND_NAMES
from ganforge.kinds import kind as component_kind

#: the kinds ``ganforge new-plugin --kind`` offers: every kind (each has ``templates/<kind>/``).
KINDS = KIND_NAMES
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class PluginNames:
    """The names one plugin uses: registered name, distribution, import package, class."""

    name: str
    kind: str

    @property
    def distribution(self) -> str:
        return f"ganforge-{self.name}"

    @property
    def package(self) -> str:
        return "ganforge_" + self.name.replace("-", "_")

    @property
    def cls(self) -> str:
        camel = "".join(part.capitalize() for part in self.name.split("-"))
        suffix = component_kind(self.kind).class_suffix
        return camel if camel.endswith(suffix) else camel + suffix


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise GanforgeError(f"plugin name '{name}' must be lowercase letters and digits joined by hyphens, e.g. 'focal-bce'")


def render_plugin(name: str, kind: str, out: Path) -> list[Path]:
    """Write the package for a ``kind`` plugin called ``name`` into ``out`` (which must not
    exist or be empty); returns the files written."""
    check_name(name)
    if kind not in KINDS:
        raise GanforgeError(f"unknown kind '{kind}'; expected one of {', '.join(KINDS)}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise GanforgeError(f"{out} already exists and is not empty; choose another --out or remove it")
    names = PluginNames(name, kind)
    values = {
        "name": name,
        "kind": kind,
        "hook": component_kind(kind).hook,
        "distribution": names.distribution,
        "package": names.package,
        "cls": names.cls,
        "ganforge_version": __version__,
    }
    templates = files("ganforge.scaffold") / "templates"
    layout = {
        "pyproject.toml": templates / "common" / "pyproject.toml.tmpl",
        "README.md": templates / "common" / "README.md.tmpl",
        f"src/{names.package}/__init__.py": templates / "common" / "__init__.py.tmpl",
        f"src/{names.package}/plugin.py": templates / kind / "plugin.py.tmpl",
        f"tests/test_{names.package}.py": templates / kind / "test.py.tmpl",
    }
    written = []
    for relative, template in layout.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(template.read_text()).substitute(values))
        written.append(path)
    return written
