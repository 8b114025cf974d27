"""Every command in README.md and docs/ works as written.

Like tests/test_plugkit_contributing.py for CONTRIBUTING.md (which docs/plugins.md includes and
that test runs): the commands of every ```bash block are run or checked, and so are the commands
quoted inline in the text (`ganforge ...`, `python bench/...`, `pytest ...`). Cheap commands run
for real, in-process, in a scratch directory, in the order the pages give them; a training run
gets the overrides in ``TINY`` (synthetic data, 2 steps, tiny networks) appended, so the
run / --resume / --overwrite sequence really runs. Everything else is checked for validity: every
option it uses is in its command's --help (a benchmark's too), and a spec it trains is validated
with its --set overrides. ``NOT_RUN`` gives the reason for each command that is not run, and
every block must parse as bash.
"""

from __future__ import annotations

import re
import runpy
import shlex
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from .conftest import invoke
from .plugkit_install import ROOT
from .test_zoo_specs import offline

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
CI = (ROOT / ".ci" / "run").read_text()
PYPROJECT = (ROOT / "pyproject.toml").read_text()
_FENCE = re.compile(r"^```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^```\s*$", re.M | re.S)
_SPAN = re.compile(r"(?<!`)`([^`]+)`(?!`)")
_PROGRAMS = r"ganforge|python -m ganforge|python -m pytest|pytest|python bench/\S+|pip|torchrun|mkdocs|apt-get"
_INLINE = re.compile(rf"^(?:[A-Z_]+=\S+\s+)*(?:timeout\s+(?:-s\s+\w+\s+)?\d+\s+)?(?:{_PROGRAMS})(?:\s|$)")
_OPERATOR_CHARS = set("();<>|&")  # shlex gives `);` as one token

#: Appended to the training commands that run for real: the spec as written, on data and at a size a test affords.
TINY = (
    "--set", "data={name: synthetic, size: 16, batch_size: 8}", "--set", "train.steps=2", "--set", "metrics=[]",
    "--set", "generator.width=8", "--set", "discriminator.width=8", "--set", "train.samples=4", "--set", "logging.plots=false",
)  # fmt: skip
#: Specs small enough to train for real with TINY.
TRAINED_FOR_REAL = {"specs/lsgan.yaml"}
#: Words that stand for something in the docs, and what the test puts in their place.
PLACEHOLDERS = {"RUN_DIR": "runs/quick", "RUN": "runs/quick"}
#: Values the docs leave to the reader ("M, A as in the row"), and one of the values meant.
VALUES = {"weight: M": "weight: 0.75", "weight: A": "weight: 3.0", "twin_weight: T": "twin_weight: 3.0"}
#: Why a command is checked instead of run, by what it is.
NOT_RUN = {
    "train": "trains for minutes to hours on real data (Fashion-MNIST, MNIST, CIFAR-10, photographs); validated with its --set overrides instead",
    "placeholder spec": "stands for any spec (SPEC, specs/NAME.yaml): its options are checked",
    "placeholder": "has words that stand for the reader's own (KIND, NAME, DIR): its options are checked",
    "named": "names a command in the text, without arguments: checked that the command exists",
    "trained run": "needs a run that an earlier command trains for minutes (runs/vae, runs/srgan, ...)",
    "distributed": "starts several processes (tests/test_distributed_cli.py runs --nproc and torchrun)",
    "conformance": "the conformance kit over every installed component takes minutes; tests/test_plugkit_builtins.py runs it",
    "conditional run": "--class needs a run of a conditional model on a labelled dataset with class names (Fashion-MNIST)",
    "stylegan run": "--style-mix and --noise-variation need a trained StyleGAN run",
    "state dict": "needs a generator state dict written by another tool",
    "serve": "a server that runs until stopped; tests/test_use_serve.py and tests/test_faults_serve.py start it",
    "reconstruct": "needs a trained VAE run",
    "fid": "needs folders of generated and real images (or statistics files) and, for images, Inception weights",
    "stats": "extracts features of a whole real dataset",
    "train-classifier": "trains the domain classifier on Fashion-MNIST for minutes",
    "eval": "evaluates trained runs with metrics of thousands of samples",
    "runs --sort": "sorts by a metric that the tiny run does not log (fid needs a trained domain classifier)",
    "upscale": "needs a trained super-resolution run and photographs",
    "interpolate-weights": "needs two trained ESRGAN runs",
    "import": "needs a published weights file (a StyleGAN2-ADA pickle, an ESRGAN .pth); tests/test_import_*.py import files of the reference's structure",
    "export": "needs a trained run; tests/test_export.py exports the runs it trains",
    "any command": "`python -m ganforge ...` stands for any command: checked that the module runs the same CLI",
    "benchmark": "a benchmark: minutes to hours, and bench/ scripts are not tests; its options are checked against its --help",
    "suite": "the test suite itself: checked against what .ci/run runs, a marker that is declared, files that exist",
    "install": "installs packages: checked against .ci/run and the extras pyproject.toml declares",
    "system package": "installs a Debian package: checked that it is the one ganforge's own error message names",
    "docs server": "serves the site until stopped; .ci/run builds the same site with mkdocs build --strict",
    "docs build": "builds the site: .ci/run runs it before the suite",
    "slurm": "part of a SLURM job script, for a cluster: the script parses as bash, its ganforge command is checked",
    "environment": "sets a variable for the commands after it",
    "sweep": "trains several runs for minutes to hours: its options are checked; tests/test_sweep.py runs sweeps and their report",
    "dataset": "packs the reader's own folder of images: its options are checked; tests/test_data_formats.py runs dataset pack",
}


