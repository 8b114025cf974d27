"""``ganforge export``: ONNX (run with onnxruntime), TorchScript and safetensors files give the
run's generator outputs to 1e-4 at batch sizes other than the traced one; conditional, plain
and super-resolution signatures; the model card; safetensors weights that sample, a flipped
byte in them, a missing optional package, and files never replaced without --overwrite."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.artifacts.loading import load_trained

from .conftest import TINY_SPEC, invoke

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
pytest.importorskip("safetensors")

CONDITIONAL = TINY_SPEC.replace("{name: dcgan, latent_dim: 8, width: 8}", "{name: dcgan, latent_dim: 8, width: 8, num_classes: 3}").replace(
    "{name: dcgan, width: 8}", "{name: dcgan, width: 8, num_classes: 3}"
).replace("{name: synthetic, size: 64, batch_size: 16}", "{name: synthetic, size: 64, batch_size: 16, num_classes: 3}")

STYLEGAN2 = """\
seed: 0
device: cpu
generator: {name: stylegan, style: modulated, latent_dim: 8, w_dim: 8, mapping_layers: 1, width: 8}
discriminator: {name: stylegan, width: 8}
loss: {name: bce}
data: {name: synthetic, size: 32, batch_size: 4, image_size: 8}
optimizers:
  generator: {name: Adam, lr: 0.0025, betas: [0.0, 0.99]}
  discriminator: {name: Adam, lr: 0.0025, betas: [0.0, 0.99]}
