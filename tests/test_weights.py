"""Where pretrained weights are found: an explicit path, $GANFORGE_WEIGHTS, torch hub's folder,
the Hugging Face hub cache; and `ganforge list` calls a file available exactly when loading finds it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganforge.errors import GanforgeError
from ganforge.requirements import weights_missing
from ganforge.weights import cached_weights, find_hub_weights, find_weights


@pytest.fixture
def places(tmp_path, monkeypatch) -> dict[str, Path]:
    folders = {"env": tmp_path / "weights", "torch": tmp_path / "torch" / "hub" / "checkpoints"}
    for folder in folders.values():
        folder.mkdir(parents=True)
    monkeypatch.setenv("GANFORGE_WEIGHTS", str(folders["env"]))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return folders


def test_the_environment_folder_comes_before_torch_hub(places) -> None:
    assert cached_weights("net.pth") is None
    (places["torch"] / "net.pth").write_bytes(b"hub")
    assert cached_weights("net.pth") == places["torch"] / "net.pth"
    (places["env"] / "net.pth").write_bytes(b"env")
    assert find_weights("net.pth", url=None) == places["env"] / "net.pth"


def test_an_explicit_path_wins_and_must_exist(places, tmp_path) -> None:
    (places["env"] / "net.pth").write_bytes(b"env")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "net.pth").write_bytes(b"mine")
    assert find_weights("net.pth", url=None, explicit=str(mine)) == mine / "net.pth"
    with pytest.raises(GanforgeError, match=r"weights file .*absent\.pth does not exist; fix the `weights:` path"):
        find_weights("net.pth", url=None, explicit=str(tmp_path / "absent.pth"))


def test_absent_weights_say_where_to_put_them(places) -> None:
    with pytest.raises(GanforgeError, match=r"net\.pth not found and could not be downloaded; put it in .*checkpoints"):
        find_weights("net.pth", url=None)
    with pytest.raises(GanforgeError, match=r"model\.safetensors not found; .*huggingface-cli download org/model model\.safetensors"):
        find_hub_weights("model.safetensors", "org/model")


@pytest.mark.parametrize("where", ["env", "torch"])
def test_listing_and_loading_agree_for_hub_models(places, where) -> None:
    """A hub model's file in either folder is both listed as available and loaded (the listing
    once checked torch hub's folder while loading did not)."""
    check = weights_missing("vit.safetensors", hub_id="org/vit")
    assert check() is not None
    (places[where] / "vit.safetensors").write_bytes(b"")
    assert check() is None
    assert find_hub_weights("vit.safetensors", "org/vit") == places[where] / "vit.safetensors"