@dataclass(frozen=True)
class Command:
    page: str
    words: tuple[str, ...]
    fenced: bool  # in a ```bash block (else quoted inline in the text)

    def __str__(self) -> str:
        return f"{self.page}: {shlex.join(self.words)}"


def _lines(body: str) -> list[str]:
    """A block's shell lines: continuations joined, `for X in A B; do ...; done` unrolled."""
    lines = body.replace("\\\n", " ").splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        loop = re.match(r"\s*for (\w+) in ([^;]+); do\s*$", lines[i])
        if loop:
            end = next(j for j in range(i, len(lines)) if lines[j].strip() == "done")
            for value in loop[2].split():
                out += [re.sub(rf"\$\{{?{loop[1]}\}}?", value, line) for line in lines[i + 1 : end]]
            i = end + 1
        else:
            out.append(lines[i])
            i += 1
    return out


def _simple(line: str) -> list[list[str]]:
    """The simple commands of one shell line (split at && ; | and parentheses), comments dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for word in lexer:
        if set(word) <= _OPERATOR_CHARS:
            commands.append([])
        else:
            commands[-1].append(word)
    return [c for c in commands if c]


def _unwrap(words: list[str]) -> tuple[str, ...]:
    """Without leading VAR=value, `timeout`, `srun`; doc notation `[--opt VALUE]` taken as given."""
    while words and ((re.match(r"^\w+=", words[0]) and len(words) > 1) or words[0] in ("srun", "timeout")):
        if words[0] == "timeout":
            words = words[1:]
            while words and (words[0].startswith("-") or words[0].isdigit()):
                words = words[2:] if words[0] == "-s" else words[1:]
        else:
            words = words[1:]
    out, optional = [], False
    for word in words:
        if word.startswith("[") and not optional:
            word, optional = word[1:], True
        if optional and word.endswith("]"):
            word, optional = word[:-1], False
        out.append(word)
    return tuple(out)


def blocks() -> list[tuple[str, str]]:
    return [(str(p.relative_to(ROOT)), m["body"]) for p in PAGES for m in _FENCE.finditer(p.read_text()) if m["lang"] == "bash"]


@cache
def commands() -> list[Command]:
    """Every command of every page, in page order, each once."""
    found: dict[tuple[str, ...], Command] = {}
    for page in PAGES:
        name = str(page.relative_to(ROOT))
        text = page.read_text()
        for match in _FENCE.finditer(text):
            if match["lang"] == "bash":
                for line in _lines(match["body"]):
                    for words in _simple(line):
                        command = Command(name, _unwrap(words), True)
                        found.setdefault(command.words, command)
        for span in _SPAN.finditer(_FENCE.sub("", text)):
            inline = " ".join(span[1].split())
            if _INLINE.match(inline):
                for words in _simple(inline):
                    command = Command(name, _unwrap(words), False)
                    found.setdefault(command.words, command)
    return list(found.values())


def _ganforge_args(words: tuple[str, ...]) -> tuple[str, ...] | None:
    """The arguments after `ganforge`, `python -m ganforge` or a launcher's `-m ganforge`."""
    if words[0] == "ganforge":
        return words[1:]
    for i in range(len(words) - 1):
        if words[i : i + 2] == ("-m", "ganforge") and words[0] in ("python", "torchrun"):
            return words[i + 2 :]
    return None


