"""The two SR stages through the CLI: a pixel-loss run, an adversarial run warm-started from it,
network interpolation between them, ``ganforge upscale`` on images, folders and bad files, and
``POST /upscale`` on ``ganforge serve``."""

from __future__ import annotations

import io
import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.checkpoint import load_checkpoint
from ganforge.testing import TinyGenerator

from .conftest import invoke

PIXEL_STAGE = """\
seed: 0
device: cpu
generator: {{name: srresnet, scale: 2, blocks: 1, width: 8}}
discriminator: null
loss: {{name: pixel, distance: mse}}
data: {{name: super-resolution, root: {root}, hr_size: 16, scale: 2, crops: 4, batch_size: 4}}
optimizers:
  generator: {{name: Adam, lr: 1.0e-3}}
train: {{steps: 3, log_every: 1, samples: 4}}
metrics: [{{name: psnr, every: 3}}]
"""

ADVERSARIAL_STAGE = """\
seed: 1
device: cpu
generator: {{name: srresnet, scale: 2, blocks: 1, width: 8, init_from: {init}}}
discriminator: {{name: vgg-style, width: 4}}
loss: {{name: bce}}
penalties: [{{name: pixel, distance: l1, weight: 2.0}}]
data: {{name: super-resolution, root: {root}, hr_size: 16, scale: 2, crops: 4, batch_size: 4}}
optimizers:
  generator: {{name: Adam, lr: 1.0e-3}}
  discriminator: {{name: Adam, lr: 1.0e-3}}
train: {{steps: {steps}, log_every: 1, samples: 4}}
"""


def write_photos(folder: Path, sizes: dict[str, tuple[int, int]], mode: str = "RGB") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, (h, w) in sizes.items():
        shape = (h, w, 3) if mode == "RGB" else (h, w)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(folder / name)
    return folder


@pytest.fixture
def pixel_run(tmp_path: Path) -> Path:
    root = write_photos(tmp_path / "photos", {"a.png": (24, 30), "b.png": (32, 20)})
    spec = tmp_path / "srresnet.yaml"
    spec.write_text(PIXEL_STAGE.format(root=root))
    result = invoke("run", str(spec), "--out", str(tmp_path / "pixel"), "--quiet")
    assert result.exit_code == 0, result.output
    return tmp_path / "pixel"


def adversarial(tmp_path: Path, pixel_run: Path, steps: int, name: str) -> Path:
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(ADVERSARIAL_STAGE.format(root=tmp_path / "photos", init=pixel_run, steps=steps))
    result = invoke("run", str(spec), "--out", str(tmp_path / name), "--quiet")
    assert result.exit_code == 0, result.output
    return tmp_path / name


