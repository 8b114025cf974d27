"""``ganforge import esrgan``: the reference networks' outputs (BasicSR's RRDBNet and MSRResNet,
the ESRGAN repository's RRDBNet, run once by bench/make_published_fixtures.py on seeded
weights) reproduced to 1e-4 by the imported run; every key layout; ``upscale``, ``serve`` and
``init_from:`` on the result; damaged and foreign files as one line."""

from __future__ import annotations

import io
import threading
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.artifacts.loading import load_trained

from .conftest import invoke

FIXTURE = Path(__file__).parent / "data" / "esrgan_reference.npz"


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as data:
        return {k: data[k] for k in data.files}


def weights(reference: dict[str, np.ndarray], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) + 1 :]: torch.from_numpy(v) for k, v in reference.items() if k.startswith(prefix + "/")}


def imported(tmp_path: Path, content: object, name: str = "weights.pth") -> Path:
    path = tmp_path / name
    torch.save(content, path)
    run = tmp_path / "run"
    result = invoke("import", "esrgan", str(path), "--out", str(run))
    assert result.exit_code == 0, result.output
    return run


def upscaled(run: Path, lr: np.ndarray, clamp: bool = False) -> torch.Tensor:
    """The imported generator on the [0, 1] input, back in [0, 1] (unclamped: training mode)."""
    generator = load_trained(run, device="cpu").generator
    generator.train(not clamp)
    with torch.no_grad():
        return (generator(torch.zeros(lr.shape[0], 1), lr=torch.from_numpy(lr) * 2 - 1) + 1) / 2


@pytest.mark.parametrize(
    ("layout", "wrap"),
    [("basicsr_rrdb", "params_ema"), ("basicsr_rrdb", "params"), ("basicsr_rrdb", None), ("esrgan_rrdb", None), ("esrgan_old_rrdb", None)],
)
def test_rrdb_matches_the_reference(tmp_path: Path, reference: dict[str, np.ndarray], layout: str, wrap: str | None) -> None:
    state = weights(reference, layout)
    if layout == "esrgan_rrdb":  # saved from a DataParallel model
        state = {f"module.{k}": v for k, v in state.items()}
    run = imported(tmp_path, {wrap: state} if wrap else state)
    out = upscaled(run, reference["lr"])
    expected = torch.from_numpy(reference["rrdb_sr"])
    assert out.shape == expected.shape == (2, 3, 24, 20)
    assert float(expected.std()) > 0.05  # a fixture that shows something
    assert torch.allclose(out, expected, atol=1e-4, rtol=0), float((out - expected).abs().max())
    clamped = upscaled(run, reference["lr"], clamp=True)  # what upscale and serve give
    assert torch.allclose(clamped, expected.clamp(0, 1), atol=1e-4, rtol=0)
    assert (run / "imported.json").is_file() and (run / "spec.yaml").is_file()


@pytest.mark.parametrize("scale", [2, 4])
def test_msrresnet_matches_the_reference(tmp_path: Path, reference: dict[str, np.ndarray], scale: int) -> None:
    run = imported(tmp_path, {"params": weights(reference, f"basicsr_msrresnet_x{scale}")})
    out = upscaled(run, reference["lr"])
    expected = torch.from_numpy(reference[f"msrresnet_x{scale}_sr"])
    assert out.shape == expected.shape == (2, 3, 6 * scale, 5 * scale)
    assert torch.allclose(out, expected, atol=1e-4, rtol=0), float((out - expected).abs().max())


def test_upscale_serve_and_init_from_accept_the_run(tmp_path: Path, reference: dict[str, np.ndarray]) -> None:
    run = imported(tmp_path, {"params_ema": weights(reference, "basicsr_rrdb")})
    photo = tmp_path / "photo.png"
    Image.fromarray((reference["lr"][0].transpose(1, 2, 0) * 255).round().astype(np.uint8)).save(photo)
    result = invoke("upscale", str(run), str(photo), "--out", str(tmp_path / "big.png"), "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "big.png").size == (20, 24)

    from ganforge.artifacts.sampling import sampler_for
    from ganforge.cli.serve import page_info
    from ganforge.serving import SampleServer
    from ganforge.serving.upscale import Upscaler

    trained = load_trained(run, device="cpu")
    sampler = sampler_for(trained)
    server = SampleServer(("127.0.0.1", 0), sampler, page_info(trained, sampler.class_names), trained.experiment.dataset, None, Upscaler(trained.generator))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        request = urllib.request.Request(f"{server.url}upscale", data=photo.read_bytes(), method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200 and Image.open(io.BytesIO(response.read())).size == (20, 24)
    finally:
        server.shutdown()
        server.server_close()

    args = ("--out", str(tmp_path / "tuned"), "--quiet", "--set", "train.steps=1", "--set", "device=cpu", "--set", f"generator.init_from={run}")
    result = invoke("run", str(run / "spec.yaml"), *args)
    assert result.exit_code == 0, result.output
    tuned = load_trained(tmp_path / "tuned", device="cpu", prefer_ema=False).generator.state_dict()["body.0.blocks.0.convs.0.weight"]
    start = weights(reference, "basicsr_rrdb")["body.0.rdb1.conv1.weight"]
    assert not torch.equal(tuned, start) and torch.allclose(tuned, start, atol=1e-3)  # one Adam step of lr 1e-4 from the imported weights


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ({"conv.weight": torch.zeros(1)}, "not an ESRGAN / Real-ESRGAN RRDBNet or BasicSR MSRResNet state dict (its first keys: conv.weight)"),
        ([1, 2], "expected a state dict, found list"),
        ({"params": {"conv_first.weight": torch.zeros(8, 12, 3, 3)} | {"body.0.rdb1.conv1.weight": torch.zeros(4, 8, 3, 3)}}, "a x2 or x1 Real-ESRGAN model"),
        ({"params": {"body.0.rdb1.conv1.weight": torch.zeros(4, 8, 3, 3)}}, "an incomplete super-resolution state dict"),
    ],
    ids=["foreign", "not-a-dict", "x2-realesrgan", "incomplete"],
)
def test_unsupported_files_are_one_line(tmp_path: Path, content: object, fragment: str) -> None:
    path = tmp_path / "w.pth"
    torch.save(content, path)
    result = invoke("import", "esrgan", str(path), "--out", str(tmp_path / "run"))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.count("\n") == 1 and fragment in result.stderr, result.stderr
    assert not (tmp_path / "run").exists()


def test_damaged_or_code_carrying_files_are_one_line(tmp_path: Path, reference: dict[str, np.ndarray]) -> None:
    good = tmp_path / "good.pth"
    torch.save(weights(reference, "basicsr_rrdb"), good)
    (tmp_path / "cut.pth").write_bytes(good.read_bytes()[:300])

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("payload ran",))

    torch.save({"params": Payload()}, tmp_path / "evil.pth")
    for name in ("cut.pth", "evil.pth"):
        result = invoke("import", "esrgan", str(tmp_path / name), "--out", str(tmp_path / "run"))
        assert result.exit_code == 2 and "not a weights file torch can read safely" in result.stderr, result.output
        assert "payload ran" not in result.output and result.stderr.count("\n") == 1
    result = invoke("import", "esrgan", str(good), "--out", str(tmp_path / "run"), "--params", "params_ema")
    assert result.exit_code == 2 and "bare state dict; leave --params out" in result.stderr
    assert invoke("import", "esrgan", str(good), "--out", str(tmp_path / "run")).exit_code == 0
    result = invoke("import", "esrgan", str(good), "--out", str(tmp_path / "run"))
    assert result.exit_code == 2 and "pass --overwrite" in result.stderr
