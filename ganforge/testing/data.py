"""Conformance of datasets: shapes, dtypes and ranges of the samples a split gives, labels that
match the classes, determinism, a streamed split read by DataLoader workers, and the sample
picture the trainer writes."""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor

from ganforge.errors import GanforgeError
from ganforge.interfaces import Dataset, DataSplit, to_model_range
from ganforge.interfaces.dataset import Sample, Split
from ganforge.interfaces.reading import loader, sample_generator
from ganforge.testing.constructor import Setup, check_constructor, construct
from ganforge.testing.failures import Checker, expect


def check_dataset(factory: Callable[..., Dataset], /, *, setup: Setup | None = None, **params: Any) -> None:
    """Check a dataset class built with ``params``; raises
    :class:`~ganforge.testing.ConformanceError` listing every failed check, or
    :class:`~ganforge.testing.ComponentUnavailable` when its data cannot be found.

    Example: ``check_dataset(ImageFolder, root="tests/data/images")``.
    """
    setup = setup or Setup()
    checker = Checker("dataset", factory)
    check_constructor(checker, factory)
    dataset, kwargs = construct(checker, factory, params, setup)
    found = len(checker.problems)
    with checker.check("interface"):
        expect(isinstance(dataset, Dataset), f"builds a {type(dataset).__name__}, not a ganforge.Dataset subclass")
        shape = tuple(dataset.image_shape)
        expect(bool(shape) and all(isinstance(s, int) and s > 0 for s in shape), f"image_shape must be positive ints set in the constructor, got {shape!r}")
        names = tuple(dataset.class_names)
        expect(all(isinstance(c, str) for c in names), "class_names must be strings")
        expect(dataset.num_classes == len(names), f"num_classes is {dataset.num_classes} but there are {len(names)} class_names")
    if len(checker.problems) > found:  # the other checks would only repeat it
        checker.finish()
    split: Split | None = None
    with checker.check("load", needs_resources=True):
        split = dataset.load("train")
        _expect_split(split, dataset, "train")
    with checker.check("test split"):
        try:
            other = dataset.load("test")
        except GanforgeError:
            other = None  # a dataset without a test split says so with a GanforgeError
        if other is not None:
            _expect_split(other, dataset, "test")
    if split is None or len(checker.problems) > found:
        checker.finish()
    with checker.check("reproducible"):
        twin, _ = construct(checker, factory, kwargs, setup, seed=setup.seed + 1)
        again = twin.load("train")
        expect(len(again) == len(split), f"built again it has {len(again)} samples, not {len(split)}")
        for index in _probes(split):
            expect(torch.equal(again.get(index).image, split.get(index).image),
                   f"built again (under another torch seed) it gives a different sample {index}; seed them from a parameter")  # fmt: skip
        expect(
            (again.labels is None and split.labels is None) or (again.labels is not None and split.labels is not None and torch.equal(again.labels, split.labels)),
            "built again it loads different labels",
        )
        expect(again.fingerprint() == split.fingerprint(), "built again it has another fingerprint(); digest only what the data is")
    if not isinstance(split, DataSplit):
        with checker.check("streamed"):
            _expect_streams(split)
    with checker.check("save_samples"):
        samples = to_model_range(torch.stack([split.get(i).image for i in range(min(8, len(split)))]))
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "samples.png"
            dataset.save_samples(samples, path, 4)
            expect(path.is_file() and path.stat().st_size > 0, f"save_samples(samples, {path.name!r}, nrow) wrote no file at the given path")
    checker.finish()


def _probes(split: Split) -> list[int]:
    """The samples the kit reads one by one: the first, a middle one and the last."""
    return sorted({0, len(split) // 2, len(split) - 1})


def _expect_streams(split: Split) -> None:
    """What the trainer's DataLoader workers need of a streamed split: it pickles, ``get`` is
    deterministic without a generator and repeatable with one, and two worker processes read
    the same samples the split gives here."""
    try:
        pickle.dumps(split)
    except Exception as exc:  # noqa: BLE001 - any pickling failure is the finding
        expect(False, f"the split cannot be pickled for DataLoader worker processes ({type(exc).__name__}: {exc}); hold paths, not open files")
    index = len(split) - 1
    expect(torch.equal(split.get(index).image, split.get(index).image), "get(index) without a generator gives different samples; it must be deterministic")
    drawn = [split.get(index, sample_generator(0, epoch, index)).image for epoch in (0, 0, 1)]
    expect(torch.equal(drawn[0], drawn[1]), "get(index, generator) differs for two generators of one seed; draw random choices from the generator only")
    if not split.augments:
        expect(torch.equal(drawn[0], split.get(index).image), "get(index, generator) differs from get(index), but augments is False; set augments = True")
    batches = [[(0, i) for i in _probes(split)]]
    (batch,) = list(loader(split, batches, workers=2, augment=False))
    expect(torch.equal(batch.samples, torch.stack([split.get(i).image for i in _probes(split)])), "DataLoader worker processes read other samples than get() here")


def _expect_split(split: Any, dataset: Dataset, name: str) -> None:
    expect(isinstance(split, Split), f"load({name!r}) returned {type(split).__name__}, expected a Split (e.g. a DataSplit)")
    expect(len(split) >= 1, f"the {name} split is empty")
    labels, shape = split.labels, tuple(dataset.image_shape)
    for index in _probes(split):
        sample = split.get(index)
        expect(isinstance(sample, Sample), f"{name}.get({index}) returned {type(sample).__name__}, expected a ganforge.interfaces.dataset.Sample")
        _expect_images(sample.image[None], shape, f"{name} sample {index}")
    if isinstance(split, DataSplit):
        _expect_images(split.samples, shape, f"{name} samples")
    if dataset.num_classes:
        expect(labels is not None, f"the dataset has {dataset.num_classes} classes but load({name!r}) gives no labels")
        expect(labels.dtype == torch.int64 and tuple(labels.shape) == (len(split),), f"{name} labels must be int64 of shape (N,), got {labels.dtype} {tuple(labels.shape)}")
        expect(int(labels.min()) >= 0 and int(labels.max()) < dataset.num_classes, f"{name} labels must lie in [0, {dataset.num_classes})")
    else:
        expect(labels is None, f"the dataset has no class_names but load({name!r}) gives labels; set class_names")
    expect(isinstance(split.fingerprint(), str) and bool(split.fingerprint()), "fingerprint() must return a non-empty string")


def _expect_images(samples: Tensor, shape: tuple[int, ...], what: str) -> None:
    expect(samples.ndim == len(shape) + 1 and tuple(samples.shape[1:]) == shape, f"{what} have shape {tuple(samples.shape)}, expected (N, *image_shape) = (N, {', '.join(map(str, shape))})")
    expect(samples.dtype == torch.uint8 or samples.is_floating_point(), f"{what} must be uint8 [0, 255] or float [-1, 1], got {samples.dtype}")
    if samples.is_floating_point():
        expect(bool(torch.isfinite(samples).all()), f"{what} contain NaN or infinity")
        low, high = float(samples.min()), float(samples.max())
        expect(low >= -1 and high <= 1, f"float {what} must lie in [-1, 1], got [{low:.4g}, {high:.4g}]")