def test_two_stages_warm_start_and_interpolation(tmp_path: Path, pixel_run: Path) -> None:
    records = (pixel_run / "metrics.jsonl").read_text()
    assert '"psnr"' in records and '"psnr_bicubic"' in records
    first = load_checkpoint(pixel_run / "checkpoints/last.pt")
    assert first["discriminator"] is None
    # warm start: before any step, the adversarial run's generator is the pixel run's
    started = load_checkpoint(adversarial(tmp_path, pixel_run, 0, "start") / "checkpoints/last.pt")
    assert all(torch.equal(started["generator"][k], v) for k, v in first["generator"].items())
    trained = adversarial(tmp_path, pixel_run, 2, "gan")
    second = load_checkpoint(trained / "checkpoints/last.pt")
    assert any(not torch.equal(second["generator"][k], v) for k, v in first["generator"].items())

    result = invoke("interpolate-weights", str(pixel_run), str(trained), "--alpha", "0.8", "--out", str(tmp_path / "interp"))
    assert result.exit_code == 0, result.output
    blended = load_checkpoint(tmp_path / "interp/checkpoints/last.pt")
    for name, value in blended["generator"].items():
        if value.is_floating_point():
            assert torch.allclose(value, 0.2 * first["generator"][name] + 0.8 * second["generator"][name], atol=1e-6)
        else:
            assert torch.equal(value, second["generator"][name])
    image = write_photos(tmp_path / "in", {"x.png": (9, 11)}) / "x.png"
    result = invoke("upscale", str(tmp_path / "interp"), str(image), "--out", str(tmp_path / "x2.png"))
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "x2.png").size == (22, 18)
    before = (tmp_path / "interp/checkpoints/last.pt").read_bytes()
    again = invoke("interpolate-weights", str(pixel_run), str(trained), "--alpha", "0.5", "--out", str(tmp_path / "interp"))
    assert again.exit_code == 2
    assert again.stderr.strip() == f"Error: {tmp_path / 'interp/checkpoints/last.pt'} exists; pass --overwrite to replace it, or choose another --out"
    assert (tmp_path / "interp/checkpoints/last.pt").read_bytes() == before
    replaced = invoke("interpolate-weights", str(pixel_run), str(trained), "--alpha", "0.5", "--out", str(tmp_path / "interp"), "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert [json.loads(line)["interpolation/alpha"] for line in (tmp_path / "interp/metrics.jsonl").read_text().splitlines()] == [0.5]


def test_interpolating_different_generators_is_refused(tmp_path: Path, pixel_run: Path, tiny_spec: Path) -> None:
    other = tmp_path / "dcgan"
    assert invoke("run", str(tiny_spec), "--out", str(other), "--set", "train.steps=1", "--quiet").exit_code == 0
    result = invoke("interpolate-weights", str(pixel_run), str(other), "--out", str(tmp_path / "mix"))
    assert result.exit_code == 2 and "different generators" in result.output
    assert not (tmp_path / "mix").exists()
    result = invoke("upscale", str(other), str(write_photos(tmp_path / "in", {"x.png": (8, 8)})), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "is not a super-resolution run" in result.output and "Traceback" not in result.output


def test_upscale_images_folders_and_bad_files(tmp_path: Path, pixel_run: Path) -> None:
    folder = write_photos(tmp_path / "in", {"big.png": (70, 45), "small.jpg": (5, 6)})
    write_photos(folder, {"grey.png": (12, 10)}, mode="L")
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    (folder / "notes.txt").write_text("ignored: not an image extension")
    result = invoke("upscale", str(pixel_run), str(folder), "--out", str(tmp_path / "out"), "--tile", "16", "--overlap", "8")
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "broken.png" in errors[0] and "cannot read the image" in errors[0]
    sizes = {p.name: Image.open(p).size for p in (tmp_path / "out").iterdir()}
    assert sizes == {"big.png": (90, 140), "small.png": (12, 10), "grey.png": (20, 24)}
    assert Image.open(tmp_path / "out/grey.png").mode == "RGB"  # colour as trained
    # the tiled big image equals one pass at this network's small receptive field
    whole = invoke("upscale", str(pixel_run), str(folder / "big.png"), "--out", f"{tmp_path / 'whole'}/", "--tile", "512")
    assert whole.exit_code == 0, whole.output
    a = np.asarray(Image.open(tmp_path / "whole/big.png")).astype(int)
    b = np.asarray(Image.open(tmp_path / "out/big.png")).astype(int)
    assert np.abs(a - b).max() <= 1
    kept = (tmp_path / "out/big.png").read_bytes()
    refused = invoke("upscale", str(pixel_run), str(folder / "grey.png"), "--out", str(tmp_path / "out/big.png"))
    assert refused.exit_code == 2 and f"{tmp_path / 'out/big.png'} exists; pass --overwrite" in refused.stderr
    assert (tmp_path / "out/big.png").read_bytes() == kept
    replaced = invoke("upscale", str(pixel_run), str(folder / "grey.png"), "--out", str(tmp_path / "out/big.png"), "--overwrite")
    assert replaced.exit_code == 0 and Image.open(tmp_path / "out/big.png").size == (20, 24)
    as_jpeg = invoke("upscale", str(pixel_run), str(folder / "grey.png"), "--out", str(tmp_path / "out/grey.JPG"))
    assert as_jpeg.exit_code == 0 and Image.open(tmp_path / "out/grey.JPG").format == "JPEG"  # the format its name says
    under_a_file = invoke("upscale", str(pixel_run), str(folder / "grey.png"), "--out", str(tmp_path / "out/big.png/x.png"))
    assert under_a_file.exit_code == 2 and under_a_file.stderr.strip() == f"Error: cannot make the folder {tmp_path / 'out/big.png'}: {tmp_path / 'out/big.png'} is a file"
    write_photos(folder, {"big.jpg": (8, 8)})
    clash = invoke("upscale", str(pixel_run), str(folder), "--out", str(tmp_path / "fresh"))
    assert clash.exit_code == 2 and f"would both be written to {tmp_path / 'fresh/big.png'}" in clash.stderr
    assert not (tmp_path / "fresh").exists()
    missing = invoke("upscale", str(pixel_run), str(tmp_path / "nothing.png"), "--out", str(tmp_path / "o.png"))
    assert missing.exit_code == 2 and "does not exist" in missing.output
    sampled = invoke("sample", str(pixel_run), "--out", str(tmp_path / "grid.png"))
    assert sampled.exit_code == 2 and "ganforge upscale" in sampled.output and "Traceback" not in sampled.output


def _post(url: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/octet-stream"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _encoded(mode: str, size: tuple[int, int], format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color=128 if mode == "L" else None).save(buffer, format=format)
    return buffer.getvalue()


def test_serve_upscale_route(pixel_run: Path) -> None:
    from ganforge.artifacts.loading import load_trained
    from ganforge.artifacts.sampling import sampler_for
    from ganforge.cli.serve import page_info
    from ganforge.serving import SampleServer
    from ganforge.serving.upscale import Upscaler

    trained = load_trained(pixel_run, device="cpu")
    sampler = sampler_for(trained)
    upscaler = Upscaler(trained.generator, max_bytes=20_000, max_pixels=40 * 40)
    server = SampleServer(("127.0.0.1", 0), sampler, page_info(trained, sampler.class_names), trained.experiment.dataset, None, upscaler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"{server.url}upscale"
    try:
        status, body = _post(url, _encoded("RGB", (13, 9)))
        assert status == 200 and Image.open(io.BytesIO(body)).size == (26, 18)
        status, body = _post(url, _encoded("RGB", (13, 9), "JPEG"))
        assert status == 200 and Image.open(io.BytesIO(body)).mode == "RGB"
        cases = {
            b"not an image at all": "not a readable PNG or JPEG",
            b"": "needs a PNG or JPEG",
            _encoded("RGB", (41, 40)): "more than the 1600 pixels",
            _encoded("L", (8, 8)): "1 channels (L); this model takes 3 (RGB)",
            _encoded("RGBA", (8, 8)): "4 channels (RGBA)",
            _encoded("RGB", (8, 8), "BMP"): "send a PNG or JPEG",
            bytes(30_000): "more than the 20000 allowed",
        }
        for payload, message in cases.items():
            status, body = _post(url, payload)
            assert status == 400, (message, body)
            assert message in json.loads(body)["error"]
        status, _ = _post(f"{server.url}sample", b"")
        assert status == 405
        with pytest.raises(ValueError, match="reads no 'lr' image"):
            Upscaler(TinyGenerator())
    finally:
        server.shutdown()
        server.server_close()


def test_a_scale_mismatch_between_generator_and_data_is_one_line(tmp_path: Path) -> None:
    root = write_photos(tmp_path / "photos", {"a.png": (24, 30)})
    spec = tmp_path / "mismatch.yaml"
    spec.write_text(PIXEL_STAGE.format(root=root).replace("srresnet, scale: 2", "srresnet, scale: 4"))
    result = invoke("run", str(spec), "--out", str(tmp_path / "run"), "--quiet")
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output and "reads input 'lr' of shape (3, 4, 4)" in errors[0] and "gives (3, 8, 8)" in errors[0], result.output
