"""``ganforge import stylegan2-ada``: pickles with the reference's structure, made here from the
weights NVIDIA's stylegan2-ada-pytorch produced (bench/make_published_fixtures.py), read
without running any of their code; the imported G, G_ema and D reproduce the reference's
outputs to 1e-4 at 32x32 (unconditional, RGB) and 64x64 (conditional, grey, conv_clamp);
sample, eval, serve and init_from accept the run; payloads, damaged files, StyleGAN3 and
TensorFlow pickles are one line."""

from __future__ import annotations

import collections
import json
import pickle
import pickletools
import sys
import types
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
import torch

from ganforge.artifacts.loading import load_trained
from ganforge.checkpoint import load_checkpoint

from .conftest import invoke

DATA = Path(__file__).parent / "data"
BUFFERS = ("resample_filter", "noise_const", "w_avg")


@pytest.fixture
def reference_modules(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.SimpleNamespace]:
    """Stand-ins for the modules a real pickle names, so the pickler writes the same globals;
    the import command must never look them up (they record it if it does)."""
    calls: list[str] = []
    persistence = types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta: Any) -> Any:
        calls.append("reconstruct")
        raise AssertionError("the reference's reconstruct function was called")

    _reconstruct_persistent_obj.__module__, _reconstruct_persistent_obj.__qualname__ = "torch_utils.persistence", "_reconstruct_persistent_obj"
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj  # type: ignore[attr-defined]
    util = types.ModuleType("dnnlib.util")

    class EasyDict(dict):
        pass

    EasyDict.__module__, EasyDict.__qualname__ = "dnnlib.util", "EasyDict"
    util.EasyDict = EasyDict  # type: ignore[attr-defined]
    for name, module in {"torch_utils": types.ModuleType("torch_utils"), "torch_utils.persistence": persistence, "dnnlib": types.ModuleType("dnnlib"), "dnnlib.util": util}.items():
        monkeypatch.setitem(sys.modules, name, module)
    yield types.SimpleNamespace(persistence=persistence, EasyDict=EasyDict, calls=calls)


class Persistent:
    """Pickles as the reference's persistent classes do: a call of
    ``torch_utils.persistence._reconstruct_persistent_obj`` with a record of the module source,
    the class name and the object's state."""

    def __init__(self, persistence: types.ModuleType, class_name: str, state: dict[str, Any], source: str = "# module source (not run)\n") -> None:
        self.persistence, self.meta = persistence, {"type": "class", "version": 4, "module_src": source, "class_name": class_name, "state": state}

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.persistence._reconstruct_persistent_obj, (self.meta,))


def module_tree(mods: types.SimpleNamespace, weights: dict[str, torch.Tensor], class_name: str, init_kwargs: dict[str, Any] | None, source: str = "") -> Persistent:
    """A persistent record per module, like torch.nn.Module's __dict__ under the reference's names."""
    own = {k: v for k, v in weights.items() if "." not in k}
    children: dict[str, dict[str, torch.Tensor]] = collections.defaultdict(dict)
    for key, value in weights.items():
        if "." in key:
            head, rest = key.split(".", 1)
            children[head][rest] = value
    state: dict[str, Any] = {
        "training": False,
        "_parameters": collections.OrderedDict((k, torch.nn.Parameter(v, requires_grad=True)) for k, v in own.items() if k not in BUFFERS),
        "_buffers": collections.OrderedDict((k, v) for k, v in own.items() if k in BUFFERS),
        "_non_persistent_buffers_set": set(),
        "_modules": collections.OrderedDict((k, module_tree(mods, v, k.capitalize(), {}, source)) for k, v in children.items()),
        "_forward_hooks": collections.OrderedDict(),
        "weight_gain": np.float64(0.125),  # a numpy scalar, as the reference's layers hold
        "_init_args": (),
        "_init_kwargs": mods.EasyDict({k: mods.EasyDict(v) if isinstance(v, dict) else v for k, v in (init_kwargs or {}).items()}),
    }
    return Persistent(mods.persistence, class_name, state, source or "# module source (not run)\n")


def fixture(stem: str) -> dict[str, np.ndarray]:
    with np.load(DATA / f"{stem}.npz") as data:
        return {k: data[k] for k in data.files}


def network(ref: dict[str, np.ndarray], key: str) -> dict[str, torch.Tensor]:
    return {k[len(key) + 1 :]: torch.from_numpy(v.copy()) for k, v in ref.items() if k.startswith(key + "/")}


def network_pickle(mods: types.SimpleNamespace, ref: dict[str, np.ndarray], source: str = "") -> bytes:
    nets = {key: module_tree(mods, network(ref, key), "Generator" if key.startswith("G") else "Discriminator", json.loads(str(ref[f"{key}.init_kwargs"])), source) for key in ("G", "G_ema", "D")}
    return pickle.dumps({**nets, "augment_pipe": None, "training_set_kwargs": mods.EasyDict(path="~/datasets/x.zip", resolution=32)})