def _spec(args: tuple[str, ...]) -> str:
    return next((a for a in args[1:] if not a.startswith("-") and a.endswith(".yaml")), "")


def plan(command: Command) -> str | None:
    """None when the command runs for real, else the NOT_RUN key saying why not."""
    words = command.words
    args = _ganforge_args(words)
    if args is not None:
        if not args or args == ("...",):
            return "any command"
        sub, options = args[0], set(args)
        if words[0] == "torchrun" or "--nproc" in options:
            return "distributed"
        if len(args) == 1 and not command.fenced and sub != "list":
            return "named"
        if sub in ("run", "validate"):
            spec = _spec(args)
            if not (ROOT / spec).is_file():
                return "placeholder spec"
            if sub == "validate" and "--steps" not in options:
                return None  # validating is cheap: as written, with the spec's own data
            return None if spec in TRAINED_FOR_REAL else "train"
        if any(re.fullmatch(r"[A-Z][A-Z_]+", a) and a not in PLACEHOLDERS for a in args):
            return "placeholder"
        if sub in ("sample", "plot") and args[1:2] and args[1] not in PLACEHOLDERS and "--spec" not in options:
            return "trained run"
        if sub == "plugins":
            return "conformance" if "--check" in options else None
        if sub in ("list", "new-plugin", "plot"):
            return None
        if sub == "sample":
            if "--class" in options:
                return "conditional run"
            if options & {"--style-mix", "--noise-variation"}:
                return "stylegan run"
            return "state dict" if "--spec" in options else None
        if sub == "runs":
            return "runs --sort" if "--sort" in options else None
        return sub  # serve, reconstruct, fid, stats, ... (NOT_RUN says why, or the test below fails)
    program = words[0]
    if all(re.match(r"^\w+=", w) for w in words):
        return "environment"
    if program == "python" and len(words) > 1 and words[1].startswith("bench/"):
        return "benchmark"
    if program in ("pytest",) or words[:3] == ("python", "-m", "pytest"):
        return "suite"
    if program == "export":
        return "environment"
    if program == "mkdocs":
        return "docs server" if "serve" in words else "docs build"
    by_program = {"pip": "install", "apt-get": "system package", "scontrol": "slurm", "head": "slurm"}
    return by_program.get(program, f"unknown program {program}")


def test_every_command_is_run_or_has_a_reason() -> None:
    found = commands()
    assert len([c for c in found if c.fenced]) >= 60 and len([c for c in found if not c.fenced]) >= 20
    unexplained = [f"{c}: {plan(c)}" for c in found if plan(c) is not None and plan(c) not in NOT_RUN]
    assert not unexplained, "no rule for these commands; run them below or add a reason to NOT_RUN:\n" + "\n".join(unexplained)
    used = {plan(c) for c in found}
    assert not set(NOT_RUN) - used, f"reasons no command needs any more: {sorted(set(NOT_RUN) - used)}"


def test_every_block_parses_as_bash() -> None:
    for page, body in blocks():
        result = subprocess.run(["bash", "-n"], input=body, capture_output=True, text=True)
        assert result.returncode == 0, f"{page}: {result.stderr}\n{body}"


def _placed(args: tuple[str, ...]) -> list[str]:
    out = []
    for arg in args:
        for written, meant in VALUES.items():
            arg = arg.replace(written, meant)
        out.append(PLACEHOLDERS.get(arg, arg))
    return out


def test_cheap_commands_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "specs").symlink_to(ROOT / "specs")
    ran = []
    for command in commands():
        args = _ganforge_args(command.words)
        if plan(command) is not None or args is None:
            continue
        argv = _placed(args)
        if args[0] == "run" or "--steps" in args:
            argv += TINY
        result = invoke(*argv)
        assert result.exit_code == 0, f"{command}\n{result.output}"
        ran.append(args[0])
    assert {"list", "validate", "run", "sample", "plot", "plugins", "new-plugin"} <= set(ran), ran
    assert (tmp_path / "runs" / "quick" / "checkpoints" / "last.pt").is_file()
    assert (tmp_path / "images").is_dir() and (tmp_path / "walk.png").is_file()
    assert (tmp_path / "ganforge-my-loss" / "pyproject.toml").is_file()


@cache
def _help(*sub: str) -> str:
    result = invoke(*sub, "--help")
    assert result.exit_code == 0, f"`ganforge {' '.join(sub)}` is not a command:\n{result.output}"
    return result.output


