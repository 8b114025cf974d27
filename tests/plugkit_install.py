"""pip-installing plugin packages into a temporary folder for tests, and running their tests."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "plugins" / "ganforge-boundary-seeking"


def can_build_offline() -> bool:
    """Whether this environment's setuptools builds wheels without downloading anything
    (setuptools >= 70.1 does by itself; older ones need the `wheel` package)."""
    try:
        version = tuple(int(p) for p in importlib.metadata.version("setuptools").split(".")[:2])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return False
    if version >= (70, 1):
        return True
    try:
        importlib.metadata.version("wheel")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def pip_install(target: Path, *packages: Path) -> None:
    """``pip install --no-deps --target TARGET PACKAGE...`` with this interpreter; offline
    when setuptools allows it, otherwise with pip's isolated build (fetches setuptools)."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target)]
    if can_build_offline():
        command.append("--no-build-isolation")
    result = subprocess.run(
        [*command, *map(str, packages)], capture_output=True, text=True, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    )
    assert result.returncode == 0, f"pip install failed:\n{result.stdout}\n{result.stderr}"


def is_installed(distribution: str) -> bool:
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def run_pytest(site: Path, *test_folders: Path) -> subprocess.CompletedProcess[str]:
    """Packages' own test suites, in one fresh interpreter that also sees ``site``; an empty
    ini keeps ganforge's own pytest settings out, so each suite runs as in its package."""
    ini = site.parent / "pytest-plugkit.ini"
    ini.write_text("[pytest]\n")
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(ini), "--rootdir", str(site.parent), *map(str, test_folders)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": path}, timeout=300,
    )  # fmt: skip


def child_venv(folder: Path) -> dict[str, str]:
    """A throw-away virtual environment that sees this environment's packages (ganforge
    included) but installs into itself; returns the environment variables to run in it.

    Its ``python`` and ``pip`` are the real ones; a ``ganforge`` script runs the CLI in it.
    Installs are offline when its setuptools allows (see :func:`can_build_offline`)."""
    import site
    import venv

    venv.create(folder, system_site_packages=True, with_pip=False)
    python = folder / "bin" / "python"
    child_site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], capture_output=True, text=True, check=True).stdout.strip())
    base = site.getsitepackages([sys.base_prefix])
    # This environment's site-packages first: another ganforge installed in the base interpreter
    # (an editable one whose checkout is gone, say) must not shadow the one under test. A venv
    # whose setuptools is too old to build offline makes pip fetch one (see can_build_offline).
    parents = [p for p in sys.path if p.endswith("site-packages") and p not in base] + base
    (child_site / "_ganforge_parent_env.pth").write_text("import site; " + "; ".join(f"site.addsitedir({p!r})" for p in parents) + "\n")
    script = folder / "bin" / "ganforge"
    script.write_text(f"#!{python}\nfrom ganforge.cli import main\nmain()\n")
    script.chmod(0o755)
    env = {**os.environ, "PATH": f"{folder / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}", "VIRTUAL_ENV": str(folder), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    offline = subprocess.run([python, "-c", f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import plugkit_install as p; print(p.can_build_offline())"], capture_output=True, text=True, env=env)
    if offline.stdout.strip() == "True":
        env.update(PIP_NO_BUILD_ISOLATION="0", PIP_NO_INDEX="1")  # pip reads "0" here as: do not isolate
    return env