def pickle_globals(data: bytes) -> set[str]:
    found, strings, memo = set(), [], {}
    for opcode, arg, _ in pickletools.genops(data):
        if opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif opcode.name == "MEMOIZE":
            memo[len(memo)] = strings[-1] if strings else None
        elif opcode.name in ("BINGET", "LONG_BINGET") and isinstance(memo.get(arg), str):
            strings.append(memo[arg])
        elif opcode.name == "STACK_GLOBAL":
            found.add(f"{strings[-2]}.{strings[-1]}".replace("numpy._core.", "numpy.core."))
    return found


def imported(tmp_path: Path, data: bytes, name: str = "run") -> Path:
    (tmp_path / "net.pkl").write_bytes(data)
    result = invoke("import", "stylegan2-ada", str(tmp_path / "net.pkl"), "--out", str(tmp_path / name))
    assert result.exit_code == 0, result.output
    return tmp_path / name


@pytest.mark.parametrize("stem", ["sg2ada_32_uncond", "sg2ada_64_cond"])
def test_imported_networks_match_the_reference(tmp_path: Path, reference_modules: types.SimpleNamespace, stem: str) -> None:
    ref = fixture(stem)
    data = network_pickle(reference_modules, ref, source="open('PAYLOAD_RAN', 'w').write('x')\n")
    assert pickle_globals(data) == {g.replace("numpy._core.", "numpy.core.") for g in ref["pickle_globals"]}  # the reference's structure
    run = imported(tmp_path, data)
    assert reference_modules.calls == [] and not Path("PAYLOAD_RAN").exists()  # no code of the pickle ran
    z = torch.from_numpy(ref["z"])
    labels = torch.from_numpy(ref["labels"]) if "labels" in ref else None
    trained = load_trained(run, device="cpu")
    g = trained.generator
    assert trained.uses_ema and g.image_shape == tuple(ref["G_ema.const"].shape[1:])
    with torch.no_grad():
        ws = g.map_latent(z, labels)
        assert torch.allclose(ws, torch.from_numpy(ref["G_ema.ws"]), atol=1e-5)
        outputs = {
            "const": g.synthesis(ws, "const"),
            "none": g.synthesis(ws, "none"),
            "truncated": g.synthesis(g.truncate(z, 0.6, labels=labels), "const"),
        }
        g.truncation_cutoff = 3
        outputs["truncated_cutoff3"] = g.synthesis(g.truncate(z, 0.6, labels=labels), "const")
        outputs["eval"] = g(z, labels)  # eval mode: const noise, clamped as sample and serve see it
    expected = {name: torch.from_numpy(ref[f"G_ema.{name}"]) for name in ("const", "none", "truncated", "truncated_cutoff3")}
    expected["eval"] = expected["const"].clamp(-1, 1)
    for name, out in outputs.items():
        assert float(expected[name].std()) > 0.05
        assert torch.allclose(out, expected[name], atol=1e-4, rtol=0), (name, float((out - expected[name]).abs().max()))
    raw = load_trained(run, device="cpu", prefer_ema=False).generator
    with torch.no_grad():
        assert torch.allclose(raw.synthesis(raw.map_latent(z, labels), "const"), torch.from_numpy(ref["G.const"]), atol=1e-4, rtol=0)
    discriminator = trained.experiment.discriminator
    assert discriminator is not None
    discriminator.load_state_dict(load_checkpoint(run / "checkpoints/last.pt")["discriminator"])
    d_labels = torch.from_numpy(ref["d_labels"]) if "d_labels" in ref else None
    with torch.no_grad():
        scores = discriminator.eval()(torch.from_numpy(ref["images"]), d_labels)
    assert torch.allclose(scores, torch.from_numpy(ref["D.scores"]).flatten(), atol=1e-4, rtol=0)
    record = json.loads((run / "imported.json").read_text())
    assert record["resolution"] == ref["G_ema.const"].shape[-1] and record["training_set_kwargs"]["path"] == "~/datasets/x.zip"


