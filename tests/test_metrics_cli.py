"""`ganforge fid`, `ganforge stats` and `ganforge train-classifier`, through click's runner."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from ganforge.errors import GanforgeError
from ganforge_builtins.classifier.extractor import Classifier
from ganforge_builtins.fid.commands import fid, stats
from ganforge_builtins.stats import FeatureStats, frechet_distance, load_stats

from .conftest import invoke


def image_folder(path, seed: int, count: int = 12, brightness: int = 255):
    path.mkdir()
    g = torch.Generator().manual_seed(seed)
    for i in range(count):
        pixels = (torch.rand(16, 16, generator=g) * brightness).to(torch.uint8).numpy()
        Image.fromarray(pixels, mode="L").save(path / f"{i:03d}.png")
    return path


def fid_value(output: str) -> float:
    assert output.startswith("FID: "), output
    return float(output.split()[1])


def test_fid_of_two_folders_matches_the_library(tmp_path, classifier_file) -> None:
    a, b = image_folder(tmp_path / "a", 0), image_folder(tmp_path / "b", 1, brightness=128)
    extractor = f"{{name: classifier, weights: {classifier_file}}}"
    result = CliRunner().invoke(fid, [str(a), str(b), "--extractor", extractor, "--batch-size", "5", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    network = Classifier(weights=classifier_file)
    images = [torch.stack([torch.from_numpy(np.array(Image.open(p)))[None] for p in sorted(d.iterdir())]) for d in (a, b)]
    features = [torch.cat([network.features(x[i : i + 5]) for i in range(0, len(x), 5)]) for x in images]  # same batches
    expected = frechet_distance(*(FeatureStats.from_features(f) for f in features))
    assert fid_value(result.stdout) == pytest.approx(expected, rel=1e-9)

    same = CliRunner().invoke(fid, [str(a), str(a), "--extractor", extractor])
    assert abs(fid_value(same.stdout)) < 1e-6


def test_stats_file_stands_in_for_its_folder(tmp_path, classifier_file) -> None:
    a, b = image_folder(tmp_path / "a", 0), image_folder(tmp_path / "b", 1, brightness=100)
    extractor = f"{{name: classifier, weights: {classifier_file}}}"
    written = CliRunner().invoke(stats, [str(b), "--out", str(tmp_path / "b.npz"), "--extractor", extractor])
    assert written.exit_code == 0, written.output
    assert load_stats(tmp_path / "b.npz").n == 12
    from_folder = CliRunner().invoke(fid, [str(a), str(b), "--extractor", extractor])
    from_file = CliRunner().invoke(fid, [str(a), str(tmp_path / "b.npz"), "--extractor", extractor])
    assert fid_value(from_file.stdout) == pytest.approx(fid_value(from_folder.stdout), rel=1e-9)


def test_stats_of_a_registered_dataset(tmp_path, classifier_file) -> None:
    out = tmp_path / "synthetic.npz"
    extractor = f"{{name: classifier, weights: {classifier_file}}}"
    result = CliRunner().invoke(stats, ["synthetic", "--samples", "40", "--out", str(out), "--extractor", extractor])
    assert result.exit_code == 0, result.output
    assert "40 samples, 768-d" in result.output and load_stats(out).sigma.shape == (768, 768)


def test_folder_without_images_is_a_user_error(tmp_path, classifier_file) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(fid, [str(tmp_path / "empty"), str(tmp_path / "empty"), "--extractor", f"{{name: classifier, weights: {classifier_file}}}"])
    assert isinstance(result.exception, GanforgeError) and "no image files" in str(result.exception)


def test_unknown_extractor_is_named(tmp_path) -> None:
    result = CliRunner().invoke(fid, [str(tmp_path), str(tmp_path), "--extractor", "inceptoin-v3"])
    assert isinstance(result.exception, GanforgeError) and "did you mean 'inception-v3'" in str(result.exception)


def test_train_classifier_command_writes_a_loadable_file(tmp_path, monkeypatch) -> None:
    from ganforge_builtins.classifier.commands import train_classifier_command

    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "clf.pt"
    result = CliRunner().invoke(train_classifier_command, ["{name: synthetic, num_classes: 4, size: 128}", "--out", str(out), "--epochs", "1", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.output
    loaded = Classifier(weights=str(out))
    assert loaded.num_classes == 4 and loaded.feature_dim == 768


def test_fid_of_two_npz_files_builds_no_network(tmp_path, classifier_file, monkeypatch) -> None:
    a, b = image_folder(tmp_path / "a", 0), image_folder(tmp_path / "b", 1, brightness=100)
    for folder in (a, b):
        written = CliRunner().invoke(stats, [str(folder), "--out", str(tmp_path / f"{folder.name}.npz"), "--extractor", "classifier", "--weights", classifier_file])
        assert written.exit_code == 0, written.output
    from_folders = CliRunner().invoke(fid, [str(a), str(b), "--extractor", "classifier", "--weights", classifier_file])
    import ganforge.artifacts.features as features

    def no_network(*args, **kwargs):
        raise AssertionError("a network was built for two .npz files")

    monkeypatch.setattr(features, "build_extractor", no_network)
    monkeypatch.setenv("GANFORGE_WEIGHTS", str(tmp_path / "nowhere"))  # inception-v3 (the default) would fail
    result = CliRunner().invoke(fid, [str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["fid"] == pytest.approx(fid_value(from_folders.stdout), rel=1e-12)  # 12 < 768: the files keep the vectors
    provenance = record["provenance"]
    assert provenance["route"] == "low-rank" and provenance["extractor"] is None
    assert [s["kind"] for s in provenance["sources"]] == ["npz", "npz"] and all(len(s["sha256"]) == 16 for s in provenance["sources"])
    made_with = provenance["sources"][0]["made_with"]
    assert made_with["extractor"]["key"].startswith("classifier") and made_with["source"]["files"] == 12


def test_fid_help_says_how_to_give_weights() -> None:
    for command in (fid, stats):
        text = CliRunner().invoke(command, ["--help"]).output
        assert "--weights" in text and "$GANFORGE_WEIGHTS" in text and "pt_inception-2015-12-05-6726825d.pth" in text


#: Relative FID spread between batch sizes 1, 7 and 50 measured on this test's data (float32
#: features, float64 statistics): 8.1e-8 on a 2-core x86 CPU; the bound leaves 12x room.
BATCH_SIZE_BOUND = 1e-6


def test_fid_does_not_depend_on_the_batch_size(tmp_path, classifier_file) -> None:
    a, b = image_folder(tmp_path / "a", 2, count=60), image_folder(tmp_path / "b", 3, count=60, brightness=160)
    values = []
    for batch in (1, 7, 50):
        result = CliRunner().invoke(fid, [str(a), str(b), "--extractor", "classifier", "--weights", classifier_file, "--batch-size", str(batch), "--device", "cpu"])
        assert result.exit_code == 0, result.output
        values.append(fid_value(result.stdout))
    spread = (max(values) - min(values)) / abs(values[0])
    print(f"FID {values}, relative spread {spread:.2e}")
    assert spread < BATCH_SIZE_BOUND


def test_fid_warns_when_the_statistics_come_from_different_extractors(tmp_path, classifier_file) -> None:
    from ganforge_builtins.stats import save_stats

    a = image_folder(tmp_path / "a", 0)
    written = CliRunner().invoke(stats, [str(a), "--out", str(tmp_path / "a.npz"), "--extractor", "classifier", "--weights", classifier_file])
    assert written.exit_code == 0, written.output
    other = load_stats(tmp_path / "a.npz")
    save_stats(FeatureStats(other.mu + 0.1, other.sigma, other.n, other.features), tmp_path / "b.npz", {"extractor": {"key": "inception-v3-0123"}})
    result = CliRunner().invoke(fid, [str(tmp_path / "a.npz"), str(tmp_path / "b.npz")])
    assert result.exit_code == 0 and "come from different extractors" in result.stderr
    same = CliRunner().invoke(fid, [str(tmp_path / "a.npz"), str(tmp_path / "a.npz")])
    assert "different extractors" not in same.stderr


def test_stats_writes_only_a_new_npz_file(tmp_path, classifier_file) -> None:
    folder = image_folder(tmp_path / "a", 0)
    extractor = f"{{name: classifier, weights: {classifier_file}}}"
    wrong = invoke("stats", str(folder), "--out", str(tmp_path / "ref.npy"), "--extractor", extractor)
    assert wrong.exit_code == 2
    assert wrong.stderr.strip() == (
        f"Error: --out {tmp_path / 'ref.npy'}: statistics files end in .npz (ganforge fid and pytorch-fid recognise them by it); e.g. --out ref.npz"
    )
    out = tmp_path / "ref.npz"
    out.write_bytes(b"mine")
    refused = invoke("stats", str(folder), "--out", str(out), "--extractor", extractor)
    assert refused.exit_code == 2 and refused.stderr.strip() == f"Error: {out} exists; pass --overwrite to replace it, or choose another --out"
    assert out.read_bytes() == b"mine"
    replaced = invoke("stats", str(folder), "--out", str(out), "--extractor", extractor, "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert load_stats(out).n == 12


def test_train_classifier_keeps_an_existing_weights_file(tmp_path, monkeypatch) -> None:
    import ganforge_builtins.classifier.training as training

    def no_training(*args, **kwargs):
        raise AssertionError("trained before refusing to replace the file")

    monkeypatch.setattr(training, "train_classifier", no_training)
    out = tmp_path / "clf.pt"
    out.write_bytes(b"mine")
    result = invoke("train-classifier", "synthetic", "--out", str(out), "--device", "cpu")
    assert result.exit_code == 2 and result.stderr.strip() == f"Error: {out} exists; pass --overwrite to replace it, or choose another --out"
    assert out.read_bytes() == b"mine"


def test_stats_of_a_folder_that_is_not_there_says_so(tmp_path) -> None:
    result = invoke("stats", str(tmp_path / "nothere"), "--out", str(tmp_path / "x.npz"))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: {tmp_path / 'nothere'}: no such folder; SOURCE is a folder of images or a dataset (see `ganforge list dataset`)"
    (tmp_path / "a.png").write_bytes(b"")
    assert "a.png: not a folder;" in invoke("stats", str(tmp_path / "a.png"), "--out", str(tmp_path / "x.npz")).stderr


def test_stats_of_a_dataset_written_as_a_mapping_shows_its_progress(tmp_path, classifier_file) -> None:
    source = "{name: synthetic, num_classes: 10, size: 24}"
    out = tmp_path / "s.npz"
    result = invoke("stats", source, "--extractor", f"{{name: classifier, weights: {classifier_file}}}", "--out", str(out), "--device", "cpu", "--samples", "24")
    assert result.exit_code == 0, result.output  # the label `{name: synthetic ...} train` is neither a format string nor markup
    assert load_stats(out).n == 24
