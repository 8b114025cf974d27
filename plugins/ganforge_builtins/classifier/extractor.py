"""The domain-classifier feature extractor: a small CNN trained on the dataset itself,
for small images (28×28, 32×32) where Inception features mean little."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from ganforge import Dataset, hookimpl
from ganforge.cache import cache_dir, dataset_key
from ganforge.errors import GanforgeError
from ganforge.files import atomic_write
from ganforge.hook_extractor import HookExtractor, to_unit_range
from ganforge.interfaces.extractor import FeatureExtractor
from ganforge.types import NonNegativeInt, PositiveInt
from ganforge.weights import load_state_dict
from ganforge_builtins.classifier.net import EMBEDDING_LAYER, SmallClassifierNet


def load_classifier(path: Path | str) -> tuple[SmallClassifierNet, dict]:
    """A classifier saved by ``ganforge train-classifier`` (or the cache), and its checkpoint."""
    checkpoint = load_state_dict(Path(path))
    if "state_dict" not in checkpoint or "config" not in checkpoint:
        raise GanforgeError(f"{path}: not a ganforge classifier file; make one with `ganforge train-classifier DATASET --out FILE`")
    network = SmallClassifierNet(**checkpoint["config"])
    network.load_state_dict(checkpoint["state_dict"], strict=True)
    return network.eval(), checkpoint


def cached_classifier_path(dataset: Dataset) -> Path:
    """Where the classifier trained on ``dataset`` is cached."""
    return cache_dir("classifiers", f"{dataset_key(dataset, 'train')}.pt")


class Classifier(HookExtractor):
    """Domain classifier for small images: 768-d penultimate-layer features and class logits.

    Without ``weights`` it is trained on the dataset's training split the first time a
    metric uses it (progress shown; ~2 epochs) and cached under
    ``$GANFORGE_CACHE/classifiers/`` keyed by the dataset's contents, so later runs reuse it.

    :param weights: a file from ``ganforge train-classifier``; ``None`` trains or reuses the cached one.
    :param epochs: training epochs when it has to be trained.
    :param seed: training seed.
    """

    def __init__(self, weights: str | None = None, epochs: PositiveInt = 2, seed: NonNegativeInt = 0) -> None:
        FeatureExtractor.__init__(self)
        self.epochs = epochs
        self.seed = seed
        self.test_accuracy: float | None = None
        self.network = None
        if weights is not None:
            self._use(*load_classifier(weights))

    def _use(self, network: SmallClassifierNet, checkpoint: dict) -> None:
        self.attach(network, [EMBEDDING_LAYER])
        self.feature_dim = network.config["embedding_dim"]
        self.num_classes = network.config["num_classes"]
        self.test_accuracy = checkpoint.get("test_accuracy")

    def prepare(self, dataset: Dataset | None, device: torch.device | str) -> Classifier:
        """Load the cached classifier for ``dataset``, or train and cache it, then move to ``device``."""
        if self.network is None:
            if dataset is None:
                raise GanforgeError("the classifier extractor needs `weights:` or a dataset to train on")
            path = cached_classifier_path(dataset)
            if not path.is_file():
                self._train_and_cache(dataset, path, device)
            self._use(*load_classifier(path))
        return self.to(device).eval()

    def _train_and_cache(self, dataset: Dataset, path: Path, device: torch.device | str) -> None:
        from ganforge_builtins.classifier.training import train_classifier

        trained = train_classifier(dataset, epochs=self.epochs, device=device, seed=self.seed)
        atomic_write(path, lambda f: torch.save(trained.checkpoint(path.stem), f))

    @property
    def device(self) -> torch.device:
        if self.network is None:
            raise GanforgeError("the classifier extractor has no network yet: give `weights:` or call prepare(dataset, device)")
        return super().device

    def preprocess(self, images: Tensor) -> Tensor:
        # Quantised like a saved PNG, then back to the [-1, 1] range the network was trained on.
        return to_unit_range(images, quantise=True) * 2 - 1


@hookimpl
def register_extractors(register):
    register("classifier", Classifier)
