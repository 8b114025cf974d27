"""The classifier extractor: training on first use, the per-dataset cache, weights files."""

from __future__ import annotations

import pytest
import torch

import ganforge_builtins.classifier.training as training
from ganforge.errors import GanforgeError
from ganforge_builtins.classifier.extractor import Classifier, cached_classifier_path, load_classifier
from ganforge_builtins.classifier.net import SmallClassifierNet
from ganforge_builtins.data.synthetic import SyntheticImages


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_network_has_about_a_million_parameters_and_takes_both_sizes() -> None:
    grey, colour = SmallClassifierNet(1, 10), SmallClassifierNet(3, 10)
    assert 0.9e6 < sum(p.numel() for p in grey.parameters()) < 1.2e6
    assert grey(torch.zeros(2, 1, 28, 28)).shape == (2, 10) and colour(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_trained_once_on_first_use_then_reused_from_the_cache(monkeypatch) -> None:
    dataset = SyntheticImages(image_size=28, size=256, num_classes=4)
    extractor = Classifier(epochs=1).prepare(dataset, "cpu")
    assert cached_classifier_path(dataset).is_file()
    assert extractor.test_accuracy is not None and 0.0 <= extractor.test_accuracy <= 1.0
    images = dataset.load("test").samples[:16]
    features, logits = extractor.features_and_logits(images)
    assert features.shape == (16, 768) and logits.shape == (16, 4) and (features >= 0).all()

    def no_training(*args, **kwargs):
        raise AssertionError("trained again instead of reusing the cache")

    monkeypatch.setattr(training, "train_classifier", no_training)
    reused = Classifier().prepare(dataset, "cpu")
    assert torch.equal(reused.features(images), features)
    other = SyntheticImages(image_size=28, size=256, num_classes=4, seed=1)
    assert cached_classifier_path(other) != cached_classifier_path(dataset)  # keyed by contents


def test_weights_file_round_trip_with_weights_only(tmp_path) -> None:
    network = SmallClassifierNet(3, 5)
    trained = training.TrainedClassifier(network.eval(), 0.5, 1.0)
    torch.save(trained.checkpoint("x"), tmp_path / "clf.pt")
    torch.load(tmp_path / "clf.pt", weights_only=True)  # plain tensors and numbers only
    loaded, checkpoint = load_classifier(tmp_path / "clf.pt")
    assert checkpoint["test_accuracy"] == 0.5
    extractor = Classifier(weights=str(tmp_path / "clf.pt"))
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        expected = network(torch.round((images + 1) * 127.5) / 127.5 - 1)
    torch.testing.assert_close(extractor.logits(images), expected, rtol=1e-5, atol=1e-5)


def test_without_weights_or_dataset_the_error_says_what_to_do() -> None:
    with pytest.raises(GanforgeError, match="weights"):
        Classifier().prepare(None, "cpu")
    with pytest.raises(GanforgeError, match="no class labels"):
        Classifier().prepare(SyntheticImages(image_size=28, num_classes=0), "cpu")


@pytest.mark.slow
def test_two_epochs_on_fashion_mnist_reach_90_percent() -> None:
    from ganforge_builtins.data.idx import FashionMNIST

    trained = training.train_classifier(FashionMNIST(download=False), epochs=2)
    assert trained.test_accuracy >= 0.90