def test_sample_eval_serve_and_init_from_accept_the_run(tmp_path: Path, reference_modules: types.SimpleNamespace, classifier_file: str) -> None:
    (tmp_path / "net.pkl").write_bytes(network_pickle(reference_modules, fixture("sg2ada_64_cond")))
    data = "{name: synthetic, image_size: 64, channels: 1, num_classes: 3, size: 16, batch_size: 4}"
    result = invoke("import", "stylegan2-ada", str(tmp_path / "net.pkl"), "--out", str(tmp_path / "run"), "--data", data)
    assert result.exit_code == 0, result.output
    run = tmp_path / "run"
    assert load_trained(run, device="cpu").experiment.resolved["data"]["size"] == 16  # --data is the run's data
    result = invoke("sample", str(run), "--n", "6", "--truncation", "0.7", "--out", str(tmp_path / "grid.png"), "--device", "cpu")
    assert result.exit_code == 0, result.output
    metric = f"{{name: fid, samples: 16, extractor: {{name: classifier, weights: {classifier_file}}}}}"
    result = invoke("eval", str(run), "--metric", metric, "--device", "cpu", "--json")
    assert result.exit_code == 0, result.output
    measured = json.loads(result.stdout)
    assert np.isfinite(measured["fid"]) and measured["provenance"][metric]["reference"]["samples"] == 16  # against --data's 16 images

    import threading
    import urllib.request

    from ganforge.artifacts.sampling import sampler_for
    from ganforge.cli.serve import page_info
    from ganforge.serving import SampleServer

    trained = load_trained(run, device="cpu")
    sampler = sampler_for(trained)
    server = SampleServer(("127.0.0.1", 0), sampler, page_info(trained, sampler.class_names), trained.experiment.dataset, None, None)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with urllib.request.urlopen(f"{server.url}sample?n=4&seed=3&class=2&truncation=0.7", timeout=60) as response:
            assert response.status == 200 and response.read(8) == b"\x89PNG\r\n\x1a\n"
    finally:
        server.shutdown()
        server.server_close()
    args = ("--quiet", "--set", "train.steps=1", "--set", "device=cpu", "--set", "data.batch_size=4")
    result = invoke("run", str(run / "spec.yaml"), "--out", str(tmp_path / "tuned"), *args, "--set", f"generator.init_from={run}", "--set", f"discriminator.init_from={run}")
    assert result.exit_code == 0, result.output
    tuned = load_checkpoint(tmp_path / "tuned/checkpoints/last.pt")["discriminator"]["b4.out.weight"]
    start = load_checkpoint(run / "checkpoints/last.pt")["discriminator"]["b4.out.weight"]
    assert torch.allclose(tuned, start, atol=0.05) and not torch.equal(tuned, start)  # one step from the imported weights


class Payload:
    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, ("open('PAYLOAD_RAN', 'w').write('x')",))


def test_a_code_executing_pickle_is_refused_and_nothing_runs(tmp_path: Path, reference_modules: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ref = fixture("sg2ada_32_uncond")
    hidden = module_tree(reference_modules, network(ref, "G"), "Generator", json.loads(str(ref["G.init_kwargs"])))
    hidden.meta["state"]["_forward_hooks"] = collections.OrderedDict(evil=Payload())  # deep inside a network's state
    cases = {"top.pkl": pickle.dumps(Payload()), "nested.pkl": pickle.dumps({"G": hidden, "D": hidden, "G_ema": hidden})}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        result = invoke("import", "stylegan2-ada", name, "--out", str(tmp_path / "run"))
        assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.output
        assert "refers to builtins.exec, which unpickling would import and could run" in result.stderr
        assert not (tmp_path / "PAYLOAD_RAN").exists() and not (tmp_path / "run").exists()


def test_damaged_stylegan3_and_tensorflow_pickles_are_one_line(tmp_path: Path, reference_modules: types.SimpleNamespace) -> None:
    good = network_pickle(reference_modules, fixture("sg2ada_32_uncond"))
    g3 = module_tree(reference_modules, {"synthesis.input.weight": torch.zeros(2), "synthesis.L0_36_512.weight": torch.zeros(2)}, "Generator", {})
    tf = types.ModuleType("dnnlib.tflib.network")

    class Network:
        pass

    Network.__module__, Network.__qualname__ = "dnnlib.tflib.network", "Network"
    tf.Network = Network  # type: ignore[attr-defined]
    sys.modules["dnnlib.tflib.network"] = tf
    try:
        tf_pickle = pickle.dumps((Network(), Network(), Network()))
    finally:
        del sys.modules["dnnlib.tflib.network"]
    cases = {
        "truncated": (good[: len(good) // 2], "cannot read"),
        "empty": (b"", "damaged or not a StyleGAN2-ADA network pickle (EOFError"),
        "garbage": (b"\x80\x04garbage" * 10, "damaged or not a StyleGAN2-ADA network pickle"),
        "other-dict": (pickle.dumps({"generator": 1}), "not a StyleGAN2-ADA network pickle (expected G, D and G_ema networks; found generator)"),
        "a-torch-checkpoint": (None, "is not a StyleGAN2-ADA network pickle"),
        "stylegan3": (pickle.dumps({"G": g3, "D": g3, "G_ema": g3}), "StyleGAN3 (alias-free) generator (synthesis layers input, L0_36_512, ...): not supported yet"),
        "tensorflow": (tf_pickle, "a TensorFlow StyleGAN pickle (dnnlib.tflib.network.Network); convert it with stylegan2-ada-pytorch's legacy.py"),
    }
    for name, (data, fragment) in cases.items():
        path = tmp_path / f"{name}.pkl"
        if data is None:
            torch.save({"x": torch.zeros(2)}, path, _use_new_zipfile_serialization=False)
        else:
            path.write_bytes(data)
        result = invoke("import", "stylegan2-ada", str(path), "--out", str(tmp_path / "run"))
        assert result.exit_code == 2 and "Traceback" not in result.output, (name, result.output)
        assert result.stderr.count("\n") == 1 and fragment in result.stderr, (name, result.stderr)
        assert not (tmp_path / "run").exists()