train: {steps: 2, log_every: 2, ema: 0.9}
"""


def trained_run(root: Path, spec: str) -> Path:
    (root / "spec.yaml").write_text(spec)
    result = invoke("run", str(root / "spec.yaml"), "--out", str(root / "run"), "--quiet")
    assert result.exit_code == 0, result.output
    return root / "run"


@pytest.fixture(scope="module")
def conditional(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ganforge.plugins import Plugins, set_plugins

    set_plugins(Plugins.create())
    try:
        return trained_run(tmp_path_factory.mktemp("export"), CONDITIONAL)
    finally:
        set_plugins(None)


def reference_images(run: Path, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    generator = load_trained(run, device="cpu").generator
    with torch.no_grad():
        return generator(z, labels).clamp(-1, 1)


def test_onnx_and_torchscript_give_the_generators_outputs(conditional: Path, tmp_path: Path) -> None:
    for fmt in ("onnx", "torchscript"):
        out = tmp_path / f"g.{fmt}"
        result = invoke("export", str(conditional), "--format", fmt, "--out", str(out))
        assert result.exit_code == 0, result.output
        assert "checked, largest difference" in result.output
        for batch in (1, 5):  # neither is the traced batch size (2)
            z = torch.randn(batch, 8, generator=torch.Generator().manual_seed(batch))
            labels = torch.arange(batch) % 3
            expected = reference_images(conditional, z, labels)
            if fmt == "onnx":
                session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
                assert [i.name for i in session.get_inputs()] == ["z", "labels"]
                got = torch.from_numpy(session.run(None, {"z": z.numpy(), "labels": labels.numpy()})[0])
            else:
                got = torch.jit.load(str(out))(z, labels)
            assert got.shape == expected.shape == (batch, 1, 28, 28)
            assert torch.allclose(got, expected, atol=1e-4, rtol=0), float((got - expected).abs().max())
        card = json.loads((tmp_path / f"g.{fmt}.card.json").read_text())
        assert card["kind"] == "conditional" and card["classes"] == ["class 0", "class 1", "class 2"]
        assert card["inputs"][0]["shape"] == ["batch", 8] and card["inputs"][1]["dtype"] == "int64"
        assert card["output"]["shape"] == ["batch", 1, 28, 28] and "[-1, 1]" in card["output"]["values"]
        assert card["spec"]["generator"]["num_classes"] == 3 and card["source"]["weights"] == "ema"
        assert card["checked"]["max_abs_difference"] <= 1e-4 and "licence" in card
    result = invoke("export", str(conditional), "--format", "onnx", "--out", str(tmp_path / "g.onnx"))
    assert result.exit_code == 2 and "pass --overwrite" in result.stderr


def test_stylegan2_exports_with_a_dynamic_batch(tmp_path: Path) -> None:
    """The modulated convolution runs as a grouped convolution over the batch; exported, it
    must not fix the batch size."""
    run = trained_run(tmp_path, STYLEGAN2)
    out = tmp_path / "sg.pt"
    result = invoke("export", str(run), "--format", "torchscript", "--out", str(out))
    assert result.exit_code == 0, result.output
    z = torch.randn(4, 8, generator=torch.Generator().manual_seed(0))
    got = torch.jit.load(str(out))(z)
    expected = reference_images(run, z)
    assert got.shape == (4, 1, 8, 8) and torch.allclose(got, expected, atol=1e-4, rtol=0), float((got - expected).abs().max())


def test_super_resolution_exports_take_lr_of_any_size(tmp_path: Path) -> None:
    with np.load(Path(__file__).parent / "data" / "esrgan_reference.npz") as data:
        weights = {k.split("/", 1)[1]: torch.from_numpy(data[k]) for k in data.files if k.startswith("basicsr_rrdb/")}
        lr01, sr01 = torch.from_numpy(data["lr"]), torch.from_numpy(data["rrdb_sr"])
    torch.save({"params_ema": weights}, tmp_path / "w.pth")
    assert invoke("import", "esrgan", str(tmp_path / "w.pth"), "--out", str(tmp_path / "run")).exit_code == 0
    result = invoke("export", str(tmp_path / "run"), "--format", "onnx", "--out", str(tmp_path / "sr.onnx"))
    assert result.exit_code == 0, result.output
    session = ort.InferenceSession(str(tmp_path / "sr.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["lr"]
    got = torch.from_numpy(session.run(None, {"lr": (lr01 * 2 - 1).numpy()})[0])  # 6x5, not the traced 12x10
    expected = (sr01 * 2 - 1).clamp(-1, 1)  # the BasicSR reference network's output, in ganforge's range
    assert got.shape == (2, 3, 24, 20) and torch.allclose(got, expected, atol=1e-4, rtol=0), float((got - expected).abs().max())
    card = json.loads((tmp_path / "sr.onnx.card.json").read_text())
    assert card["kind"] == "image-to-image" and card["scale"] == 4 and card["output"]["shape"] == ["batch", 3, "4*height", "4*width"]


def test_safetensors_weights_sample_like_the_run_and_are_checked(conditional: Path, tmp_path: Path) -> None:
    from safetensors import safe_open

    out = tmp_path / "g.safetensors"
    assert invoke("export", str(conditional), "--format", "safetensors", "--out", str(out)).exit_code == 0
    with safe_open(str(out), framework="pt") as f:
        assert set(f.keys()) == set(load_trained(conditional, device="cpu").generator.state_dict())
        assert json.loads(f.metadata()["ganforge.spec"])["generator"]["name"] == "dcgan"
    for target, name in ((conditional, "a.png"), (out, "b.png")):
        result = invoke("sample", str(target), "--n", "6", "--out", str(tmp_path / name), "--device", "cpu")
        assert result.exit_code == 0, result.output
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    data = bytearray(out.read_bytes())
    data[-10] ^= 0x01  # a bit of the last tensor
    out.write_bytes(bytes(data))
    result = invoke("sample", str(out), "--out", str(tmp_path / "c.png"), "--device", "cpu")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "do not match the digest" in result.stderr, result.output


def test_a_missing_package_is_one_line(conditional: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails
    result = invoke("export", str(conditional), "--format", "onnx", "--out", str(tmp_path / "g.onnx"))
    assert result.exit_code == 2 and result.stderr.strip() == "Error: exporting to this format needs the package onnxruntime: pip install 'ganforge[onnx]'"
    assert not (tmp_path / "g.onnx").exists()