#: groups whose subcommand takes the options (``ganforge import esrgan FILE --out DIR``).
GROUPS = ("import", "dataset")  # command groups: the subcommand takes the options


def _has_option(help_text: str, option: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_text) is not None


def test_ganforge_commands_are_valid() -> None:
    """Each command exists and takes the options used; each spec trained validates with the
    command's --set overrides (placeholder values filled in as VALUES says)."""
    for command in commands():
        args = _ganforge_args(command.words)
        if not args or args == ("...",):
            continue
        if args[0] == "sweep":
            help_text = _help(args[0], "report" if args[1:2] == ("report",) else "run")
        else:
            help_text = _help(*args[:2]) if args[0] in GROUPS and len(args) > 1 else _help(args[0])
        for option in [a.split("=")[0] for a in args[1:] if a.startswith("-")]:
            assert _has_option(help_text, option), f"{command}: `ganforge {args[0]}` has no {option}"
        if args[0] in ("run", "validate") and (ROOT / _spec(args)).is_file():
            spec = _spec(args)
            overrides = [w for pair in zip(args, args[1:]) if pair[0] == "--set" for w in ("--set", _placed(pair[1:])[0])]
            overrides += offline(ROOT / spec)  # a second stage's init_from, VGG19 weights: as the zoo's test does
            result = invoke("validate", str(ROOT / spec), *overrides)
            assert result.exit_code == 0, f"{command}\n{result.output}"
    assert "from ganforge.cli import main" in (ROOT / "ganforge" / "__main__.py").read_text()  # `python -m ganforge` is the CLI


def _bench_help(script: str, capsys: pytest.CaptureFixture[str]) -> str:
    """``python SCRIPT --help``, run in this process (torch is imported already): argparse prints and exits 0."""
    argv, path = list(sys.argv), list(sys.path)
    capsys.readouterr()
    sys.argv = [str(ROOT / script), "--help"]
    try:
        with pytest.raises(SystemExit) as exited:
            runpy.run_path(str(ROOT / script), run_name="__main__")
    finally:
        sys.argv, sys.path[:] = argv, path
    assert exited.value.code == 0, script
    return capsys.readouterr().out


def test_benchmarks_take_the_options_used(capsys: pytest.CaptureFixture[str]) -> None:
    helps: dict[str, str] = {}
    for command in [c for c in commands() if plan(c) == "benchmark"]:
        script = command.words[1]
        if script not in helps:
            helps[script] = _bench_help(script, capsys)
            assert "usage:" in helps[script], script
        for option in [w for w in command.words[2:] if w.startswith("--")]:
            assert _has_option(helps[script], option), f"{command}: {script} has no {option}"


def test_other_programs_match_the_project() -> None:
    """pytest, pip, apt-get and mkdocs commands say what CI runs and what the project declares."""
    extras = set(re.findall(r"^(\w+) = \[", PYPROJECT.split("[project.optional-dependencies]")[1].split("\n[")[0], re.M))
    for command in commands():
        words = command.words
        kind = plan(command)
        if kind == "suite":
            rest = words[3:] if words[0] == "python" else words[1:]
            if not rest:
                assert "\npython3 -m pytest\n" in CI, command
            if rest[:1] == ("-m",):
                assert f'"{rest[1]}:' in PYPROJECT, f"{command}: marker {rest[1]} is not declared"
                rest = rest[2:]
            if rest[:1] == ("-n",):  # pytest-xdist's workers: the test extra must install it
                assert '"pytest-xdist' in PYPROJECT and (rest[1].isdigit() or rest[1] == "auto"), command
                rest = rest[2:]
            for pattern in rest:
                assert list(ROOT.glob(pattern)), f"{command}: no file matches {pattern}"
        elif kind == "install":
            target = words[-1]
            if target in (".", ".[test]", "./plugins/ganforge-boundary-seeking"):
                assert target == "." or f"python3 -m pip install --quiet {shlex.join(words[2:]).replace(chr(39), chr(34))}" in CI, command
            else:
                extra = re.fullmatch(r"(?:ganforge|\.)\[(\w+)\]", target)
                assert extra and extra[1] in extras, f"{command}: pyproject.toml declares no such extra"
        elif kind == "system package" and "install" in words:
            package = words[-1]
            assert package in (ROOT / "plugins" / "ganforge_builtins" / "data" / "idx.py").read_text(), command
        elif kind in ("docs server", "docs build"):
            assert "\npython3 -m mkdocs build --strict" in CI and (ROOT / "mkdocs.yml").is_file(), command
