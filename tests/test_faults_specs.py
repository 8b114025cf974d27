"""Fault suite, specs: a corpus of malformed specs, each through the real CLI (`validate` and
`run`): exit code 2, one line per problem naming where it is, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import TINY_SPEC, invoke


def sub(old: str, new: str) -> str:
    assert old in TINY_SPEC, old
    return TINY_SPEC.replace(old, new, 1)


G = "{name: dcgan, latent_dim: 8, width: 8}"
DATA = "{name: synthetic, size: 64, batch_size: 16}"
TRAIN = "{steps: 6, log_every: 2, ema: 0.9}"
BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi")
)

#: (case, spec text or bytes, a fragment of the error, how many problem lines)
CORPUS: list[tuple[str, str | bytes, str, int]] = [
    # types
    ("latent-dim-string", sub(G, "{name: dcgan, latent_dim: eight, width: 8}"), "generator.latent_dim: expected int >= 1, got 'eight'", 1),
    ("width-float", sub(G, "{name: dcgan, latent_dim: 8, width: 8.5}"), "generator.width: expected int >= 1, got 8.5", 1),
    ("width-bool", sub(G, "{name: dcgan, latent_dim: 8, width: true}"), "expected int >= 1, got True (bool)", 1),
    ("width-list", sub(G, "{name: dcgan, latent_dim: 8, width: [8]}"), "expected int >= 1, got [8] (list)", 1),
    ("lsgan-a-string", sub("{name: lsgan}", "{name: lsgan, a: zero}"), "loss.a: expected float, got 'zero'", 1),
    ("ema-string", sub(TRAIN, "{steps: 6, log_every: 2, ema: high}"), "train.ema: expected float in (0, 1) | null", 1),
    ("seed-string", "seed: abc\n" + TINY_SPEC.split("\n", 1)[1], "seed: expected int in [0, ", 1),
    ("device-number", sub("device: cpu", "device: 3"), "device: expected str, got 3", 1),
    ("device-unknown", sub("device: cpu", "device: tpu"), "device must be auto, cpu, cuda, cuda:N or mps", 1),
    ("betas-scalar", sub("betas: [0.5, 0.999]}\n  disc", "betas: 0.5}\n  disc"), "optimizers.generator.betas: expected", 1),
    ("batch-size-string", sub(DATA, "{name: synthetic, size: 64, batch_size: big}"), "data.batch_size: expected int >= 1, got 'big'", 1),
    ("batch-size-float", sub(DATA, "{name: synthetic, size: 64, batch_size: 12.5}"), "data.batch_size: expected int >= 1, got 12.5", 1),
    ("tensorboard-string", TINY_SPEC + "logging: {tensorboard: yes please}\n", "logging.tensorboard: expected bool", 1),
    ("nan-dropout", sub("{name: dcgan, width: 8}", "{name: dcgan, width: 8, dropout: .nan}"), "discriminator.dropout: expected float in [0, 1), got nan", 1),
    # ranges
    ("latent-dim-zero", sub(G, "{name: dcgan, latent_dim: 0, width: 8}"), "generator.latent_dim: expected int >= 1, got 0", 1),
    ("width-negative", sub(G, "{name: dcgan, latent_dim: 8, width: -8}"), "generator.width: expected int >= 1, got -8", 1),
    ("batch-size-zero", sub(DATA, "{name: synthetic, size: 64, batch_size: 0}"), "data.batch_size: expected int >= 1, got 0", 1),
    ("batch-size-negative", sub(DATA, "{name: synthetic, size: 64, batch_size: -5}"), "data.batch_size: expected int >= 1, got -5", 1),
    ("ema-one", sub(TRAIN, "{steps: 6, log_every: 2, ema: 1.0}"), "train.ema: expected float in (0, 1) | null, got 1.0", 1),
    ("steps-negative", sub(TRAIN, "{steps: -1, log_every: 2, ema: 0.9}"), "train.steps: expected int >= 0 | null, got -1", 1),
    ("d-steps-zero", sub(TRAIN, "{steps: 6, log_every: 2, ema: 0.9, d_steps: 0}"), "train.d_steps: expected int >= 1, got 0", 1),
    ("label-noise-half", sub("{name: lsgan}", "{name: bce, label_noise: 0.5}"), "loss.label_noise: expected float in [0, 0.5), got 0.5", 1),
    ("dropout-one", sub("{name: dcgan, width: 8}", "{name: dcgan, width: 8, dropout: 1.0}"), "discriminator.dropout: expected float in [0, 1), got 1.0", 1),
    ("image-size-tiny", sub(DATA, "{name: synthetic, size: 64, batch_size: 16, image_size: 2}"), "data.image_size: expected int >= 4, got 2", 1),
    ("r1-gamma-negative", TINY_SPEC + "penalties: [{name: r1, gamma: -1.0}]\n", "penalties.0.gamma: expected float >= 0, got -1.0", 1),
    ("metric-every-zero", TINY_SPEC + "metrics: [{name: kid, every: 0}]\n", "metrics.0.every: every must be a number of steps", 1),
    ("metric-every-missing", TINY_SPEC + "metrics: [{name: kid}]\n", "metrics.0: missing every: how often to compute kid, in steps (every: 500) or epochs (every: 1 epoch)", 1),
    ("name-a-path", TINY_SPEC + "name: ../../escape\n", "name: expected one word of letters, digits, '.', '_' or '-' (runs go to runs/NAME/), got '../../escape'", 1),
    ("metric-samples-one", TINY_SPEC + "metrics: [{name: fid, samples: 1, every: 2}]\n", "metrics.0.samples: expected int >= 2, got 1", 1),
    ("three-ranges-at-once", sub(TRAIN, "{steps: -1, log_every: 0, ema: 2.0}"), "train.", 3),
    # huge numbers
    ("latent-dim-infinite", sub(G, "{name: dcgan, latent_dim: 1e400, width: 8}"), "generator.latent_dim: expected int >= 1, got inf", 1),
    ("batch-size-infinite", sub(DATA, "{name: synthetic, size: 64, batch_size: 1e400}"), "data.batch_size: expected int >= 1, got inf", 1),
    ("seed-beyond-int64", "seed: 99999999999999999999999999\n" + TINY_SPEC.split("\n", 1)[1], "seed: expected int in [0, 9223372036854775807]", 1),
    ("steps-infinite", sub(TRAIN, "{steps: .inf, log_every: 2, ema: 0.9}"), "train.steps: expected int >= 0 | null, got inf", 1),
    ("seed-400-digits", "seed: " + "9" * 400 + "\n" + TINY_SPEC.split("\n", 1)[1], "seed: expected int in [0, ", 1),
    # structure and nesting
    ("unknown-section", TINY_SPEC + "trainer: {steps: 3}\n", "unknown section 'trainer' (did you mean 'train'?)", 1),
    ("unknown-parameter", sub(G, "{name: dcgan, latent_dim: 8, widht: 8}"), "unknown parameter 'widht' for generator 'dcgan' (did you mean 'width'?)", 1),
    ("unknown-component", sub("{name: lsgan}", "{name: lsgna}"), "unknown loss 'lsgna' (did you mean 'lsgan'?)", 1),
    ("missing-section", TINY_SPEC.replace("loss: {name: lsgan}\n", ""), "missing required section 'loss:'", 1),
    ("section-is-a-list", sub(G, "[dcgan, 8]"), "generator: expected a generator as {name: <registered name>", 1),
    ("no-name", sub(G, "{latent_dim: 8, width: 8}"), "generator: expected a generator as {name:", 1),
    ("train-is-a-list", sub(TRAIN, "[6, 2]"), "train must be a mapping", 1),
    ("penalties-mapping", TINY_SPEC + "penalties: {name: r1}\n", "'penalties' must be a list", 1),
    ("optimizers-list", sub("optimizers:\n  generator: {name: Adam, lr: 2.0e-4, betas: [0.5, 0.999]}\n  discriminator: {name: Adam, lr: 2.0e-4, betas: [0.5, 0.999]}", "optimizers: [Adam]"), "optimizers must map generator/discriminator", 1),
    ("optimizer-role-typo", sub("  discriminator: {name: Adam", "  discriminatr: {name: Adam"), "unknown optimizer role 'discriminatr' (did you mean 'discriminator'?)", 1),
    ("optimizer-unknown", sub("{name: Adam, lr: 2.0e-4, betas: [0.5, 0.999]}\n  disc", "{name: Adma}\n  disc"), "unknown optimizer 'Adma' (did you mean 'Adam'?)", 1),
    ("generator-under-data", sub(DATA, "{name: synthetic, size: 64, batch_size: 16, generator: {name: dcgan}}"), "unknown parameter 'generator' for dataset 'synthetic'", 1),
    ("duplicate-key", TINY_SPEC + "seed: 1\n", "duplicate key 'seed'", 1),
    ("top-level-list", "- generator\n- discriminator\n", "a spec must be a mapping of sections", 1),
    ("top-level-scalar", "just a string\n", "a spec must be a mapping of sections", 1),
    ("empty-file", "", "a spec must be a mapping of sections", 1),
    ("list-as-key", "? [a, b]\n: 1\n", "invalid YAML: found unhashable key", 1),
    ("every-problem-at-once", TINY_SPEC.replace("loss: {name: lsgan}\n", "").replace("width: 8}\ndisc", "width: 0}\ndisc") + "trian: {}\n", "", 3),
    # YAML syntax
    ("unclosed-brace", sub(G, "{name: dcgan, latent_dim: 8"), "invalid YAML:", 1),
    ("tab-indent", "generator: {name: dcgan}\n\tbad: tab\n", "invalid YAML: found character '\\t' that cannot start any token", 1),
    ("bad-indent", "generator:\n  name: dcgan\n    width: 8\n", "invalid YAML: mapping values are not allowed here", 1),
    ("unterminated-quote", sub("device: cpu", "device: 'cpu"), "invalid YAML:", 1),
    ("deep-nesting", "a: " + "[" * 5000 + "]" * 5000 + "\n", "invalid YAML: nested more than a few hundred levels deep", 1),
    ("recursive-alias", "a: &a [*a]\n", "an alias refers to a mapping or list that contains it", 1),
    ("billion-laughs", BILLION_LAUGHS, "the spec expands to more than 100000 values", 1),
    # tags that would execute code
    ("python-object-apply", "generator: !!python/object/apply:os.system [\"echo pwned > PWNED\"]\n", "could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'", 1),
    ("python-object-new", "x: !!python/object/new:subprocess.Popen [[touch, PWNED]]\n", "could not determine a constructor for the tag", 1),
    ("python-name", "x: !!python/name:os.system\n", "could not determine a constructor for the tag", 1),
    ("python-module", "x: !!python/module:os\n", "could not determine a constructor for the tag", 1),
    ("unknown-local-tag", sub(G, "!dcgan {latent_dim: 8}"), "could not determine a constructor for the tag '!dcgan'", 1),
    # binary and non-text files
    ("binary-file", b"\x00\x01\x02\xff\xfe\x89PNG\r\n", "not a YAML text file (byte 3 is not UTF-8 text)", 1),
    ("nul-bytes-in-text", b"generator: {name: dcgan}\x00\n", "invalid YAML:", 1),
    ("latin-1-text", "device: c\xe9pu\n".encode("latin-1"), "not a YAML text file", 1),
]


@pytest.mark.parametrize(("case", "text", "fragment", "problems"), CORPUS, ids=[c[0] for c in CORPUS])
def test_malformed_spec_is_refused_in_one_line_per_problem(tmp_path: Path, case: str, text: str | bytes, fragment: str, problems: int) -> None:
    path = tmp_path / f"{case}.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    result = invoke("validate", str(path))
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == problems, result.stderr
    assert all(line.startswith(f"Error: {path}") for line in lines), result.stderr
    assert fragment in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()


RUN_CASES = [c for c in CORPUS if c[0] in ("batch-size-string", "batch-size-zero", "batch-size-negative", "batch-size-float", "latent-dim-zero", "python-object-apply", "binary-file", "billion-laughs")]


@pytest.mark.parametrize(("case", "text", "fragment", "problems"), RUN_CASES, ids=[c[0] for c in RUN_CASES])
def test_run_refuses_them_too_before_creating_anything(tmp_path: Path, case: str, text: str | bytes, fragment: str, problems: int) -> None:
    path = tmp_path / f"{case}.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    out = tmp_path / "run"
    result = invoke("run", str(path), "--out", str(out), "--quiet")
    assert result.exit_code == 2 and fragment in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == problems
    assert not out.exists()


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("data.batch_size=big", "--set data.batch_size=big: data.batch_size: expected int >= 1"),
        ("generator={name: [unclosed", "--set generator={name: [unclosed: value is not valid YAML"),
        ("generator=!!python/object/apply:os.system [id]", "value is not valid YAML: could not determine a constructor"),
        ("train.steps", "--set train.steps: expected dotted.key=value"),
        ("=3", "expected dotted.key=value"),
        ("optimizers.generator.betas.7=0.1", "'7' is not an index of the list at optimizers.generator.betas"),
        ("seed.value=3", "seed: expected int in [0, "),
        ("a=" + "[" * 3000, "--set a="),
    ],
)  # fmt: skip
def test_malformed_overrides_are_one_line(tiny_spec: Path, override: str, fragment: str) -> None:
    result = invoke("validate", str(tiny_spec), "--set", override)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and fragment in result.stderr, result.stderr
    assert "Traceback" not in result.output


def test_the_corpus_is_large() -> None:
    assert len(CORPUS) >= 40
