"""`ganforge list metric` / `list extractor` say what each component needs (weights, an extra,
a conditional generator) and whether it is available now."""

from __future__ import annotations

import json

import pytest

from tests.conftest import invoke


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    (tmp_path / "weights").mkdir()
    return tmp_path / "weights"


def listed(kind: str) -> dict[str, dict]:
    result = invoke("list", kind, "--json")
    assert result.exit_code == 0, result.output
    return {entry["name"]: entry for entry in json.loads(result.output)}


def test_extractors_say_which_weights_they_need_and_find_them(no_weights) -> None:
    before = listed("extractor")
    inception = before["inception-v3"]
    assert inception["needs"] == ["weights pt_inception-2015-12-05-6726825d.pth"] and not inception["available"]
    assert "pt_inception-2015-12-05-6726825d.pth not found" in inception["unavailable_because"]
    assert before["classifier"]["needs"] == [] and before["classifier"]["available"]
    (no_weights / "pt_inception-2015-12-05-6726825d.pth").write_bytes(b"")
    assert listed("extractor")["inception-v3"]["available"]


def test_vgg19_and_lpips_say_they_need_vgg_weights(no_weights) -> None:
    vgg19 = listed("extractor")["vgg19"]
    assert vgg19["needs"] == ["weights vgg19-dcbb9e9d.pth (none with pretrained: false)"] and not vgg19["available"]
    lpips = listed("metric")["lpips"]
    assert lpips["needs"] == ["weights vgg16-397923af.pth", "weights vgg.pth"] and not lpips["available"]
    for name in ("vgg19-dcbb9e9d.pth", "vgg16-397923af.pth", "vgg.pth"):
        (no_weights / name).write_bytes(b"")
    assert listed("extractor")["vgg19"]["available"] and listed("metric")["lpips"]["available"]


def test_vit_extractors_and_cmmd_need_the_extra_and_their_weights(no_weights) -> None:
    pytest.importorskip("timm")
    entries = listed("extractor")
    dino = entries["dinov2-vits14"]
    assert dino["needs"] == ["extra vit (timm)", "weights vit_small_patch14_dinov2.lvd142m.safetensors"] and not dino["available"]
    (no_weights / "vit_base_patch32_clip_224.openai.safetensors").write_bytes(b"")
    assert listed("extractor")["clip-vit-b32"]["available"]
    metrics = listed("metric")
    assert metrics["cmmd"]["available"] and "clip-vit-b32: extra vit (timm)" in metrics["cmmd"]["needs"]
    assert metrics["intra-fid"]["needs"][:2] == ["a conditional generator", "labelled data"]
    assert metrics["fid"]["available"]  # the classifier needs no file; inception-v3's is reported as missing
    assert any("inception-v3 (images over 32x32)" in n and "missing now" in n for n in metrics["fid"]["needs"])


def test_the_table_has_needs_and_availability_columns(no_weights) -> None:
    result = invoke("list", "extractor")
    assert "needs" in result.output and "available now" in result.output and "no: " in result.output
